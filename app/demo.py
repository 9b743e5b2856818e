"""`baton demo`: the embedded default a fresh clone runs.

Generates a week of sample lead journeys (the benchmark's generator) as CloudEvents JSON
lines, ingests them through the same pipeline as `baton ingest`, and prints what was stored.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
from sqlalchemy import func, select

from app.commands import ingest_file
from collectors.sample import generate
from collectors.store import Store
from collectors.tables import events


def write_sample(path: Path, leads: int, days: float, seed: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("wb") as out:
        for event in generate(leads, days=days, seed=seed):
            out.write(orjson.dumps(event) + b"\n")
            count += 1
    return count


def run(args: argparse.Namespace) -> int:
    store = Store.open(args.store)
    sample = Path("var") / "sample-leads.jsonl"
    written = write_sample(sample, args.leads, args.days, args.seed)
    print(f"generated {written:,} CloudEvents for {args.leads:,} leads over {args.days:g} days "
          f"-> {sample}")
    with sample.open("rb") as stream:
        counts = ingest_file(store, stream, str(sample), sample.stat().st_size,
                             "cloudevents", "sample")
    print(f"ingested: accepted {counts.accepted:,}, duplicate {counts.duplicate:,}, "
          f"rejected {counts.rejected:,}")
    print_stored(store)
    return 0


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
