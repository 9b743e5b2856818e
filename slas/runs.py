"""The record of each scheduled evaluation: how long it took, and how many journeys were
stalled at each stage at its T (the evaluator counts them once; `/metrics` reads them).

    record_run(store, definitions, Run(at_us, started_us, duration_s, slas), stalls)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, insert

from collectors.store import Store
from collectors.tables import evaluation_runs, stall_counts
from slas.definitions import Definitions
from slas.stalls import StallReport


@dataclass(frozen=True)
class Run:
    """One evaluation: its T, when it started (wall clock), its duration, its SLA count."""

    at_us: int
    started_us: int
    duration_s: float
    slas: int


def record_run(store: Store, definitions: Definitions, run: Run,
               stalls: Mapping[str, StallReport]) -> None:
    """Store the run and its per-stage stall counts (replacing a re-evaluation of the same T)."""
    rows = [{"evaluated_at_us": run.at_us, "journey": journey, "stage": stage,
             "owner": _next_owner(definitions, journey, stage), "stalled": count}
            for journey, report in stalls.items() for stage, count in report.by_stage.items()]
    with store.engine.begin() as conn:
        for table in (evaluation_runs, stall_counts):
            conn.execute(delete(table).where(table.c.evaluated_at_us == run.at_us))
        conn.execute(insert(evaluation_runs).values(
            evaluated_at_us=run.at_us, started_us=run.started_us, duration_s=run.duration_s,
            slas=run.slas, process=f"{os.uname().nodename}:{os.getpid()}"))
        if rows:
            conn.execute(insert(stall_counts), rows)


def _next_owner(definitions: Definitions, journey: str, stage: str) -> str:
    """The team accountable for a journey stalled at `stage`: the next stage's owner."""
    stages = definitions.journeys[journey].stages
    index = [s.name for s in stages].index(stage)
    return stages[index + 1].owner
