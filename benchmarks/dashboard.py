"""Dashboard benchmark: each page's data functions, and a full AppTest render, on a large store.

    .venv/bin/python benchmarks/dashboard.py [--leads 1000000] [--days 30] [--store URL]

1. Builds the store (skipped when `--store` already holds events): N sample lead journeys over
   the last D days, written through `Store.write_events`, the stage table refreshed, a few real
   evaluations at the end, then D days of stored evaluations at one per minute per SLA (rows
   copied from the real results with a little noise: the dashboard only reads them) and one
   breach per SLA per day, plus a few hundred rejected records.
2. Times every data function a page calls, with the cache cleared first (a cold page); lines
   marked + run on a user's action (another hop, a lead's timeline, a dry run of one SLA over
   7 days), not on page load.
3. Times a full AppTest render of every page, cold (cache cleared) and warm (cached).
Prints a table; targets are <= 1 s per page.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")  # no "no runtime" warnings

from sqlalchemy import func, insert, select  # noqa: E402

from collectors.sample import generate  # noqa: E402
from collectors.schema import parse_event, to_us  # noqa: E402
from collectors.store import Reject, Store, WriteCounts, now_us  # noqa: E402
from collectors.tables import breaches, events, journey_stages, sla_results  # noqa: E402
from slas import stages  # noqa: E402
from slas.definitions import load_folder  # noqa: E402
from slas.engine import evaluate  # noqa: E402

MINUTE_US = 60 * 1_000_000
DAY_US = 1440 * MINUTE_US
BATCH = 20_000


def build(store: Store, config: Path, leads: int, days: int) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    started = time.perf_counter()
    run = store.start_run("sample", "cloudevents", "benchmark")
    batch: list[Any] = []
    total = WriteCounts()
    for record in generate(leads, end=end, days=days, seed=3):
        batch.append(parse_event(record, now_us()))
        if len(batch) >= BATCH:
            total += store.write_events(batch, run)
            batch = []
    total += store.write_events(batch, run)
    bad = [Reject("sample", "cloudevents", f"benchmark:{i}", "required attribute 'type' is "
                  "missing", '{"id": "x"}', now_us()) for i in range(300)]
    store.write_rejects(bad, run)
    store.finish_run(run, WriteCounts(total.accepted, total.duplicate, len(bad)))
    print(f"  wrote {total.accepted:,} events in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    definitions = load_folder(config)
    stages.refresh(store, definitions)
    print(f"  stage table refreshed in {time.perf_counter() - started:.0f} s")
    end_us = to_us(end)
    results = [evaluate(store, definitions, end_us - h * 3600 * 1_000_000).results
               for h in (3, 2, 1, 0)]
    synthetic_history(store, results[-1], end_us, days)


def synthetic_history(store: Store, latest: list[Any], end_us: int, days: int) -> None:
    """One stored evaluation per SLA per minute over `days`, and a breach per SLA per day."""
    rng = random.Random(5)
    started = time.perf_counter()
    with store.engine.begin() as conn:
        first_real = conn.execute(select(func.min(sla_results.c.evaluated_at_us))).scalar()
        for minute_start in range(end_us - days * DAY_US, first_real or end_us, DAY_US):
            rows = []
            for at in range(minute_start, min(minute_start + DAY_US, first_real or end_us),
                            MINUTE_US):
                rows += [_row(r, at, rng) for r in latest]
            conn.execute(insert(sla_results), rows)
        conn.execute(insert(breaches), [
            {"sla": r.name, "team": r.team, "severity": "critical",
             "opened_at_us": end_us - d * DAY_US, "closed_at_us": end_us - d * DAY_US
             + 3600 * 1_000_000, "last_seen_us": end_us - d * DAY_US + 3600 * 1_000_000,
             "worst_sli": r.objective - 0.01, "stalled_stage": None, "stalled_owner": None,
             "stalled_count": None} for r in latest for d in range(1, days)])
    print(f"  {days} days of stored evaluations written in {time.perf_counter() - started:.0f} s")


def _row(result: Any, at: int, rng: random.Random) -> dict[str, Any]:
    sli = min(1.0, max(0.0, (result.sli or 1.0) + rng.uniform(-0.01, 0.01)))
    return {"sla": result.name, "evaluated_at_us": at, "team": result.team,
            "kind": result.kind, "window_s": 86400, "objective": result.objective,
            "good": result.good, "bad": result.bad, "total": result.total, "sli": sli,
            "budget_remaining": result.budget_remaining, "burn_1h": 1.0, "burn_6h": 1.0,
            "status": "ok" if sli >= result.objective else "breached", "p50_s": None,
            "p95_s": None, "p99_s": None, "computed_us": at}


def timed(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Median seconds of `fn` with every cache cleared before each call."""
    from app import data

    times = []
    for _ in range(repeat):
        data.clear()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def data_functions(config: Path) -> dict[str, dict[str, Callable[[], Any]]]:
    from app import data, editor

    now = data.now_minute()
    week, month = now - 7 * DAY_US, now - 30 * DAY_US
    defs = load_folder(config)
    names = [s.name for s in defs.journeys["lead"].stages]
    types = [t for s in defs.journeys["lead"].stages for t in s.on]
    files = editor.sla_files(config)
    name, text = next(iter(files.items()))
    return {
        "scorecards": {"latest_results": data.latest_results,
                       "last_evaluated": data.last_evaluated,
                       "trend 30d": lambda: data.trend(month, now)},
        "breaches": {"breach_rows 30d": lambda: data.breach_rows(month)},
        "journeys": {"funnel 7d": lambda: data.funnel("lead", names, week, now),
                     "latencies 7d (SLA hop)": lambda: data.latencies(
                         "lead", names[0], names[-1], week, now, sla="lead-routing-5m"),
                     "+ latencies 7d (stage hop)": lambda: data.latencies(
                         "lead", names[3], names[4], week, now),
                     "stalls (7d window)": lambda: data.stalls("lead", now),
                     "+ timeline of one lead": lambda: data.timeline("L-0000001", "lead", now)},
        "sources": {"sources": data.sources,
                    "newest_by_type": lambda: data.newest_by_type(types),
                    "ingest_rate 7d": lambda: data.ingest_rate(week),
                    "reject_reasons": data.reject_reasons,
                    "rejects_page": lambda: data.rejects_page(None, 0)},
        "editor": {"validate": lambda: editor.validate(files, name, text),
                   "+ dry run, new threshold, 7d / 6h": lambda: data.dry_run(
                       {**files, name: text.replace("threshold: 5m", "threshold: 10m")},
                       ["lead-routing-5m"], now // 3_600_000_000 * 3_600_000_000, 7),
                   "+ dry run, new where, 7d / 6h": lambda: data.dry_run(
                       {**files, name: text.replace("{qualified: true}", "{qualified: false}")},
                       ["lead-routing-5m"], now // 3_600_000_000 * 3_600_000_000, 7)},
        "history": {"versions": lambda: data.versions(name)},
    }


def render_times(pages: list[str]) -> dict[str, tuple[float, float]]:
    from streamlit.testing.v1 import AppTest

    from app import data

    out = {}
    for page in pages:
        at = AppTest.from_file(str(ROOT / "app" / "ui.py"), default_timeout=600)
        at.run()
        data.clear()
        at.switch_page(f"pages/{page}.py")
        started = time.perf_counter()
        at.run()
        cold = time.perf_counter() - started
        assert not at.exception, [e.value for e in at.exception]
        started = time.perf_counter()
        at.run()
        out[page] = (cold, time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--store", help="store URL (default: a new SQLite file in a temp dir; "
                        "an existing store with events is reused as is)")
    args = parser.parse_args()
    url = args.store or f"sqlite:///{tempfile.mkdtemp(prefix='baton-dash-')}/baton.db"
    config = ROOT / "config"
    os.environ.update(BATON_STORE_URL=url, BATON_CONFIG=str(config),
                      BATON_USERS_FILE=str(Path(tempfile.mkdtemp()) / "none.yaml"))
    store = Store.open(url)
    with store.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(events)).scalar() or 0
    if not stored:
        print(f"building {url}: {args.leads:,} leads over {args.days} days")
        build(store, config, args.leads, args.days)
    started = time.perf_counter()
    stages.refresh(store, load_folder(config))  # what the evaluator keeps current
    print(f"  derived tables brought up to date in {time.perf_counter() - started:.0f} s")
    with store.engine.connect() as conn:
        leads = conn.execute(select(func.count()).select_from(journey_stages).where(
            journey_stages.c.stage == "form.submitted")).scalar()
        counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                  for t in (events, journey_stages, sla_results, breaches)}
    print(f"store: {url}\n  {leads:,} leads; " + ", ".join(
        f"{name} {n:,}" for name, n in counts.items()))
    print("\ndata functions (cold cache, median of 3; dry runs once):")
    for page, functions in data_functions(config).items():
        total = 0.0
        for label, fn in functions.items():
            seconds = timed(fn, 1 if "dry run" in label else 3)
            total += 0.0 if label.startswith("+") else seconds
            print(f"  {page:<11} {label:<32} {seconds * 1000:9.1f} ms")
        print(f"  {page:<11} {'= page load (without + actions)':<32} {total * 1000:9.1f} ms")
    print("\nfull AppTest render (cold cache / warm cache):")
    for page, (cold, warm) in render_times(list(data_functions(config))).items():
        print(f"  {page:<11} {cold * 1000:9.1f} ms / {warm * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
