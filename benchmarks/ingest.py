"""Ingest benchmark: `baton ingest` against raw sqlite3.executemany of the same rows.

    .venv/bin/python benchmarks/ingest.py [--leads 1000000] [--keep]

1. Generates N lead journeys (collectors.sample, seeded) as CloudEvents JSON lines.
2. Baseline (a): the rows `baton ingest` would store, prepared in advance, inserted with raw
   `sqlite3.executemany` into a fresh database with the same table and indexes; only the
   executemany calls (and their commits) are timed.
3. (b): `baton ingest FILE` as a subprocess into a fresh SQLite store, timed end to end
   (parsing, validation, duplicate detection, writing), with its peak RSS.
Prints rows/s for both, the ratio b/a (target >= 0.5) and the peak RSS (target < 300 MB).
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.sample import generate  # noqa: E402
from collectors.schema import parse_event  # noqa: E402
from collectors.store import EVENT_COLUMNS, event_row, now_us  # noqa: E402
from collectors.tables import events, metadata  # noqa: E402

BATCH = 5000
COLUMNS = EVENT_COLUMNS


def write_sample(path: Path, leads: int) -> int:
    count = 0
    with path.open("wb") as out:
        for event in generate(leads, seed=11):
            out.write(orjson.dumps(event) + b"\n")
            count += 1
    return count


def baseline(path: Path, folder: Path) -> tuple[int, float]:
    """Raw executemany of prepared rows; returns (rows stored, seconds inside executemany)."""
    db = folder / "raw.db"
    engine = create_engine(f"sqlite:///{db}")
    metadata.create_all(engine, tables=[events])
    engine.dispose()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-65536")
    sql = (f"INSERT OR IGNORE INTO events ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in COLUMNS)})")
    elapsed, received = 0.0, now_us()
    with path.open("rb") as lines:
        while True:
            chunk = [line for _, line in zip(range(BATCH), lines, strict=False)]
            if not chunk:
                break
            rows = [event_row(parse_event(orjson.loads(x), received), received, 1)
                    for x in chunk]
            started = time.perf_counter()
            conn.executemany(sql, rows)
            conn.commit()
            elapsed += time.perf_counter() - started
    stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    return stored, elapsed


def baton_ingest(path: Path, folder: Path) -> tuple[str, float, float]:
    """`baton ingest` as a subprocess: (its summary line, seconds, peak RSS in MB)."""
    url = f"sqlite:///{folder / 'baton.db'}"
    baton = Path(sys.executable).with_name("baton")
    started = time.perf_counter()
    result = subprocess.run([str(baton), "--store", url, "ingest", str(path)],
                            capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return result.stdout.strip(), seconds, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="baton-bench-", dir=os.environ.get("TMPDIR")))
    sample = folder / "leads.jsonl"
    started = time.perf_counter()
    count = write_sample(sample, args.leads)
    print(f"generated {count:,} events for {args.leads:,} leads "
          f"({sample.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - started:.1f} s")
    summary, b_seconds, peak = baton_ingest(sample, folder)
    stored, a_seconds = baseline(sample, folder)
    a_rate, b_rate = stored / a_seconds, stored / b_seconds
    print(f"(a) raw sqlite3.executemany : {stored:,} rows in {a_seconds:6.1f} s = "
          f"{a_rate:10,.0f} rows/s")
    print(f"(b) baton ingest            : {summary} in {b_seconds:6.1f} s = "
          f"{b_rate:10,.0f} rows/s")
    print(f"ratio b/a = {b_rate / a_rate:.2f} (target >= 0.50); "
          f"baton ingest peak RSS = {peak:.0f} MB (target < 300 MB)")
    if not args.keep:
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
