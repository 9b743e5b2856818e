"""One journey's timeline (`baton lead KEY`): its stages with first times and owners, every
event and span behind them (retries and duplicates included, as attempts), and where it stalled.

Each event is labelled with the stage it belongs to: the stage it marks (`on`), or the stage
it records a failed attempt at (`fails_on`, e.g. a gateway request answered 5xx).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select

from collectors.schema import format_time
from collectors.store import Store, now_us
from collectors.tables import events, journey_stages, spans
from slas import stages as stage_table
from slas.definitions import Definitions
from slas.errors import EvaluationError
from slas.stalls import Stall, find_stalls


@dataclass(frozen=True)
class StageTime:
    name: str
    owner: str
    first_us: int | None
    attempts: int = 0
    failed_attempts: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "owner": self.owner, "attempts": self.attempts,
                "failed_attempts": self.failed_attempts,
                "first_at": None if self.first_us is None else format_time(self.first_us)}


@dataclass(frozen=True)
class Timeline:
    journey: str
    key: str
    at_us: int
    stages: list[StageTime]
    events: list[dict[str, Any]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    stall: Stall | None = None

    def as_json(self) -> dict[str, Any]:
        return {"journey": self.journey, "key": self.key, "at": format_time(self.at_us),
                "stages": [s.as_json() for s in self.stages],
                "events": [_event_json(e) for e in self.events],
                "spans": [_span_json(s) for s in self.spans],
                "stalled": None if self.stall is None else self.stall.as_json()}


def lead_timeline(store: Store, definitions: Definitions, key: str, journey: str | None = None,
                  at_us: int | None = None, *, refresh: bool = True) -> Timeline:
    """One journey's timeline at T; `refresh=False` reads the stage table as it is (the
    dashboard's read path: the evaluator keeps it current)."""
    at = now_us() if at_us is None else at_us
    if refresh:
        stage_table.refresh(store, definitions)
    name = journey or _journey_of(store, definitions, key)
    if name not in definitions.journeys:
        raise EvaluationError(f"unknown journey {name!r}; defined journeys: "
                              f"{', '.join(definitions.journeys)}")
    spec = definitions.journeys[name]
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(
            select(events).where(events.c[spec.key] == key, events.c.time_us <= at)
            .order_by(events.c.time_us, events.c.seq)).mappings()]
        span_rows = [dict(r) for r in conn.execute(
            select(spans).where(spans.c.correlationid == key, spans.c.start_us <= at)
            .order_by(spans.c.start_us)).mappings()]
    if not rows:
        raise EvaluationError(f"no events for {key!r} in journey {name!r} up to "
                              f"{format_time(at)}; check the key ({spec.key})")
    _label(rows, spec.stages)
    with store.engine.connect() as conn:  # the stage table's first times, as of T
        reached = dict(conn.execute(select(journey_stages.c.stage, journey_stages.c.first_us)
                                    .where(journey_stages.c.journey == name,
                                           journey_stages.c.jkey == key,
                                           journey_stages.c.first_us <= at)).all())
    stage_times = [_stage_time(stage, reached.get(stage.name), rows) for stage in spec.stages]
    stalled = find_stalls(store, definitions, name, at, refresh=False, key=key).stalled
    return Timeline(name, key, at, stage_times, rows, span_rows, stalled[0] if stalled else None)


def _journey_of(store: Store, definitions: Definitions, key: str) -> str:
    if len(definitions.journeys) == 1:
        return next(iter(definitions.journeys))
    with store.engine.connect() as conn:
        found = conn.execute(select(journey_stages.c.journey)
                             .where(journey_stages.c.jkey == key).limit(1)).scalar()
    if found is None:
        raise EvaluationError(f"no journey has the key {key!r}; check the key or pass "
                              "--journey")
    return str(found)


def _label(rows: list[dict[str, Any]], stages: Any) -> None:
    """Set each event's `stage` (None when it belongs to none) and `failed` (True when it
    records a failed attempt at that stage)."""
    roles = {etype: (stage.name, True) for stage in stages for etype in stage.fails_on}
    roles.update({etype: (stage.name, False) for stage in stages for etype in stage.on})
    for row in rows:
        row["stage"], row["failed"] = roles.get(row["type"], (None, False))


def _stage_time(stage: Any, first_us: int | None, rows: list[dict[str, Any]]) -> StageTime:
    attempts = sum(1 for row in rows if row["type"] in stage.on)
    failed = sum(1 for row in rows if row["type"] in stage.fails_on)
    return StageTime(stage.name, stage.owner, first_us, attempts, failed)


def _event_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"time": format_time(row["time_us"]), "type": row["type"], "id": row["event_id"],
            "source": row["source"], "stage": row["stage"], "failed": row["failed"],
            "data": _json(row["data"])}


def _span_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], "service": row["service"], "trace_id": row["trace_id"],
            "span_id": row["span_id"], "start": format_time(row["start_us"]),
            "duration_ms": (row["end_us"] - row["start_us"]) / 1000,
            "status_code": row["status_code"]}


def _json(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)
