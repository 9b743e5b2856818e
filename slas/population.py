"""Journey SLA populations: one row per journey, keyed by what selects it.

A row holds the journey's `from` and `to` times (from the stage table), the wait between them,
whether `where` holds for the journey's final attributes (`matched`), and the time of its newest
attribute event (`settled_us`): at any T from then on, `matched` is the answer; before it, the
engine looks the attributes up as of T. Rows are clustered by (population, `from` time), so
measuring an SLA at T is one range scan; a second index orders them by wait, for percentiles.

A population's key (`population_key`) is a fingerprint of what selects its journeys: the
journey and its stages, `from`, `to` and `where`. SLAs that differ only in threshold, objective
or window share one population, and an edit of those needs no new rows. Derived data, like
the stage table: `refresh` brings every population the definitions use up to the newest
event (rebuilding the rows of journeys that received events since its cursor) and forgets
populations no SLA uses any more; `build` makes a population's rows for a preview.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, false, func, literal, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from collectors.store import Store
from collectors.tables import cursors, events, journey_attrs, journey_stages, sla_population
from slas.attributes import where_matches
from slas.definitions import Definitions
from slas.spec import JourneySla

COLUMNS = ["pkey", "f_us", "jkey", "t_us", "d_us", "matched", "settled_us"]
CURSOR = "population:"


def journey_slas(definitions: Definitions) -> list[JourneySla]:
    return [sla for sla in definitions.slas if isinstance(sla, JourneySla)]


def population_key(sla: JourneySla, definitions: Definitions) -> str:
    """The key of the rows of `sla`'s population: a fingerprint of the journey's definition,
    `from`, `to` and `where`."""
    journey = definitions.journeys[sla.journey]
    text = orjson.dumps([sla.journey, sla.from_, sla.to, sla.where, journey.key,
                         [[s.name, list(s.on)] for s in journey.stages]])
    return hashlib.sha256(text).hexdigest()[:16]


def live_keys(definitions: Definitions) -> dict[str, JourneySla]:
    """Every population the definitions use, with one SLA that selects it."""
    return {population_key(sla, definitions): sla for sla in journey_slas(definitions)}


def refresh(store: Store, definitions: Definitions, newest: int) -> None:
    """Bring every population the definitions use up to event `newest` (after the stage
    table is), and forget the rows of populations no SLA uses any more."""
    live = live_keys(definitions)
    for key, sla in live.items():
        cursor = CURSOR + key
        saved = store.get_cursor(cursor)
        if saved is not None and int(saved) >= newest:
            continue  # current: evaluation every minute must not write anything here
        with store.engine.begin() as conn:
            if saved is None:
                conn.execute(delete(sla_population).where(sla_population.c.pkey == key))
                _insert(store, conn, key, sla, None)
            else:
                keys = _touched(sla, definitions, int(saved), newest)
                conn.execute(delete(sla_population).where(
                    sla_population.c.pkey == key, sla_population.c.jkey.in_(keys)))
                _insert(store, conn, key, sla, keys)
            store.set_cursor(cursor, str(newest), conn=conn)
    _forget(store, set(live))


def build(store: Store, conn: Connection, key: str, sla: JourneySla,
          since_us: int | None = None) -> None:
    """Rows under `key` for the journeys of `sla` that reached `from` after `since_us`, and no
    cursor: a preview's own population (the caller deletes it with `drop`)."""
    _insert(store, conn, key, sla, None, since_us)


def drop(conn: Connection, key: str) -> None:
    conn.execute(delete(sla_population).where(sla_population.c.pkey == key))


def is_current(store: Store, key: str) -> bool:
    """Whether `refresh` keeps rows under `key` (an SLA in force selects it)."""
    return store.get_cursor(CURSOR + key) is not None


def _forget(store: Store, live: set[str]) -> None:
    with store.engine.connect() as conn:
        names = conn.execute(select(cursors.c.name).where(
            cursors.c.name.like(CURSOR + "%"))).scalars().all()
    stale = [name for name in names if name[len(CURSOR):] not in live]
    if not stale:
        return
    with store.engine.begin() as conn:
        for name in stale:
            drop(conn, name[len(CURSOR):])
        conn.execute(delete(cursors).where(cursors.c.name.in_(stale)))


def _touched(sla: JourneySla, definitions: Definitions, start: int, end: int) -> Any:
    journey = definitions.journeys[sla.journey]
    key = events.c[journey.key]
    types = [etype for stage in journey.stages for etype in stage.on]
    return select(key).where(events.c.seq > start, events.c.seq <= end,
                             events.c.type.in_(types), key.is_not(None)).distinct()


def _insert(store: Store, conn: Connection, key: str, sla: JourneySla, keys: Any | None,
            since_us: int | None = None) -> None:
    f, t = journey_stages.alias("f"), journey_stages.alias("t")
    matched, settled = _final_match(store, sla, f.c.jkey)
    rows = (select(literal(key), f.c.first_us, f.c.jkey, t.c.first_us,
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
    checks = [where_matches(store.dialect, sla.journey, jkey, name, wanted, None)
              for name, wanted in sla.where.items()]
    a = journey_attrs.alias("s")
    settled = (select(func.max(a.c.time_us))
               .where(a.c.journey == sla.journey, a.c.jkey == jkey,
                      a.c.name.in_(list(sla.where))).scalar_subquery())
    return func.coalesce(and_(*checks), false()), settled
