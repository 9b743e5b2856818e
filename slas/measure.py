"""Measuring: SQL that turns the store into counts for one SLA at time T. No judging here.

All aggregation runs in the database (SQLite or PostgreSQL) on the stage table
(`slas.stages`) or, for freshness, on per-minute maxima of the event index. Evaluation at T
sees only events whose time is <= T. Times are microseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Float, Integer, and_, case, cast, func, literal, or_, select
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


@dataclass(frozen=True)
class Population:
    """A journey SLA's population at T as a CTE `pop(jkey, f, t)` (the `from` and `to`
    times, t NULL when never reached), with its good and bad conditions, as SQL."""

    pop: Any
    good: ColumnElement[bool]
    bad: ColumnElement[bool]
    reached: ColumnElement[bool]
    allowed_us: int


def population(conn: Connection, sla: JourneySla, at_us: int) -> Population:
    """Journeys whose `from` time is in the SLA's range at T and whose attributes as of T
    match `where`; good and bad per DESIGN.md."""
    latency_kind = isinstance(sla, LatencySla)
    allowed = (sla.threshold if isinstance(sla, LatencySla) else sla.within) * US  # type: ignore[union-attr]
    hi = at_us if latency_kind else at_us - allowed
    f, t = journey_stages.alias("f"), journey_stages.alias("t")
    joined = f.outerjoin(t, and_(t.c.journey == f.c.journey, t.c.jkey == f.c.jkey,
                                 t.c.stage == sla.to))
    conditions = [f.c.journey == sla.journey, f.c.stage == sla.from_,
                  f.c.first_us > at_us - sla.window * US, f.c.first_us <= hi]
    conditions += [where_matches(conn, sla.journey, f.c.jkey, name, wanted, at_us)
                   for name, wanted in sla.where.items()]
    pop = (select(f.c.jkey, f.c.first_us.label("f"), t.c.first_us.label("t"))
           .select_from(joined).where(*conditions).cte("pop"))
    reached = and_(pop.c.t.is_not(None), pop.c.t <= at_us)
    waited = pop.c.t - pop.c.f
    good = and_(reached, waited <= allowed)
    if latency_kind:
        bad = or_(and_(reached, waited > allowed),
                  and_(~reached, literal(at_us) - pop.c.f > allowed))
    else:
        good = and_(pop.c.t.is_not(None), waited <= allowed)
        bad = ~good
    return Population(pop, good, bad, reached, allowed)


def where_matches(conn: Connection, journey: str, jkey: ColumnElement[str], name: str,
                  wanted: object, at_us: int) -> ColumnElement[bool]:
    """The attribute's latest value at or before T (ties: source, then id) is one wanted."""
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


def _counts(p: Population, at_us: int) -> list[ColumnElement[int]]:
    columns = [_sum(p.good), _sum(p.bad)]
    for span in SPANS.values():
        recent = p.pop.c.f > at_us - span
        columns += [_sum(and_(recent, p.good)), _sum(and_(recent, p.bad))]
    return columns


def _spans(row: Any) -> dict[str, tuple[int, int]]:
    return {name: (int(row[2 + 2 * i]), int(row[3 + 2 * i])) for i, name in enumerate(SPANS)}


def completeness(conn: Connection, sla: CompletenessSla, at_us: int) -> Counts:
    p = population(conn, sla, at_us)
    row = conn.execute(select(*_counts(p, at_us)).select_from(p.pop)).one()
    return Counts(int(row[0]), int(row[1]), _spans(row))


def latency(conn: Connection, sla: LatencySla, at_us: int) -> Counts:
    """Counts and percentiles in one statement: the population is computed once (a CTE
    used twice is materialised), ranked in SQL, and only the needed ranks come back."""
    p = population(conn, sla, at_us)
    totals = select(*_counts(p, at_us)).select_from(p.pop).subquery("totals")
    waited = (p.pop.c.t - p.pop.c.f).label("d")
    ranked = (select(waited, (func.row_number().over(order_by=waited) - 1).label("rn"),
                     func.count().over().label("n"))
              .where(p.reached).cte("ranked"))
    picked = (select(ranked.c.rn, ranked.c.d, ranked.c.n)
              .where(ranked.c.rn.in_(_rank_bounds(conn, ranked.c.n))).subquery("picked"))
    rows = conn.execute(select(totals, picked.c.rn, picked.c.d, picked.c.n)
                        .select_from(totals.outerjoin(picked, literal(True)))).all()
    first = rows[0]
    reached = int(first.n) if first.n is not None else 0
    values = {int(r.rn): int(r.d) for r in rows if r.rn is not None}
    return Counts(int(first[0]), int(first[1]), _spans(first),
                  _interpolate(_ranks(reached), values))


def _rank_bounds(conn: Connection, n: Any) -> list[Any]:
    """SQL for floor and ceil of p * (n - 1) for each percentile, in double precision
    like Python's `_ranks`, so both pick the same ranks."""
    bounds = []
    for p in PERCENTILES:
        position = cast(literal(p), Float) * cast(n - 1, Float)
        if conn.dialect.name == "postgresql":
            low, high = func.floor(position), func.ceil(position)
        else:
            low = cast(position, Integer)  # truncation == floor: position >= 0
            high = low + case((position > low, 1), else_=0)
        bounds += [low, high]
    return bounds


def _ranks(count: int) -> list[tuple[int, int, float]]:
    """(lower rank, upper rank, fraction) of each percentile, as percentile_cont defines."""
    out = []
    for p in PERCENTILES:
        position = p * (count - 1)
        out.append((math.floor(position), math.ceil(position), position - math.floor(position)))
    return out if count else []


def _interpolate(ranks: list[tuple[int, int, float]], values: dict[int, int]
                 ) -> tuple[float | None, ...]:
    if not ranks:
        return (None,) * len(PERCENTILES)
    return tuple((values[lo] + (values[hi] - values[lo]) * frac) / US for lo, hi, frac in ranks)


def stalled_stage(conn: Connection, sla: JourneySla, stage_names: list[str], at_us: int
                  ) -> tuple[int, int] | None:
    """For the bad journeys at T: the stage each had last reached when its deadline passed
    (`from` time + threshold or within), most common first: (stage index, journeys)."""
    p = population(conn, sla, at_us)
    s = journey_stages.alias("s")
    index = case({name: i for i, name in enumerate(stage_names)}, value=s.c.stage)
    reached_by_deadline = p.pop.join(s, and_(
        s.c.journey == sla.journey, s.c.jkey == p.pop.c.jkey,
        s.c.first_us <= p.pop.c.f + p.allowed_us, s.c.first_us <= at_us))
    last = (select(func.max(index).label("last")).select_from(reached_by_deadline)
            .where(p.bad).group_by(p.pop.c.jkey).subquery())
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
