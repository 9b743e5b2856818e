"""Per-SLA populations: one row per journey for each latency or completeness SLA.

A row holds the journey's `from` and `to` times (from the stage table), the wait between them,
whether `where` holds for the journey's final attributes (`matched`), and the time of its newest
attribute event (`settled_us`): at any T from then on, `matched` is the answer; before it, the
engine looks the attributes up as of T. Rows are clustered by (SLA, `from` time), so measuring
an SLA at T is one range scan; a second index orders them by wait, for percentiles.

Derived data, like the stage table: `refresh` rebuilds the rows of journeys that received events
since its cursor, and rebuilds an SLA entirely when its definition changes.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    and_,
    delete,
    false,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from collectors.store import Store
from collectors.tables import events, journey_attrs, journey_stages, sla_population
from slas.definitions import Definitions
from slas.spec import JourneySla

COLUMNS = ["sla", "f_us", "jkey", "t_us", "d_us", "matched", "settled_us"]


def journey_slas(definitions: Definitions) -> list[JourneySla]:
    return [sla for sla in definitions.slas if isinstance(sla, JourneySla)]


def refresh(store: Store, definitions: Definitions, newest: int) -> None:
    """Bring every journey SLA's rows up to event `newest` (after the stage table is)."""
    for sla in journey_slas(definitions):
        cursor = f"population:{sla.name}"
        fingerprint = _fingerprint(sla, definitions)
        saved = (store.get_cursor(cursor) or ":0").rsplit(":", 1)
        if saved[0] == fingerprint and int(saved[1]) >= newest:
            continue  # current: evaluation every minute must not write anything here
        with store.engine.begin() as conn:
            if saved[0] != fingerprint:
                conn.execute(delete(sla_population).where(sla_population.c.sla == sla.name))
                _insert(store, conn, sla, definitions, None)
            elif int(saved[1]) < newest:
                keys = _touched(sla, definitions, int(saved[1]), newest)
                conn.execute(delete(sla_population).where(
                    sla_population.c.sla == sla.name, sla_population.c.jkey.in_(keys)))
                _insert(store, conn, sla, definitions, keys)
            store.set_cursor(cursor, f"{fingerprint}:{newest}", conn=conn)


def insert_window(store: Store, definitions: Definitions, since_us: int) -> None:
    """Rows of every journey SLA of `definitions` for the journeys that reached `from` after
    `since_us` only, and no cursor: scratch rows for a dry run, which measures no T earlier
    than `since_us` + the SLA's window and so reads no older row."""
    with store.engine.begin() as conn:
        for sla in journey_slas(definitions):
            _insert(store, conn, sla, definitions, None, since_us)


def _fingerprint(sla: JourneySla, definitions: Definitions) -> str:
    journey = definitions.journeys[sla.journey]
    text = orjson.dumps([sla.journey, sla.from_, sla.to, sla.where, journey.key,
                         [[s.name, list(s.on)] for s in journey.stages]])
    return hashlib.sha256(text).hexdigest()[:16]


def _touched(sla: JourneySla, definitions: Definitions, start: int, end: int):
    journey = definitions.journeys[sla.journey]
    key = events.c[journey.key]
    types = [etype for stage in journey.stages for etype in stage.on]
    return select(key).where(events.c.seq > start, events.c.seq <= end,
                             events.c.type.in_(types), key.is_not(None)).distinct()


def _insert(store: Store, conn: Connection, sla: JourneySla, definitions: Definitions,
            keys: Any | None, since_us: int | None = None) -> None:
    f, t = journey_stages.alias("f"), journey_stages.alias("t")
    matched, settled = _final_match(store, sla, f.c.jkey)
    rows = (select(literal(sla.name), f.c.first_us, f.c.jkey, t.c.first_us,
                   t.c.first_us - f.c.first_us, matched, settled)
            .select_from(f.outerjoin(t, and_(t.c.journey == f.c.journey, t.c.jkey == f.c.jkey,
                                             t.c.stage == sla.to)))
            .where(f.c.journey == sla.journey, f.c.stage == sla.from_))
    if keys is not None:
        rows = rows.where(f.c.jkey.in_(keys))
    if since_us is not None:
        rows = rows.where(f.c.first_us > since_us)
    insert = (sqlite_insert if store.dialect == "sqlite" else pg_insert)(sla_population)
    conn.execute(insert.from_select(COLUMNS, rows))


def _final_match(store: Store, sla: JourneySla, jkey: ColumnElement[str]
                 ) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """SQL for (where holds on the final attributes, time of the newest attribute event)."""
    if not sla.where:
        return true(), literal(None)
    from slas.measure import where_matches

    checks = [where_matches(store.dialect, sla.journey, jkey, name, wanted, None)
              for name, wanted in sla.where.items()]
    a = journey_attrs.alias("s")
    settled = (select(func.max(a.c.time_us))
               .where(a.c.journey == sla.journey, a.c.jkey == jkey,
                      a.c.name.in_(list(sla.where))).scalar_subquery())
    return func.coalesce(and_(*checks), false()), settled
