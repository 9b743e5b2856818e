"""`baton demo` (the README's first command, without the dashboard): sample journeys are
written, ingested, evaluated over the history, and a scorecard is printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from app.demo import replay_times
from collectors.sample import DAY_US, HOUR_US, MINUTE_US
from collectors.store import Store
from collectors.tables import events, sla_results

ROOT = Path(__file__).resolve().parents[1]


def test_demo_loads_evaluates_and_prints_a_scorecard(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "--config", str(ROOT / "config"), "--store", url,
         "demo", "--leads", "300", "--days", "2", "--no-ui"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "sample-leads.jsonl").stat().st_size > 0
    assert "Baton scorecard at" in result.stdout and "Sales Ops:" in result.stdout
    store = Store.open(url)
    with store.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(events)).scalar()
        times = conn.execute(select(func.count(func.distinct(sla_results.c.evaluated_at_us))))
        evaluated = times.scalar()
    assert stored > 1000
    assert evaluated == len(replay_times(0, 2))


def test_the_replay_skips_the_first_day_and_ends_every_quarter_hour():
    end = 10 * DAY_US
    times = replay_times(end, 7)
    assert times[0] == end - 6 * DAY_US and times[-1] == end
    assert times[-2] == end - 15 * MINUTE_US and times[1] - times[0] == HOUR_US
