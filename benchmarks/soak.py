"""Soak: `baton serve` fed at a steady rate for minutes, on PostgreSQL.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--rate 500] [--every 30s] [--store URL]

One `baton serve --every 30s --http ... --log-format json` process (collectors, evaluator and,
on its HTTP port, the receiver) is fed live lead journeys for `--minutes` at `--rate` events/s
in all, through three real paths: form submissions POSTed to the receiver (`/v1/events`),
gateway entries appended to a Kong file-log it tails, and the bus events (created, enriched,
upserted, assigned; plus product activations) published to NATS JetStream. Then the feed
stops, the store is given a minute to catch up, and the process gets SIGTERM.

Reported: evaluations (count, duration p50 / max, start delay against the schedule), the
age of the newest evaluation seen at each scrape of /metrics (what a dashboard shows), each
source's lag, the process's RSS after warm-up (the first evaluation) and at the end (target:
growth <= 10%), events sent vs stored per path (lost / doubled: target 0 / 0, plus the
duplicate deliveries the store absorbed), and how long SIGTERM took (target: < 10 s, exit 0).
Without --store, a fresh schema of the local PostgreSQL (postgresql+psycopg://root@127.0.0.1
/test) is used and dropped afterwards. Needs NATS JetStream on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collect import free_port  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from collectors.schema import format_time  # noqa: E402
from collectors.store import Store, now_us  # noqa: E402
from collectors.tables import evaluation_runs, events, source_status  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = "postgresql+psycopg://root@127.0.0.1:5432/test"
TOKEN = "soak-token"
# (stage event type, seconds after the previous stage): the bus stages after the gateway
BUS_HOPS = (("com.acme.lead.created", 0.3), ("com.acme.lead.enriched", 6.0),
            ("crm.lead.upserted", 8.0), ("crm.lead.assigned", 25.0))
EVENTS_PER_LEAD = 2 + len(BUS_HOPS)


@dataclass
class Sent:
    receiver: int = 0
    kong: int = 0
    nats: int = 0


@dataclass
class Feed:
    """Live lead journeys, each stage due some seconds after the previous one."""

    folder: Path
    stream: str
    rate: float
    sent: Sent = field(default_factory=Sent)
    due: list[tuple[float, str, str]] = field(default_factory=list)  # (when, key, type)
    rng: random.Random = field(default_factory=lambda: random.Random(9))
    activated: int = 0  # the second of the last activation event

    def tick(self, now: float, seconds: float, session: requests.Session, url: str,
             js: Any, loop: asyncio.AbstractEventLoop) -> None:
        leads = _poisson(self.rng, self.rate * seconds / EVENTS_PER_LEAD)
        submitted = [self._lead(now) for _ in range(leads)]
        if submitted:
            reply = session.post(url, data=orjson.dumps(submitted), timeout=30)
            reply.raise_for_status()
            self.sent.receiver += len(submitted)
        ready = [d for d in self.due if d[0] <= now]
        self.due = [d for d in self.due if d[0] > now]
        kong = [d for d in ready if d[2] == "gateway"]
        bus = [d for d in ready if d[2] != "gateway"]
        with (self.folder / "kong.log").open("ab") as log:
            log.write(b"".join(orjson.dumps(_kong_entry(key)) + b"\n" for _, key, _ in kong))
        self.sent.kong += len(kong)
        for _, key, _ in kong:
            self._next(now, key, "gateway")
        if int(now) > self.activated:  # a product activation every second (freshness)
            self.activated = int(now)
            bus.append((now, f"act-{int(now)}", "com.acme.product.activated"))
        bodies = [orjson.dumps(_cloudevent(key, etype, "soak/bus")) for _, key, etype in bus]
        asyncio.run_coroutine_threadsafe(_publish(js, self.stream, bodies), loop).result(30)
        self.sent.nats += len(bodies)
        for _, key, etype in bus:
            self._next(now, key, etype)

    def _lead(self, now: float) -> dict[str, Any]:
        key = f"L-{uuid.uuid4().hex[:12]}"
        self.due.append((now + self.rng.uniform(0.2, 0.8), key, "gateway"))
        return {**_cloudevent(key, "com.acme.lead.submitted", "soak/web"),
                "data": {"qualified": self.rng.random() < 0.8}}

    def _next(self, now: float, key: str, etype: str) -> None:
        hops = [hop for hop, _ in BUS_HOPS]
        following = {"gateway": 0}.get(etype, hops.index(etype) + 1 if etype in hops else None)
        if following is None or following >= len(BUS_HOPS) or self.rng.random() < 0.005:
            return  # the last stage, an activation, or a lead that stalls here
        hop, delay = BUS_HOPS[following]
        self.due.append((now + self.rng.expovariate(1 / delay), key, hop))


def _poisson(rng: random.Random, mean: float) -> int:
    """Leads starting in this tick: Poisson arrivals at the mean rate."""
    count, threshold, product = 0, pow(2.718281828459045, -mean), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _cloudevent(key: str, etype: str, source: str) -> dict[str, Any]:
    return {"specversion": "1.0", "id": f"{key}:{etype}", "source": source, "type": etype,
            "time": format_time(now_us()), "correlationid": key}


def _kong_entry(key: str) -> dict[str, Any]:
    return {"request": {"id": f"{key}:gw", "method": "POST", "uri": "/leads",
                        "headers": {"x-lead-id": key}},
            "response": {"status": 201}, "started_at": now_us() // 1000,
            "route": {"name": "lead-intake"}, "service": {"name": "lead-intake"},
            "latencies": {"request": 12, "kong": 1, "proxy": 10}}


async def _publish(js: Any, stream: str, bodies: list[bytes]) -> None:
    acks = [await js.publish_async(f"{stream.lower()}.e", body) for body in bodies]
    await asyncio.gather(*acks)


def config(folder: Path, stream: str) -> Path:
    cfg = folder / "config"
    (cfg / "slas").mkdir(parents=True)
    (cfg / "slas" / "leads.yaml").write_bytes((ROOT / "config/slas/leads.yaml").read_bytes())
    (cfg / "sources.yaml").write_text(f"""version: baton/v1
sources:
  kong-edge:
    kind: kong
    file: {folder / 'kong.log'}
    key: [request.headers.x-lead-id]
    poll: 0.5
    rules:
      - type: gateway.request.accepted
        when: {{route.name: lead-intake, response.status: {{lt: 400}}}}
  lead-bus:
    kind: nats
    stream: {stream}
    subject: {stream.lower()}.>
    durable: soak
    batch: 500
    poll: 0.5
  web-forms:
    kind: cloudevents
    token_env: SOAK_TOKEN
""")
    (folder / "kong.log").touch()
    return cfg


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="feeding time (default 10)")
    parser.add_argument("--rate", type=float, default=500.0, help="events/s in all (500)")
    parser.add_argument("--every", default="30s", help="evaluation interval (30s)")
    parser.add_argument("--store", help="PostgreSQL URL (default: a fresh schema, dropped)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="baton-soak-"))
    url, drop = (args.store, None) if args.store else fresh_schema()
    try:
        run(args, folder, url)
    finally:
        if drop:
            drop()


def fresh_schema() -> tuple[str, Any]:
    schema = f"soak_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    return f"{POSTGRES}?options=-csearch_path%3D{schema}", drop


def run(args: argparse.Namespace, folder: Path, url: str) -> None:
    import nats

    stream = f"SOAK{uuid.uuid4().hex[:8].upper()}"
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    client = asyncio.run_coroutine_threadsafe(nats.connect("nats://127.0.0.1:4222"),
                                              loop).result(10)
    js = client.jetstream()
    asyncio.run_coroutine_threadsafe(js.add_stream(name=stream, subjects=[
        f"{stream.lower()}.>"]), loop).result(10)
    cfg = config(folder, stream)
    Store.open(url).close()
    port = free_port()
    log = (folder / "serve.log").open("w")
    serve = subprocess.Popen(
        [str(Path(sys.executable).with_name("baton")), "--config", str(cfg), "--store", url,
         "serve", "--every", args.every, "--http", f"127.0.0.1:{port}", "--log-format",
         "json"], stdout=log, stderr=subprocess.STDOUT, env={**os.environ,
                                                             "SOAK_TOKEN": TOKEN})
    base = f"http://127.0.0.1:{port}"
    try:
        report = soak(args, folder, url, serve, base, stream, js, loop)
    finally:
        if serve.poll() is None:
            serve.kill()
        asyncio.run_coroutine_threadsafe(js.delete_stream(stream), loop).result(10)
        asyncio.run_coroutine_threadsafe(client.close(), loop).result(10)
    print_report(report, args, folder)


def soak(args: argparse.Namespace, folder: Path, url: str, serve: subprocess.Popen[Any],
         base: str, stream: str, js: Any, loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {TOKEN}",
                            "Content-Type": "application/cloudevents-batch+json"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if session.get(f"{base}/healthz", timeout=2).ok:
                break
        except requests.RequestException:
            time.sleep(0.2)
    feed, store = Feed(folder, stream, args.rate), Store.open(url)
    step, started = 0.1, time.monotonic()
    ages, lags, rss, warm, progress = [], {}, [], None, []
    next_scrape, last = started, started - step
    while (now := time.monotonic()) < started + args.minutes * 60:
        feed.tick(time.time(), now - last, session, f"{base}/v1/events", js, loop)
        last = now
        if now >= next_scrape:
            next_scrape += 5
            age, source_lags = scrape(base)
            if age is not None:
                ages.append(age)
                warm = warm if warm is not None else rss_mb(serve.pid)
            for name, lag in source_lags.items():
                lags.setdefault(name, []).append(lag)
            rss.append(rss_mb(serve.pid))
            progress.append((now - started, feed.sent.receiver + feed.sent.kong + feed.sent.nats))
        time.sleep(max(0.0, started + step * (int((now - started) / step) + 1) - time.monotonic()))
    fed_for = time.monotonic() - started
    sent = feed.sent
    total = sent.receiver + sent.kong + sent.nats
    steady = [(t, n) for t, n in progress if t >= 60] or progress
    rate = (total - steady[0][1]) / max(1e-9, fed_for - steady[0][0])
    wait_until = time.monotonic() + 60
    while store.count(events) < total and time.monotonic() < wait_until:
        time.sleep(0.5)
    end_rss = rss_mb(serve.pid)
    serve.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    code = serve.wait(30)
    stop_s = time.monotonic() - signalled
    return {"sent": sent, "fed_for": fed_for, "steady_rate": rate, "stored": stored(store),
            "ages": ages, "lags": lags, "rss_warm": warm, "rss_end": end_rss, "rss": rss,
            "code": code, "stop_s": stop_s, "runs": runs(store)}


def scrape(base: str) -> tuple[float | None, dict[str, float]]:
    from prometheus_client.parser import text_string_to_metric_families

    try:
        body = requests.get(f"{base}/metrics", timeout=10).text
    except requests.RequestException:
        return None, {}
    age, lags = None, {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "baton_last_evaluation_timestamp_seconds":
                age = time.time() - sample.value
            elif sample.name == "baton_source_lag_seconds":
                lags[sample.labels["source"]] = sample.value
    return age, lags


# Baton's source name -> the CloudEvents `source` its events are stored with
EVENT_SOURCES = {"web-forms": "soak/web", "kong-edge": "kong://kong-edge", "lead-bus": "soak/bus"}


def stored(store: Store) -> dict[str, tuple[int, int]]:
    """Per source: (distinct events stored, duplicate deliveries absorbed)."""
    with store.engine.connect() as conn:
        counts = dict(conn.execute(select(events.c.source, func.count()).group_by(
            events.c.source)).all())
        duplicates = dict(conn.execute(select(source_status.c.source,
                                              source_status.c.duplicate)).all())
    return {name: (int(counts.get(event_source, 0)), int(duplicates.get(name) or 0))
            for name, event_source in EVENT_SOURCES.items()}


def runs(store: Store) -> list[tuple[int, int, float]]:
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(
            evaluation_runs.c.evaluated_at_us, evaluation_runs.c.started_us,
            evaluation_runs.c.duration_s).order_by(evaluation_runs.c.evaluated_at_us))]


def print_report(r: dict[str, Any], args: argparse.Namespace, folder: Path) -> None:
    sent: Sent = r["sent"]
    total = sent.receiver + sent.kong + sent.nats
    durations = [d for _, _, d in r["runs"]]
    starts = [at for at, _, _ in r["runs"]]
    every = (starts[-1] - starts[0]) / 1e6 / max(1, len(starts) - 1) if len(starts) > 1 else 0
    print(f"fed {total:,} events in {r['fed_for']:.0f} s = {total / r['fed_for']:.0f} events/s, "
          f"{r['steady_rate']:.0f} events/s after the first minute (receiver "
          f"{sent.receiver:,}, kong tail {sent.kong:,}, nats {sent.nats:,}); "
          f"log: {folder / 'serve.log'}")
    print(f"evaluations: {len(durations)}, every {every:.1f} s on average; duration p50 "
          f"{statistics.median(durations):.2f} s, max {max(durations):.2f} s")
    ages = r["ages"]
    print(f"age of the newest evaluation at a scrape: p50 {statistics.median(ages):.1f} s, "
          f"max {max(ages):.1f} s (interval {args.every})")
    for name, lags in sorted(r["lags"].items()):
        print(f"source lag {name}: p50 {statistics.median(lags):.2f} s, max {max(lags):.2f} s")
    growth = (r["rss_end"] - r["rss_warm"]) / r["rss_warm"] * 100
    print(f"RSS after the first evaluation {r['rss_warm']:.0f} MB, at the end "
          f"{r['rss_end']:.0f} MB ({growth:+.1f}%; min {min(r['rss']):.0f}, max "
          f"{max(r['rss']):.0f} MB)")
    by_path = {"web-forms": sent.receiver, "kong-edge": sent.kong, "lead-bus": sent.nats}
    for name, count in by_path.items():
        got, duplicate = r["stored"].get(name, (0, 0))
        print(f"{name}: sent {count:,}, stored {got:,}: lost {max(0, count - got)}, doubled "
              f"{max(0, got - count)} ({duplicate} duplicate deliveries absorbed)")
    print(f"SIGTERM: exit {r['code']} after {r['stop_s']:.1f} s")


if __name__ == "__main__":
    main()
