"""What the alert rules read at T, gathered from the store: the stored evaluation of each SLA,
its open breach, the journeys stalled per stage, failing collectors and journeys whose
delivery failed again and again. Reading only; `slas.rules` decides what fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, select

from collectors.store import Store
from collectors.tables import breaches, events, journey_stages, sla_results, source_status
from slas.definitions import Definitions
from slas.judge import Result
from slas.measure import US
from slas.spec import format_duration
from slas.stalls import DEFAULT_WINDOW_S, StallReport, find_stalls


@dataclass(frozen=True)
class FailingSource:
    """A collector whose last `errors` polls failed."""

    name: str
    kind: str | None
    errors: int
    last_error: str | None
    since_us: int | None


@dataclass(frozen=True)
class FailedDeliveries:
    """Journeys at one stage with at least `failures` failed attempts and the stage still
    not reached at T."""

    journey: str
    stage: str
    journeys: int
    attempts: int


@dataclass(frozen=True)
class Signals:
    at_us: int
    results: Mapping[str, Result]  # the newest stored evaluation at or before T, per SLA
    evaluated_us: Mapping[str, int]
    breaches: Mapping[str, Mapping[str, Any]]  # open breach per SLA
    stalls: Mapping[str, StallReport] = field(default_factory=dict)
    sources: tuple[FailingSource, ...] = ()
    failed: tuple[FailedDeliveries, ...] = ()


def gather(store: Store, definitions: Definitions, at_us: int, *, failures: int,
           stalls: bool = True, reports: Mapping[str, StallReport] | None = None) -> Signals:
    """Everything the rules need at T (the stage table must be current: the evaluator's).
    `reports`: the stalls at T when the caller has already found them (`baton serve`)."""
    if reports is None:
        reports = {name: find_stalls(store, definitions, name, at_us, refresh=False)
                   for name in definitions.journeys} if stalls else {}
    with store.engine.connect() as conn:
        results, evaluated = _results(conn, definitions, at_us)
        return Signals(at_us, results, evaluated, _open_breaches(conn, at_us), reports,
                       _failing_sources(conn, failures),
                       tuple(_failed_deliveries(conn, definitions, at_us, failures)))


def _results(conn: Connection, definitions: Definitions, at_us: int
             ) -> tuple[dict[str, Result], dict[str, int]]:
    r = sla_results
    newest = (select(r.c.sla, func.max(r.c.evaluated_at_us).label("at"))
              .where(r.c.evaluated_at_us <= at_us,
                     r.c.sla.in_([sla.name for sla in definitions.slas]))
              .group_by(r.c.sla).subquery())
    rows = conn.execute(select(r).join(newest, and_(r.c.sla == newest.c.sla,
                                                    r.c.evaluated_at_us == newest.c.at)))
    results, evaluated = {}, {}
    for row in rows.mappings():
        results[row["sla"]] = stored_result(dict(row))
        evaluated[row["sla"]] = int(row["evaluated_at_us"])
    return results, evaluated


def stored_result(row: Mapping[str, Any]) -> Result:
    """A stored `sla_results` row as the engine's Result (with its burn-rate span counts)."""
    spans = {name: (int(good), int(bad))
             for name, (good, bad) in orjson.loads(row["spans"] or "{}").items()}
    return Result(
        name=row["sla"], team=row["team"], kind=row["kind"],
        window=format_duration(int(row["window_s"])), objective=row["objective"],
        good=row["good"], bad=row["bad"], total=row["total"], sli=row["sli"],
        budget_remaining=row["budget_remaining"],
        burn_rate={"1h": row["burn_1h"], "6h": row["burn_6h"]}, status=row["status"],
        p50_s=row["p50_s"], p95_s=row["p95_s"], p99_s=row["p99_s"], spans=spans)


def _open_breaches(conn: Connection, at_us: int) -> dict[str, Mapping[str, Any]]:
    rows = conn.execute(select(breaches).where(breaches.c.opened_at_us <= at_us,
                                               breaches.c.closed_at_us.is_(None)))
    return {row["sla"]: dict(row) for row in rows.mappings()}


def _failing_sources(conn: Connection, failures: int) -> tuple[FailingSource, ...]:
    s = source_status
    rows = conn.execute(select(s).where(s.c.consecutive_errors >= failures)
                        .order_by(s.c.source)).mappings()
    return tuple(FailingSource(row["source"], row["kind"], int(row["consecutive_errors"]),
                               row["last_error"], row["last_error_us"]) for row in rows)


def _failed_deliveries(conn: Connection, definitions: Definitions, at_us: int,
                       failures: int) -> list[FailedDeliveries]:
    """Per stage with `fails_on` types: journeys of the last week with at least `failures`
    failed attempts that had not reached the stage by T."""
    out = []
    for name, journey in definitions.journeys.items():
        key = events.c[journey.key]
        for stage in journey.stages:
            failed_types = list(getattr(stage, "fails_on", ()) or ())
            if not failed_types:
                continue
            reached = select(journey_stages.c.jkey).where(
                journey_stages.c.journey == name, journey_stages.c.stage == stage.name,
                journey_stages.c.jkey == key, journey_stages.c.first_us <= at_us).exists()
            per_key = (select(key.label("k"), func.count().label("n"))
                       .where(events.c.type.in_(failed_types), key.is_not(None),
                              events.c.time_us <= at_us,
                              events.c.time_us > at_us - DEFAULT_WINDOW_S * US, ~reached)
                       .group_by(key).having(func.count() >= failures).subquery())
            journeys, attempts = conn.execute(
                select(func.count(), func.coalesce(func.sum(per_key.c.n), 0))
                .select_from(per_key)).one()
            if journeys:
                out.append(FailedDeliveries(name, stage.name, int(journeys), int(attempts)))
    return out
