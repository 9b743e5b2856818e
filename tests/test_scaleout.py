"""Several processes on one PostgreSQL store: two `baton serve --only collectors` sharing the
brokers' consumer groups (a NATS durable consumer, a Redis Streams group) and one
`baton serve --only evaluator`. Every record is stored once, both collectors take part, the
evaluator's /metrics counts what they took in, and the connections stay within the pools."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis
from service_helpers import (
    NatsStream,
    baton_serve,
    bus_events,
    config_dir,
    json_lines,
    labels,
    scrape,
    wait_for,
)
from sqlalchemy import create_engine, text

from app.service import pool_options
from collectors.store import Store, WriteCounts
from collectors.tables import events

NATS_TOTAL, REDIS_TOTAL = 2000, 1000


@pytest.fixture
def redis_stream() -> Iterator[str]:
    key = f"baton:scale:{uuid.uuid4().hex[:10]}"
    yield key
    redis.Redis().delete(key)


def publish(stream: NatsStream, redis_key: str) -> None:
    """Both buses fed in small chunks while the collectors run."""
    client = redis.Redis()
    for start in range(0, NATS_TOTAL, 100):
        stream.publish(bus_events(stream.tag, 100, start))
        if start < REDIS_TOTAL:
            pipe = client.pipeline()
            for body in bus_events(f"r{stream.tag}", 100, start):
                pipe.xadd(redis_key, {"event": body.decode()})
            pipe.execute()
        time.sleep(0.1)


def connections(url: str, name: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE "
                                  "application_name = :name"), {"name": name}).scalar()
    engine.dispose()
    return int(count or 0)


def test_two_collector_processes_share_the_consumer_groups_with_one_evaluator(
        postgres_url: str, tmp_path: Path, redis_stream: str) -> None:
    stream = NatsStream()
    name = f"baton-scale-{stream.tag}"
    url = f"{postgres_url}&application_name={name}"
    config = config_dir(tmp_path / "config")
    (config / "sources.yaml").write_text(
        "version: baton/v1\nsources:\n" + stream.source_yaml(batch=50, poll=0.2)
        + f"  enrich:\n    kind: redis\n    stream: {redis_stream}\n    group: g{stream.tag}\n"
        "    batch: 50\n    claim_idle: 5s\n    poll: 0.2\n")
    Store.open(url).close()
    most = 0
    try:
        with ExitStack() as processes:
            collectors = [processes.enter_context(baton_serve(
                config, url, "--only", "collectors", "--every", "1s", "--log-format", "json"))
                for _ in range(2)]
            evaluator, base = processes.enter_context(baton_serve(
                config, url, "--only", "evaluator", "--every", "2s"))
            feeder = threading.Thread(target=publish, args=(stream, redis_stream))
            feeder.start()
            store = Store.open(postgres_url)
            while feeder.is_alive() or store.count(events) < NATS_TOTAL + REDIS_TOTAL:
                most = max(most, connections(postgres_url, name))
                if not feeder.is_alive():
                    wait_for(lambda: store.count(events) >= NATS_TOTAL + REDIS_TOTAL, 30)
                time.sleep(0.2)
            feeder.join()
            metrics = wait_for(lambda: _counted(f"{base}/metrics"))
            outputs = []
            for process, _ in [*collectors, (evaluator, base)]:
                process.send_signal(signal.SIGTERM)
                out, err = process.communicate(timeout=15)
                assert process.returncode == 0, err
                outputs.append(out)
    finally:
        stream.delete()
    assert store.count(events) == NATS_TOTAL + REDIS_TOTAL  # each record once
    per_process = [_sum(json_lines(out)) for out in outputs[:2]]
    assert all(accepted > 0 for accepted, _ in per_process), per_process  # both took part
    assert sum(accepted for accepted, _ in per_process) == NATS_TOTAL + REDIS_TOTAL
    assert sum(duplicate for _, duplicate in per_process) == 0
    assert metrics[labels(source="bus", outcome="accepted")] == NATS_TOTAL
    assert metrics[labels(source="enrich", outcome="accepted")] == REDIS_TOTAL
    pools = [pool_options(url, 2, False), pool_options(url, 0, False)]
    bound = 2 * sum(pools[0].values()) + sum(pools[1].values())
    assert 0 < most <= bound, (most, bound)


def _counted(url: str) -> dict | None:
    """The source counters once both sources' totals are in."""
    counters = scrape(url).get("baton_source_events_total", {})
    accepted = sum(v for k, v in counters.items() if ("outcome", "accepted") in k)
    return counters if accepted >= NATS_TOTAL + REDIS_TOTAL else None


def _sum(lines: list[dict]) -> tuple[int, int]:
    """(accepted, duplicate) over every `collected` line of one process."""
    collected = [line["counts"] for line in lines if line["event"] == "collected"]
    return (sum(c["accepted"] for c in collected), sum(c["duplicate"] for c in collected))


def test_a_source_counted_by_several_writers_at_once_loses_no_count(store: Store) -> None:
    store.record_source("bus", "nats", WriteCounts())

    def count() -> None:
        for _ in range(40):
            store.record_source("bus", "nats", WriteCounts(1, 2, 0), newest_event_us=1)

    writers = [threading.Thread(target=count) for _ in range(6)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT accepted, duplicate FROM source_status")).one()
    assert tuple(row) == (240, 480)
