"""Evaluation benchmark: Baton's SQL engine against a naive pandas report, same store, same run.

    .venv/bin/python benchmarks/evaluate.py [--leads 1000000] [--store URL] [--reuse]

1. Fills a store with N sample lead journeys (collectors.sample; --reuse keeps a filled one).
2. Materialises the stage table (`slas.stages.refresh`): the cost added to ingest, timed.
3. Baton: evaluates every SLA of config/slas plus the stalls report at T (the data's end),
   in a fresh process (peak RSS measured there), twice: cold and warm.
4. Baseline: a naive pandas version (read the window's events, group by journey, compute the
   same SLIs and stalls) in a fresh process. Numbers must be identical; prints the speed-up.
5. Second baseline: DuckDB computing the same SLA numbers from the same events, copied into it
   first (only its SQL is timed: the fastest full recompute a data team would write).
   --skip-pandas leaves the slow pandas baseline out.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def fill(url: str, leads: int) -> float:
    from collectors.ingest import Record, ingest, parse_cloudevent
    from collectors.sample import generate
    from collectors.store import Store

    store = Store.open(url)
    started = time.perf_counter()
    records = (Record("sample", b"", value=event) for event in generate(leads, end=END, seed=5))
    counts = ingest(store, records, source="bench", format="cloudevents",
                    parser=parse_cloudevent)
    print(f"filled: {counts.accepted:,} events stored in {time.perf_counter() - started:.1f} s")
    return time.perf_counter() - started


def phase_refresh(url: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from collectors.store import Store
    from collectors.tables import events
    from slas import stages
    from slas.definitions import load_folder

    store, defs = Store.open(url), load_folder(ROOT / "config")
    started = time.perf_counter()
    scanned = stages.refresh(store, defs)
    seconds = time.perf_counter() - started
    with store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(events)).scalar() if scanned else 0
    return {"seconds": seconds, "events": count}


def phase_baton(url: str, at_us: int) -> dict[str, Any]:
    from collectors.store import Store
    from slas.definitions import load_folder
    from slas.engine import evaluate
    from slas.stalls import find_stalls

    store, defs = Store.open(url), load_folder(ROOT / "config")
    runs = []
    for _ in range(2):
        started = time.perf_counter()
        evaluation = evaluate(store, defs, at_us, persist=False)
        middle = time.perf_counter()
        report = find_stalls(store, defs, "lead", at_us, refresh=False)
        runs.append((middle - started, time.perf_counter() - middle))
    return {"runs": runs, "rss_mb": _rss(), "numbers": _numbers(evaluation, report)}


def phase_pandas(url: str, at_us: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from naive_pandas import report

    started = time.perf_counter()
    numbers = report(url, at_us)
    return {"seconds": time.perf_counter() - started, "rss_mb": _rss(), "numbers": numbers}


def phase_duckdb(url: str, at_us: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from naive_duckdb import report

    numbers, seconds = report(url, at_us)
    return {"seconds": seconds, "rss_mb": _rss(), "numbers": numbers}


def _numbers(evaluation: Any, stalls: Any) -> dict[str, Any]:
    out: dict[str, Any] = {r.name: [r.good, r.bad, _round(r.p50_s), _round(r.p95_s),
                                    _round(r.p99_s)] for r in evaluation.results}
    out["stalls"] = stalls.by_stage
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(phase: str, url: str, at_us: int) -> dict[str, Any]:
    result = subprocess.run([sys.executable, __file__, "--phase", phase, "--store", url,
                             "--at", str(at_us)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--store", help="store URL (default: a new SQLite file)")
    parser.add_argument("--reuse", action="store_true", help="the store is already filled")
    parser.add_argument("--skip-pandas", action="store_true",
                        help="leave out the naive pandas baseline (slow, ~6 GB)")
    parser.add_argument("--phase", choices=["refresh", "baton", "pandas", "duckdb"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--at", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run = {"refresh": lambda: phase_refresh(args.store),
               "baton": lambda: phase_baton(args.store, args.at),
               "pandas": lambda: phase_pandas(args.store, args.at),
               "duckdb": lambda: phase_duckdb(args.store, args.at)}[args.phase]
        print(json.dumps(run()))
        return
    from collectors.schema import to_us

    url = args.store or f"sqlite:///{tempfile.mkdtemp(prefix='baton-eval-')}/baton.db"
    at_us = to_us(END)
    if not args.reuse:
        fill(url, args.leads)
    refresh = child("refresh", url, at_us)
    print(f"stage table: {refresh['events']:,} events materialised in {refresh['seconds']:.1f} s"
          f" ({refresh['events'] / max(refresh['seconds'], 1e-9):,.0f} events/s)")
    baton = child("baton", url, at_us)
    (cold_eval, cold_stalls), (warm_eval, warm_stalls) = baton["runs"]
    warm = warm_eval + warm_stalls
    print(f"baton  : SLAs {warm_eval:.3f} s + stalls {warm_stalls:.3f} s = {warm:.3f} s warm "
          f"({cold_eval + cold_stalls:.3f} s cold); peak RSS {baton['rss_mb']:.0f} MB")
    duck = child("duckdb", url, at_us)
    slas_only = {k: v for k, v in baton["numbers"].items() if k != "stalls"}
    print(f"duckdb : {duck['seconds']:.3f} s (its SQL over the events, in memory); Baton's "
          f"SLAs take {warm_eval / duck['seconds']:.2f}x of it; identical numbers: "
          f"{slas_only == duck['numbers']}")
    if slas_only != duck["numbers"]:
        print(json.dumps({"baton": slas_only, "duckdb": duck["numbers"]}, indent=1))
    if not args.skip_pandas:
        pandas = child("pandas", url, at_us)
        print(f"pandas : {pandas['seconds']:.3f} s; peak RSS {pandas['rss_mb']:.0f} MB")
        print(f"speed-up {pandas['seconds'] / warm:.1f}x (target >= 10x); identical numbers: "
              f"{baton['numbers'] == pandas['numbers']}")
        if baton["numbers"] != pandas["numbers"]:
            print(json.dumps({"baton": baton["numbers"], "pandas": pandas["numbers"]},
                             indent=1))
    print(f"store: {url}")


if __name__ == "__main__":
    main()
