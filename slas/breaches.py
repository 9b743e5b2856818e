"""Breaches: opened when an SLA goes `breached`, kept while it stays so, closed on recovery.

A breach records its worst SLI and the stage where its bad journeys most often stalled, with
the team accountable for the next stage. Evaluating the same T again changes nothing; an
evaluation older than what a breach has already seen is ignored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy import update as sql_update

from collectors.store import Store
from collectors.tables import breaches
from slas.definitions import Definitions
from slas.judge import Result
from slas.measure import stalled_stage
from slas.spec import JourneySla, Sla


def update(store: Store, definitions: Definitions, at_us: int, results: list[Result]) -> None:
    """Open, extend or close each SLA's breach from its result at `at_us`."""
    with store.engine.begin() as conn:
        for result in results:
            _apply(conn, definitions.sla(result.name), definitions, at_us, result)


def _apply(conn: Connection, sla: Sla, definitions: Definitions, at_us: int,
           result: Result) -> None:
    current = conn.execute(select(breaches).where(
        breaches.c.sla == sla.name, breaches.c.closed_at_us.is_(None))
        .order_by(breaches.c.opened_at_us.desc())).mappings().first()
    if current is not None and at_us < current["last_seen_us"]:
        return
    if result.status == "breached":
        if current is None:
            conn.execute(insert(breaches).values(_opened(conn, sla, definitions, at_us, result)))
        else:
            worst = min(current["worst_sli"], result.sli if result.sli is not None else 1.0)
            conn.execute(_set(current["id"], last_seen_us=at_us, worst_sli=worst))
    elif current is not None:
        conn.execute(_set(current["id"], closed_at_us=at_us, last_seen_us=at_us))


def _set(breach_id: int, **values: Any) -> Any:
    return sql_update(breaches).where(breaches.c.id == breach_id).values(**values)


def _opened(conn: Connection, sla: Sla, definitions: Definitions, at_us: int,
            result: Result) -> dict[str, Any]:
    row: dict[str, Any] = {"sla": sla.name, "team": sla.team, "severity": sla.severity,
                           "opened_at_us": at_us, "last_seen_us": at_us,
                           "worst_sli": result.sli}
    if isinstance(sla, JourneySla):
        stages = definitions.journeys[sla.journey].stages
        found = stalled_stage(conn, definitions, sla, at_us)
        if found is not None:
            index, count = found
            accountable = stages[min(index + 1, len(stages) - 1)]
            row.update(stalled_stage=stages[index].name, stalled_owner=accountable.owner,
                       stalled_count=count)
    return row

