"""Stalls: journeys waiting at a stage longer than the next stage allows.

At T a journey is stalled at stage X when X is the last stage it reached (by stage order, among
events up to T), it has not reached the final stage, and T - (time of X) is longer than the next
stage's `stall_after` (default 15m). The next stage's owner is accountable. Only journeys whose
first stage event is in (T - window, T] are looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select, union

from collectors.schema import format_time
from collectors.store import Store
from collectors.tables import journey_open, journey_stages
from slas import stages as stage_table
from slas.definitions import Definitions
from slas.errors import EvaluationError

US = 1_000_000
DEFAULT_WINDOW_S = 7 * 86400


@dataclass(frozen=True)
class Stall:
    key: str
    last_stage: str
    last_at_us: int
    next_stage: str
    owner: str
    stalled_for_s: float
    started_us: int | None = None  # the journey's first stage event (sorting; not in JSON)

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "last_stage": self.last_stage,
                "last_at": format_time(self.last_at_us), "next_stage": self.next_stage,
                "owner": self.owner, "stalled_for_s": self.stalled_for_s}


@dataclass(frozen=True)
class StallReport:
    journey: str
    at_us: int
    by_stage: dict[str, int]
    stalled: list[Stall]

    def as_json(self) -> dict[str, Any]:
        return {"journey": self.journey, "at": format_time(self.at_us),
                "by_stage": self.by_stage, "stalled": [s.as_json() for s in self.stalled]}


def find_stalls(store: Store, definitions: Definitions, journey: str, at_us: int,
                window_s: int = DEFAULT_WINDOW_S, *, refresh: bool = True,
                key: str | None = None) -> StallReport:
    """Every journey stalled at T (or only the journey `key`), longest-waiting first, and
    the count per stage."""
    if journey not in definitions.journeys:
        known = ", ".join(definitions.journeys) or "none"
        raise EvaluationError(f"unknown journey {journey!r}; defined journeys: {known}")
    if refresh:
        stage_table.refresh(store, definitions)
    stages = definitions.journeys[journey].stages
    names = [s.name for s in stages]
    waits = [definitions.stall_after(journey, i + 1) * US for i in range(len(stages) - 1)]
    with store.engine.connect() as conn:
        rows = conn.execute(_query(journey, names, waits, at_us, window_s * US, key)).all()
    stalled = [Stall(key, names[last], last_at, names[last + 1], stages[last + 1].owner,
                     (at_us - last_at) / US, started) for key, last, last_at, started in rows]
    stalled.sort(key=lambda s: (-s.stalled_for_s, s.key))
    by_stage = {name: 0 for name in names[:-1]}
    for stall in stalled:
        by_stage[stall.last_stage] += 1
    return StallReport(journey, at_us, by_stage, stalled)


def candidates(journey: str, final: str, at_us: int) -> Any:
    """Keys that had not reached the final stage at T: still open, or finished after T."""
    late = journey_stages.alias("late")
    return union(
        select(journey_open.c.jkey).where(journey_open.c.journey == journey),
        select(late.c.jkey).where(late.c.journey == journey, late.c.stage == final,
                                  late.c.first_us > at_us),
    ).subquery("candidates")


def _query(journey: str, names: list[str], waits: list[int], at_us: int, window_us: int,
           key: str | None = None) -> Any:
    s = journey_stages
    index = case({name: i for i, name in enumerate(names)}, value=s.c.stage)
    keys = candidates(journey, names[-1], at_us)
    progress = (select(s.c.jkey, func.max(index).label("last"),
                       func.min(s.c.first_us).label("started"))
                .where(s.c.journey == journey, s.c.jkey.in_(select(keys.c.jkey)),
                       s.c.first_us <= at_us, *([s.c.jkey == key] if key is not None else []))
                .group_by(s.c.jkey)
                .having(func.min(s.c.first_us) > at_us - window_us)
                .subquery())
    x = journey_stages.alias("x")
    stage_at = case({i: name for i, name in enumerate(names)}, value=progress.c.last)
    wait = case({i: w for i, w in enumerate(waits)}, value=progress.c.last, else_=0)
    return (select(progress.c.jkey, progress.c.last, x.c.first_us, progress.c.started)
            .join_from(progress, x, and_(x.c.journey == journey, x.c.jkey == progress.c.jkey,
                                         x.c.stage == stage_at))
            .where(progress.c.last < len(names) - 1, at_us - x.c.first_us > wait))
