"""The per-journey stage table, kept up to date from `events` incrementally, in SQL.

`journey_stages` holds, for each journey key and stage, the time of the stage's first event
(the earliest, whatever the order of ingestion); `journey_attrs` holds every value of the
attributes that `where` clauses read, with its event's time, so the value as of any T can be
looked up; `journey_open` holds the keys that have not reached the final stage, the only
journeys that can be stalled now. All are derived data: `refresh` processes events past a
cursor (their `seq`), and rebuilds a journey from scratch when its definition changes.
A journey's events are the events of its stages' types that carry its key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson
from sqlalchemy import Connection, and_, case, delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from collectors.store import Store, analyze
from collectors.tables import (
    events,
    journey_attrs,
    journey_open,
    journey_stages,
    sla_population,
)
from slas import population
from slas.attributes import attribute_value
from slas.definitions import Definitions
from slas.spec import CompletenessSla, Journey, LatencySla

CHUNK = 1_000_000  # events per transaction when catching up
BULK = 100_000  # a catch-up this large refreshes PostgreSQL's planner statistics


def refresh(store: Store, definitions: Definitions) -> int:
    """Bring the stage and attribute tables up to the newest event; returns events scanned."""
    with store.engine.connect() as conn:
        newest = conn.execute(select(func.max(events.c.seq))).scalar() or 0
    scanned = 0
    for name, journey in definitions.journeys.items():
        scanned += _refresh_journey(store, name, journey, attributes(definitions, name),
                                    newest)
    population.refresh(store, definitions, newest)
    if scanned > BULK:
        analyze(store, [journey_stages, journey_attrs, journey_open, sla_population],
                vacuum=True)
    return scanned


def attributes(definitions: Definitions, journey: str) -> list[str]:
    """Attribute names that some SLA on `journey` filters by."""
    names = {key for sla in definitions.slas if isinstance(sla, LatencySla | CompletenessSla)
             and sla.journey == journey for key in sla.where}
    return sorted(names)


def _refresh_journey(store: Store, name: str, journey: Journey, attrs: list[str],
                     newest: int) -> int:
    cursor = f"stages:{name}"
    fingerprint = _fingerprint(journey, attrs)
    saved = (store.get_cursor(cursor) or ":0").rsplit(":", 1)
    done = int(saved[1]) if saved[0] == fingerprint else 0
    if done >= newest and saved[0] == fingerprint:
        return 0
    with store.engine.begin() as conn:
        if saved[0] != fingerprint:
            for table in (journey_stages, journey_attrs, journey_open):
                conn.execute(delete(table).where(table.c.journey == name))
        store.set_cursor(cursor, f"{fingerprint}:{done}", conn=conn)
    start = done
    while start < newest:
        end = min(start + CHUNK, newest)
        with store.engine.begin() as conn:
            _upsert_stages(store, conn, name, journey, start, end)
            _track_open(store, conn, name, journey, start, end)
            for attr in attrs:
                _insert_attrs(store, conn, name, journey, attr, start, end)
            store.set_cursor(cursor, f"{fingerprint}:{end}", conn=conn)
        start = end
    return newest - done


def _fingerprint(journey: Journey, attrs: Iterable[str]) -> str:
    text = orjson.dumps([journey.key, [[s.name, list(s.on)] for s in journey.stages],
                         list(attrs)])
    return hashlib.sha256(text).hexdigest()[:16]


def _in_range(journey: Journey, start: int, end: int) -> ColumnElement[bool]:
    types = [etype for stage in journey.stages for etype in stage.on]
    key = events.c[journey.key]
    return and_(events.c.seq > start, events.c.seq <= end, events.c.type.in_(types),
                key.is_not(None))


def _upsert_stages(store: Store, conn: Connection, name: str, journey: Journey,
                   start: int, end: int) -> None:
    stage = case({etype: s.name for s in journey.stages for etype in s.on},
                 value=events.c.type)
    key = events.c[journey.key]
    rows = (select(literal(name), key, stage, func.min(events.c.time_us))
            .where(_in_range(journey, start, end)).group_by(key, stage))
    insert = (sqlite_insert if store.dialect == "sqlite" else pg_insert)(journey_stages)
    stmt = insert.from_select(["journey", "jkey", "stage", "first_us"], rows)
    earliest = (func.min if store.dialect == "sqlite" else func.least)(
        journey_stages.c.first_us, stmt.excluded.first_us)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["journey", "jkey", "stage"], set_={"first_us": earliest}))


def _track_open(store: Store, conn: Connection, name: str, journey: Journey,
                start: int, end: int) -> None:
    """Keys seen in this range join the open set; keys that reached the final stage leave."""
    key = events.c[journey.key]
    seen = select(literal(name), key).where(_in_range(journey, start, end)).distinct()
    insert = (sqlite_insert if store.dialect == "sqlite" else pg_insert)(journey_open)
    conn.execute(insert.from_select(["journey", "jkey"], seen).on_conflict_do_nothing())
    final = journey_stages.alias("final")
    finished = select(final.c.jkey).where(
        final.c.journey == name, final.c.stage == journey.stages[-1].name,
        final.c.jkey == journey_open.c.jkey).exists()
    conn.execute(delete(journey_open).where(journey_open.c.journey == name, finished))


def _insert_attrs(store: Store, conn: Connection, name: str, journey: Journey, attr: str,
                  start: int, end: int) -> None:
    value = attribute_value(store, attr)
    rows = select(literal(name), events.c[journey.key], literal(attr), events.c.time_us,
                  events.c.source, events.c.event_id, value).where(
        _in_range(journey, start, end), value.is_not(None))
    insert = (sqlite_insert if store.dialect == "sqlite" else pg_insert)(journey_attrs)
    conn.execute(insert.from_select(
        ["journey", "jkey", "name", "time_us", "source", "event_id", "value"], rows
    ).on_conflict_do_nothing())
