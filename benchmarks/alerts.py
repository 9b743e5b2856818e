"""Alerting benchmark: what the rules and the outbox add to an evaluation, and how fast a
backlog of notifications drains, each against a baseline in the same run.

    .venv/bin/python benchmarks/alerts.py [--store URL] [--leads 1000000] [--backlog 1000]

1. Evaluation vs rules + outbox: in a store of N sample journeys (filled like
   benchmarks/evaluate.py; --store URL --reuse takes a filled one), every example SLA
   evaluated at T and stored (what `baton serve` does each tick), then the alert decision
   at T with every rule on (signals, rules, episodes, outbox writes), warm, best of three
   each. Target: <= 10%.
2. Draining a backlog: `--backlog` notifications (one alert each, of as many teams, so none
   are grouped) to 10 webhook targets on a loopback sink answering each request in 50 ms:
   serially (the dispatcher with one worker: one request at a time) and with its default
   bounded concurrency (4 per target). Target: <= 1/3 of the serial time. Then the rate
   limits: 8 Slack messages (1/s after a burst of 3) and 4 PagerDuty events (120/min),
   timed from the sink's arrival times.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def rules_vs_evaluation(url: str, leads: int, reuse: bool) -> None:
    from evaluate import END, fill

    from collectors.schema import to_us
    from collectors.store import Store
    from slas.alert_config import load_alerting
    from slas.alerts import decide
    from slas.engine import evaluate
    from slas.rules import spans_for

    if not reuse:
        fill(url, leads)
    store = Store.open(url)
    definitions, config = load_alerting(ROOT / "config")
    at = to_us(END)
    spans = spans_for(definitions, config)
    evaluate(store, definitions, at, spans=spans)  # derived tables current, caches warm
    evaluations, decisions = [], []
    for step in range(3):
        started = time.perf_counter()
        evaluate(store, definitions, at + step, spans=spans)
        evaluations.append(time.perf_counter() - started)
        started = time.perf_counter()
        decision = decide(store, definitions, config, at + step)
        decisions.append(time.perf_counter() - started)
    evaluation, rules = min(evaluations), min(decisions)
    print(f"evaluation (every SLA, stored): {evaluation:.3f} s; rules + outbox: {rules:.3f} s "
          f"= {rules / evaluation:.1%} of it (target <= 10%); firing now: "
          f"{len(decision.started)} started at the first decision")
    store.close()


def _backlog(store: Any, count: int, targets: list[str], prefix: str = "sla") -> None:
    """`count` firing alerts, each of its own team, each with a trigger due now."""
    import orjson
    from sqlalchemy import insert

    from collectors.store import now_us
    from collectors.tables import alerts, notifications

    now = now_us()
    with store.engine.begin() as conn:
        for i in range(count):
            sla, team = f"{prefix}-{i}", f"{prefix}-team-{i}"
            key = f"baton/SLABreached/{sla}"
            labels = {"alertname": "SLABreached", "sla": sla, "team": team,
                      "severity": "critical"}
            alert_id = conn.execute(insert(alerts).values(
                key=key, alertname="SLABreached", labels=orjson.dumps(labels).decode(),
                team=team, severity="critical", sla=sla, state="firing", since_us=now,
                evaluated_us=now, summary=f"{sla} breached", details="{}",
                escalated=False)).inserted_primary_key[0]
            conn.execute(insert(notifications).values(
                alert_id=alert_id, key=key, target=targets[i % len(targets)],
                team=team, action="trigger", reason="firing", state="pending",
                at_us=now, created_us=now, due_us=now, give_up_us=now + 3600 * 10**6,
                attempts=0))


def _config(sink_url: str, concurrency: int) -> Any:
    from slas.alert_config import parse_alerts

    hooks = "\n".join(f'  hook{i}: {{kind: webhook, url: "{sink_url}/hook{i}", '
                      f"concurrency: {concurrency}}}" for i in range(10))
    text = (f"version: baton/v1\ntargets:\n{hooks}\n"
            f'  chat: {{kind: slack, url_env: BENCH_SLACK}}\n'
            f'  pager: {{kind: pagerduty, routing_key_env: BENCH_PD, url_env: BENCH_PD_URL}}\n'
            "routes:\n  - {to: [hook0]}\n")
    return parse_alerts(text, "bench-alerts.yaml")


def drain(count: int) -> None:
    from fakes.sink import Reply, Sink

    from collectors.store import Store
    from slas.dispatch import Dispatcher

    times = {}
    with Sink(default=Reply(delay=0.05)) as sink:
        for label, workers in (("serially", 1), ("with 4 per target", 32)):
            folder = tempfile.mkdtemp(prefix="baton-alerts-bench-")
            store = Store.open(f"sqlite:///{folder}/baton.db")
            _backlog(store, count, [f"hook{i}" for i in range(10)])
            dispatcher = Dispatcher(store, _config(sink.url, 4), {}, workers=workers)
            started = time.perf_counter()
            report = dispatcher.deliver(900)
            times[workers] = time.perf_counter() - started
            assert report.sent == count, report
            print(f"backlog of {count} to 10 webhook targets (50 ms each), {label}: drained "
                  f"in {times[workers]:.2f} s ({count / times[workers]:,.0f} notifications/s)")
            dispatcher.close()
            store.close()
        print(f"bounded concurrency drains in {times[32] / times[1]:.1%} of the serial time "
              "(target <= 33%)")
        rate_limits(sink)


def rate_limits(sink: Any) -> None:
    from collectors.store import Store
    from slas.dispatch import Dispatcher

    sink.reset()
    folder = tempfile.mkdtemp(prefix="baton-alerts-bench-")
    store = Store.open(f"sqlite:///{folder}/baton.db")
    _backlog(store, 8, ["chat"])
    env = {"BENCH_SLACK": f"{sink.url}/slack", "BENCH_PD": "k" * 32,
           "BENCH_PD_URL": f"{sink.url}/pagerduty"}
    _backlog(store, 4, ["pager"], prefix="pd")
    Dispatcher(store, _config(sink.url, 4), env).deliver(60)
    for path, limit in (("/slack", "1/s after a burst of 3"), ("/pagerduty", "120/min")):
        arrived = [r.at for r in sink.received(path)]
        gaps = [b - a for a, b in zip(arrived, arrived[1:], strict=False)]
        print(f"{path[1:]}: {len(arrived)} messages over {arrived[-1] - arrived[0]:.2f} s; "
              f"smallest gap after the burst {min(gaps[3:] or gaps):.2f} s ({limit})")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store URL (default: a new SQLite file)")
    parser.add_argument("--reuse", action="store_true", help="the store is already filled "
                        "(e.g. by benchmarks/evaluate.py)")
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument("--skip-evaluation", action="store_true")
    args = parser.parse_args()
    if not args.skip_evaluation:
        url = args.store or f"sqlite:///{tempfile.mkdtemp(prefix='baton-alerts-')}/baton.db"
        rules_vs_evaluation(url, args.leads, reuse=args.reuse)
    drain(args.backlog)


if __name__ == "__main__":
    main()
