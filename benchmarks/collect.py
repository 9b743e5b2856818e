"""Collector benchmark: events/s through each collection path against plain ingest.

    .venv/bin/python benchmarks/collect.py [--leads 10000] [--store-dir DIR]

Generates N lead journeys (collectors.sample, seeded) as CloudEvents, then, each into a
fresh SQLite store, in the same run:

- baseline: the `baton ingest` pipeline (`collectors.ingest.ingest`) of the CloudEvents file;
- kong file tail: the same events as Kong file-log lines, tailed by `kong_file_tail`,
  against `baton ingest --format kong` of the same file;
- nats / rabbitmq / redis: the events published first (not timed), then drained by the bus
  collector (fetch, decode, commit, acknowledge);
- receiver: `baton receive` in a subprocess, the events POSTed in batches of 100 by one
  client; per-request latency p50 / p99.

Prints a table of events/s and the ratio to the baseline (targets: >= 0.5 for the bus and
file paths; receiver >= 2,000 events/s with p99 < 100 ms). Needs the brokers on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.bus import bus_collector  # noqa: E402
from collectors.formats import FORMATS  # noqa: E402
from collectors.gateway import kong_file_tail  # noqa: E402
from collectors.ingest import ingest, parse_cloudevent, read_records  # noqa: E402
from collectors.mapping import coerce_time  # noqa: E402
from collectors.runner import drain  # noqa: E402
from collectors.sample import generate  # noqa: E402
from collectors.sources import KongSource, NatsSource, RabbitSource, RedisSource  # noqa: E402
from collectors.store import Store  # noqa: E402

BATCH = 1000
Row = tuple[str, int, float, str]


def kong_entry(event: dict[str, Any]) -> dict[str, Any]:
    started = coerce_time(event["time"], "time") // 1000
    return {"request": {"id": event["id"], "method": "POST", "uri": "/crm/leads",
                        "headers": {"x-lead-id": event.get("correlationid") or ""}},
            "response": {"status": 201}, "upstream_status": "201",
            "latencies": {"request": 12, "kong": 1, "proxy": 10},
            "started_at": started, "route": {"name": "lead-intake"},
            "service": {"name": "lead-intake"}, "source": "upstream"}


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def fresh_store(folder: Path, name: str) -> Store:
    return Store.open(f"sqlite:///{folder / (name + '.db')}")


def run_ingest(folder: Path, name: str, path: Path, parser: Any) -> tuple[int, float]:
    store = fresh_store(folder, name)
    with path.open("rb") as stream:
        counts, seconds = timed(lambda: ingest(store, read_records(stream, str(path)),
                                               source=name, format=name, parser=parser))
    store.close()
    return counts.accepted, seconds


def run_tail(folder: Path, path: Path) -> tuple[int, float]:
    store = fresh_store(folder, "tail")
    source = KongSource(kind="kong", file=str(path), batch=5000,
                        key=("request.headers.x-lead-id",))
    counts, seconds = timed(lambda: drain(store, kong_file_tail(store, "kong", source)))
    store.close()
    return counts.accepted, seconds


def run_bus(folder: Path, kind: str, lines: list[bytes]) -> tuple[int, float]:
    tag = uuid.uuid4().hex[:8]
    source, cleanup = PUBLISHERS[kind](tag, lines)
    store = fresh_store(folder, kind)
    collector = bus_collector(store, kind, source)
    collector.timeout = 0.1  # the final, empty fetch waits this long
    try:
        counts, seconds = timed(lambda: drain(store, collector))
    finally:
        collector.close()
        cleanup()
    store.close()
    return counts.accepted, seconds


def publish_nats(tag: str, lines: list[bytes]) -> tuple[Any, Callable[[], None]]:
    import nats

    stream, subject = f"BENCH{tag}", f"bench{tag}"

    async def run(action: Callable[[Any], Any]) -> None:
        client = await nats.connect("nats://127.0.0.1:4222")
        await action(client.jetstream())
        await client.close()

    async def publish(js: Any) -> None:
        await js.add_stream(name=stream, subjects=[f"{subject}.>"])
        futures = [await js.publish_async(f"{subject}.e", line) for line in lines]
        await asyncio.gather(*futures)

    asyncio.run(run(publish))
    source = NatsSource(kind="nats", stream=stream, subject=f"{subject}.>", durable="bench",
                        batch=BATCH)
    return source, lambda: asyncio.run(run(lambda js: js.delete_stream(stream)))


def publish_rabbit(tag: str, lines: list[bytes]) -> tuple[Any, Callable[[], None]]:
    import pika

    queue = f"baton.bench.{tag}"
    connection = pika.BlockingConnection(pika.URLParameters("amqp://127.0.0.1:5672/%2F"))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True)
    props = pika.BasicProperties(content_type="application/cloudevents+json")
    for line in lines:
        channel.basic_publish("", queue, line, props)

    def cleanup() -> None:
        channel.queue_delete(queue)
        connection.close()

    return RabbitSource(kind="rabbitmq", queue=queue, batch=BATCH), cleanup


def publish_redis(tag: str, lines: list[bytes]) -> tuple[Any, Callable[[], None]]:
    import redis

    key = f"baton:bench:{tag}"
    client = redis.Redis()
    pipe = client.pipeline(transaction=False)
    for line in lines:
        pipe.xadd(key, {"event": line})
    pipe.execute()
    return RedisSource(kind="redis", stream=key, batch=BATCH), lambda: client.delete(key)


PUBLISHERS = {"nats": publish_nats, "rabbitmq": publish_rabbit, "redis": publish_redis}


def run_receiver(folder: Path, lines: list[bytes], per_request: int = 100
                 ) -> tuple[int, float, float, float]:
    """(accepted, seconds, p50 ms, p99 ms) posting batches to `baton receive`."""
    import requests

    (folder / "sources.yaml").write_text("version: baton/v1\nsources:\n  push:\n"
                                         "    kind: cloudevents\n    token_env: BENCH_TOKEN\n")
    port = free_port()
    env = {**os.environ, "BENCH_TOKEN": "bench-secret"}
    baton = Path(sys.executable).with_name("baton")
    server = subprocess.Popen([str(baton), "--config", str(folder), "--store",
                               f"sqlite:///{folder / 'receiver.db'}", "receive", "--port",
                               str(port)], env=env)
    session = requests.Session()
    session.headers.update({"Authorization": "Bearer bench-secret",
                            "Content-Type": "application/cloudevents-batch+json"})
    url = f"http://127.0.0.1:{port}/v1/events"
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", session)
        bodies = [b"[" + b",".join(lines[i:i + per_request]) + b"]"
                  for i in range(0, len(lines), per_request)]
        latencies, accepted = [], 0
        started = time.perf_counter()
        for body in bodies:
            sent = time.perf_counter()
            reply = session.post(url, data=body, timeout=30)
            latencies.append(time.perf_counter() - sent)
            accepted += reply.json()["accepted"]
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(10)
    latencies.sort()
    return (accepted, seconds, 1000 * latencies[len(latencies) // 2],
            1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, session: Any) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            session.get(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"the receiver did not start at {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000,
                        help="lead journeys (default 10,000: about 61,000 events)")
    parser.add_argument("--store-dir", help="folder for the SQLite stores (default: a temp)")
    args = parser.parse_args()
    folder = Path(args.store_dir or tempfile.mkdtemp(prefix="baton-collect-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    sample = list(generate(args.leads, seed=11, activations=False))
    unique = list({e["id"]: e for e in sample}.values())
    lines = [orjson.dumps(e) for e in unique]
    ce_file, kong_file = folder / "events.jsonl", folder / "kong.jsonl"
    ce_file.write_bytes(b"\n".join(lines) + b"\n")
    kong_file.write_bytes(b"".join(orjson.dumps(kong_entry(e)) + b"\n" for e in unique))
    print(f"{len(unique):,} unique events from {args.leads:,} leads; stores in {folder}\n")
    base = run_ingest(folder, "baseline", ce_file, parse_cloudevent)
    kong_base = run_ingest(folder, "ingest-kong", kong_file, FORMATS["kong"])
    rows: list[Row] = [("baton ingest (cloudevents)", *base, "baseline")]
    rows.append(("baton ingest --format kong", *kong_base, ""))
    tail = run_tail(folder, kong_file)
    rows.append(("kong file tail", *tail, f"{rate(tail) / rate(kong_base):.2f} x ingest kong"))
    for kind in ("nats", "rabbitmq", "redis"):
        result = run_bus(folder, kind, lines)
        rows.append((f"bus: {kind}", *result, f"{rate(result) / rate(base):.2f} x baseline"))
    accepted, seconds, p50, p99 = run_receiver(folder, lines)
    rows.append(("receiver, batches of 100", accepted, seconds,
                 f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
                 f"{accepted / seconds / rate(base):.2f} x baseline"))
    print_table(rows)


def rate(result: tuple[int, float]) -> float:
    return result[0] / result[1] if result[1] else 0.0


def print_table(rows: list[Row]) -> None:
    print(f"{'path':<28} {'events':>8} {'seconds':>8} {'events/s':>10}  note")
    for name, count, seconds, note in rows:
        print(f"{name:<28} {count:>8,} {seconds:>8.2f} {count / seconds:>10,.0f}  {note}")


if __name__ == "__main__":
    main()
