"""Measuring: SQL that turns the store into counts for one SLA at time T. No judging here.

All aggregation runs in the database (SQLite or PostgreSQL) on the stage table
(`slas.stages`) or, for freshness, on per-minute maxima of the event index. Evaluation at T
sees only events whose time is <= T. Times are microseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, case, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from collectors.tables import events, journey_attrs, journey_stages
from slas.spec import CompletenessSla, FreshnessSla, JourneySla, LatencySla, Sla

US = 1_000_000
MINUTE = 60 * US
SPANS = {"1h": 3600 * US, "6h": 6 * 3600 * US}
PERCENTILES = (0.50, 0.95, 0.99)


@dataclass(frozen=True)
class Counts:
    """What was measured for one SLA at T: good and bad overall and per burn-rate span,
    and for latency SLAs the latency percentiles (seconds) of the journeys that reached `to`."""

    good: int
    bad: int
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    percentiles: tuple[float | None, ...] = (None, None, None)


def measure(conn: Connection, sla: Sla, at_us: int) -> Counts:
    if isinstance(sla, LatencySla):
        return latency(conn, sla, at_us)
    if isinstance(sla, CompletenessSla):
        return completeness(conn, sla, at_us)
    return freshness(conn, sla, at_us)


def _sum(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def population(conn: Connection, sla: JourneySla, at_us: int, lo_us: int, hi_us: int):
    """FROM/JOIN for journeys whose `from` time is in (lo, hi], matching `where` as of T.
    Returns (f, t, conditions): f and t are the `from` and `to` rows (t outer-joined)."""
    f = journey_stages.alias("f")
    t = journey_stages.alias("t")
    joined = f.outerjoin(t, and_(t.c.journey == f.c.journey, t.c.jkey == f.c.jkey,
                                 t.c.stage == sla.to))
    conditions = [f.c.journey == sla.journey, f.c.stage == sla.from_, f.c.first_us > lo_us,
                  f.c.first_us <= hi_us]
    conditions += [where_matches(conn, sla.journey, f.c.jkey, name, wanted, at_us)
                   for name, wanted in sla.where.items()]
    return joined, f, t, conditions


def where_matches(conn: Connection, journey: str, jkey: ColumnElement[str], name: str,
                  wanted: object, at_us: int) -> ColumnElement[bool]:
    """The attribute's latest value at or before T (ties: source, then id) is one wanted."""
    import orjson

    a = journey_attrs.alias("a")
    source, event_id = a.c.source, a.c.event_id
    if conn.dialect.name == "postgresql":
        source, event_id = source.collate("C"), event_id.collate("C")
    latest = (select(a.c.value)
              .where(a.c.journey == journey, a.c.jkey == jkey, a.c.name == name,
                     a.c.time_us <= at_us)
              .order_by(a.c.time_us.desc(), source.desc(), event_id.desc())
              .limit(1).scalar_subquery())
    values = wanted if isinstance(wanted, list) else [wanted]
    return latest.in_([orjson.dumps(v).decode() for v in values])


@dataclass(frozen=True)
class Judged:
    """A journey SLA's population at T with its good and bad conditions, as SQL."""

    joined: Any
    f: Any
    t: Any
    conditions: list[ColumnElement[bool]]
    good: ColumnElement[bool]
    bad: ColumnElement[bool]
    allowed_us: int


def judged(conn: Connection, sla: JourneySla, at_us: int) -> Judged:
    if isinstance(sla, LatencySla):
        allowed = sla.threshold * US
        joined, f, t, conditions = population(conn, sla, at_us, at_us - sla.window * US,
                                              at_us)
        reached = and_(t.c.first_us.is_not(None), t.c.first_us <= at_us)
        waited = t.c.first_us - f.c.first_us
        good = and_(reached, waited <= allowed)
        bad = or_(and_(reached, waited > allowed),
                  and_(~reached, literal(at_us) - f.c.first_us > allowed))
    else:
        assert isinstance(sla, CompletenessSla)
        allowed = sla.within * US
        joined, f, t, conditions = population(conn, sla, at_us, at_us - sla.window * US,
                                              at_us - allowed)
        good = and_(t.c.first_us.is_not(None), t.c.first_us - f.c.first_us <= allowed)
        bad = ~good
    return Judged(joined, f, t, conditions, good, bad, allowed)


def latency(conn: Connection, sla: LatencySla, at_us: int) -> Counts:
    parts = judged(conn, sla, at_us)
    joined, f, t, conditions, good, bad = (parts.joined, parts.f, parts.t, parts.conditions,
                                           parts.good, parts.bad)
    reached = and_(t.c.first_us.is_not(None), t.c.first_us <= at_us)
    waited = t.c.first_us - f.c.first_us
    columns = [_sum(good), _sum(bad), _sum(reached)]
    for span in SPANS.values():
        recent = f.c.first_us > at_us - span
        columns += [_sum(and_(recent, good)), _sum(and_(recent, bad))]
    row = conn.execute(select(*columns).select_from(joined).where(*conditions)).one()
    spans = {name: (row[3 + 2 * i], row[4 + 2 * i]) for i, name in enumerate(SPANS)}
    ranks = _ranks(int(row[2]))
    waits = select(waited.label("d")).select_from(joined).where(*conditions, reached)
    return Counts(int(row[0]), int(row[1]), spans, _percentiles(conn, waits, ranks))


def _ranks(count: int) -> list[tuple[int, int, float]]:
    """(lower rank, upper rank, fraction) of each percentile, as percentile_cont defines."""
    out = []
    for p in PERCENTILES:
        position = p * (count - 1)
        out.append((math.floor(position), math.ceil(position), position - math.floor(position)))
    return out if count else []


def _percentiles(conn: Connection, waits, ranks: list[tuple[int, int, float]]
                 ) -> tuple[float | None, ...]:
    if not ranks:
        return (None,) * len(PERCENTILES)
    wanted = sorted({r for lo, hi, _ in ranks for r in (lo, hi)})
    inner = waits.subquery()
    numbered = select(inner.c.d, (func.row_number().over(order_by=inner.c.d) - 1).label("rn"))
    sub = numbered.subquery()
    values = dict(conn.execute(select(sub.c.rn, sub.c.d).where(sub.c.rn.in_(wanted))).all())
    return tuple((values[lo] + (values[hi] - values[lo]) * frac) / US for lo, hi, frac in ranks)


def completeness(conn: Connection, sla: CompletenessSla, at_us: int) -> Counts:
    parts = judged(conn, sla, at_us)
    joined, f, conditions, good = parts.joined, parts.f, parts.conditions, parts.good
    columns = [_sum(good), func.count()]
    for span in SPANS.values():
        recent = f.c.first_us > at_us - span
        columns += [_sum(and_(recent, good)), _sum(recent)]
    row = conn.execute(select(*columns).select_from(joined).where(*conditions)).one()
    spans = {name: (int(row[2 + 2 * i]), int(row[3 + 2 * i]) - int(row[2 + 2 * i]))
             for i, name in enumerate(SPANS)}
    return Counts(int(row[0]), int(row[1]) - int(row[0]), spans)


def stalled_stage(conn: Connection, sla: JourneySla, stage_names: list[str], at_us: int
                  ) -> tuple[int, int] | None:
    """For the bad journeys at T: the stage each had last reached when its deadline passed
    (`from` time + threshold or within), most common first: (stage index, journeys)."""
    parts = judged(conn, sla, at_us)
    f = parts.f
    s = journey_stages.alias("s")
    index = case({name: i for i, name in enumerate(stage_names)}, value=s.c.stage)
    reached_by_deadline = parts.joined.join(s, and_(
        s.c.journey == f.c.journey, s.c.jkey == f.c.jkey,
        s.c.first_us <= f.c.first_us + parts.allowed_us, s.c.first_us <= at_us))
    last = (select(func.max(index).label("last")).select_from(reached_by_deadline)
            .where(*parts.conditions, parts.bad).group_by(f.c.jkey).subquery())
    row = conn.execute(select(last.c.last, func.count()).group_by(last.c.last)
                       .order_by(func.count().desc(), last.c.last).limit(1)).first()
    return None if row is None else (int(row[0]), int(row[1]))


def slice_ends(at_us: int, window_us: int) -> range:
    """Ends of the one-minute timeslices in (T-W, T]: whole UTC minutes."""
    last = at_us // MINUTE * MINUTE
    first = (at_us - window_us) // MINUTE * MINUTE + MINUTE
    return range(first, last + 1, MINUTE)


def freshness(conn: Connection, sla: FreshnessSla, at_us: int) -> Counts:
    max_age = sla.max_age * US
    ends = slice_ends(at_us, sla.window * US)
    if not ends:
        return Counts(0, 0, {name: (0, 0) for name in SPANS})
    newest = _newest_by_minute(conn, sla, ends[0] - max_age, ends[-1])
    good_ends = _good_slices(ends, newest, max_age)
    spans = {}
    for name, span in SPANS.items():
        recent = [end for end in ends if end > at_us - span]
        good = sum(1 for end in recent if end in good_ends)
        spans[name] = (good, len(recent) - good)
    return Counts(len(good_ends), len(ends) - len(good_ends), spans)


def _newest_by_minute(conn: Connection, sla: FreshnessSla, lo_us: int, hi_us: int
                      ) -> list[tuple[int, int]]:
    """(slice end, newest event time) for each minute with a matching event in [lo, hi]."""
    bucket = (events.c.time_us + (MINUTE - 1)) // MINUTE
    query = (select(bucket.label("b"), func.max(events.c.time_us))
             .where(events.c.type.in_(sla.type), events.c.time_us >= lo_us,
                    events.c.time_us <= hi_us)
             .group_by(bucket).order_by(bucket))
    if sla.source:
        query = query.where(events.c.source.in_(sla.source))
    return [(int(b) * MINUTE, int(newest)) for b, newest in conn.execute(query)]


def _good_slices(ends: range, newest: list[tuple[int, int]], max_age: int) -> set[int]:
    good: set[int] = set()
    latest: int | None = None
    index = 0
    for end in ends:
        while index < len(newest) and newest[index][0] <= end:
            latest = newest[index][1] if latest is None else max(latest, newest[index][1])
            index += 1
        if latest is not None and end - latest <= max_age:
            good.add(end)
    return good
