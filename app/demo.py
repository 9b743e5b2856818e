"""`baton demo`: the embedded default a fresh clone runs.

Generates a week of sample lead journeys (the benchmark's generator) as CloudEvents JSON
lines, ingests them through the same pipeline as `baton ingest`, replays the SLA evaluation
over that week (hourly after the first day, every 15 minutes over the last day) so trends
and breaches exist, prints the scorecard, and starts the dashboard on http://localhost:8501.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import func, select

from app.commands import ingest_file
from collectors.sample import DAY_US, HOUR_US, MINUTE_US, generate
from collectors.schema import to_us
from collectors.store import Store
from collectors.tables import events
from slas import stages
from slas.definitions import Definitions, load_folder
from slas.engine import evaluate


def write_sample(path: Path, leads: int, days: float, seed: int, end: datetime) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("wb") as out:
        for event in generate(leads, end=end, days=days, seed=seed):
            out.write(orjson.dumps(event) + b"\n")
            count += 1
    return count


def run(args: argparse.Namespace) -> int:
    definitions = load_folder(args.config)
    store = Store.open(args.store)
    sample = Path("var") / "sample-leads.jsonl"
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    written = write_sample(sample, args.leads, args.days, args.seed, end)
    print(f"generated {written:,} CloudEvents for {args.leads:,} leads over {args.days:g} days "
          f"-> {sample}")
    with sample.open("rb") as stream:
        counts = ingest_file(store, stream, str(sample), sample.stat().st_size,
                             "cloudevents", "sample")
    print(f"ingested: accepted {counts.accepted:,}, duplicate {counts.duplicate:,}, "
          f"rejected {counts.rejected:,}")
    print_stored(store)
    replay(store, definitions, to_us(end), args.days)
    from app.sla_commands import scorecard

    print("\n" + scorecard(definitions, evaluate(store, definitions, to_us(end))))
    if args.no_ui:
        return 0
    from app.ui_command import run_ui

    args.port, args.address = getattr(args, "port", 8501), "localhost"
    return run_ui(args)


def replay_times(end_us: int, days: float) -> list[int]:
    """Hourly over the history, every 15 minutes over the last day, ending at `end`. The
    first day is left out: a one-day window there would reach back before the data."""
    start = end_us - int(days * DAY_US) + DAY_US
    last_day = end_us - DAY_US
    hourly = range(start, last_day, HOUR_US)
    quarterly = range(max(start, last_day), end_us + 1, 15 * MINUTE_US)
    return [*hourly, *quarterly]


def replay(store: Store, definitions: Definitions, end_us: int, days: float) -> None:
    started = time.perf_counter()
    stages.refresh(store, definitions)
    times = replay_times(end_us, days)
    for number, at in enumerate(times, start=1):
        evaluate(store, definitions, at, refresh=False)
        if sys.stderr.isatty():
            sys.stderr.write(f"\revaluating the week: {number}/{len(times)}")
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(f"evaluated {len(definitions.slas)} SLAs at {len(times)} times over the week in "
          f"{time.perf_counter() - started:.1f} s")


def print_stored(store: Store) -> None:
    query = (select(events.c.type, func.count(), func.min(events.c.time_us),
                    func.max(events.c.time_us))
             .group_by(events.c.type).order_by(func.min(events.c.time_us)))
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    print(f"\nstored in {store.engine.url.render_as_string(hide_password=True)}:")
    width = max((len(r[0]) for r in rows), default=10)
    for etype, count, _first, _last in rows:
        print(f"  {etype:<{width}}  {count:>10,}")
