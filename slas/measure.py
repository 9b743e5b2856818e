"""Measuring: SQL that turns the store into counts for one SLA at time T. No judging here.

All aggregation runs in the database (SQLite or PostgreSQL): latency and completeness on the
per-SLA population rows (`slas.population`), freshness on per-minute maxima of the event
index. Evaluation at T sees only events whose time is <= T. Times are microseconds.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, case, false, func, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from collectors.tables import events, journey_stages, sla_population
from slas import rollups
from slas.attributes import where_matches
from slas.definitions import Definitions
from slas.population import population_key
from slas.rollups import limit_us
from slas.spec import CompletenessSla, FreshnessSla, JourneySla, LatencySla, Sla

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
# burn-rate spans measured at every evaluation: those of the default ErrorBudgetBurn rule
# (Google SRE workbook table 5-8); the JSON output reports 1h and 6h
SPANS = {"5m": 5 * MINUTE, "30m": 30 * MINUTE, "1h": HOUR, "6h": 6 * HOUR, "3d": 72 * HOUR}
REPORTED_SPANS = ("1h", "6h")
STATUS_SPANS = {"1h": HOUR}  # what `status` reads (at_risk: the 1h burn rate); for dry runs
PERCENTILES = (0.50, 0.95, 0.99)


@dataclass(frozen=True)
class Counts:
    """What was measured for one SLA at T: good and bad overall and per burn-rate span,
    and for latency SLAs the latency percentiles (seconds) of the journeys that reached `to`."""

    good: int
    bad: int
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    percentiles: tuple[float | None, ...] = (None, None, None)


Spans = Mapping[str, int]


def measure(conn: Connection, definitions: Definitions, sla: Sla, at_us: int,
            percentiles: bool = True, spans: Spans = SPANS) -> Counts:
    """Counts of `sla` at T, and good/bad per burn-rate span (name -> microseconds);
    `percentiles=False` leaves a latency SLA's percentiles out (None): reading them is half
    the cost, and a dry run's chart does not show them."""
    if isinstance(sla, JourneySla):
        return journey(conn, sla, population_key(sla, definitions), at_us, percentiles, spans)
    assert isinstance(sla, FreshnessSla)
    return freshness(conn, sla, at_us, spans)


def journey(conn: Connection, sla: JourneySla, key: str, at_us: int,
            percentiles: bool = True, spans: Spans = SPANS) -> Counts:
    """Counts of a latency or completeness SLA measured on the population rows under `key`
    (its own population's, or a preview's)."""
    if isinstance(sla, LatencySla):
        return latency(conn, sla, key, at_us, percentiles, spans)
    assert isinstance(sla, CompletenessSla)
    return completeness(conn, sla, key, at_us, spans)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows meet `condition` (NULL counts as not met): `count(*) FILTER (WHERE ...)`,
    which SQLite ran in about half the time of `sum(CASE WHEN ... THEN 1 ...)` at 1M leads."""
    return func.count().filter(condition)


@dataclass(frozen=True)
class Population:
    """A journey SLA's rows at T that the roll-ups do not answer, as a CTE `pop(jkey, f, t)`
    (the `from` and `to` times, t NULL when never reached), with SQL for good and bad in the
    window and in each span, as DESIGN.md defines them; and what the roll-ups answered."""

    pop: Any
    rows: list[ColumnElement[bool]]  # the window's whole population, on `sla_population`
    good: ColumnElement[bool]  # in the window's rows left to scan
    bad: ColumnElement[bool]
    reached: ColumnElement[bool]
    allowed_us: int
    spans: dict[str, tuple[ColumnElement[bool], ColumnElement[bool]]]  # name -> (good, bad)
    settled: rollups.Part


def population(conn: Connection, sla: JourneySla, key: str, at_us: int,
               spans: Spans | None = None) -> Population:
    """Journeys whose `from` time is in the SLA's range at T and whose attributes as of T
    match `where` (from `sla_population`); good and bad per DESIGN.md.

    A journey's outcome becomes known when it reaches `to` within the limit (good, at t) or
    when its deadline f + limit passes (bad), so a burn-rate span S counts the journeys with
    t in (T-S, T] (good) or f + limit in (T-S, T] (bad). Hours whose journeys have all
    settled come from the roll-ups (`slas.rollups`), when the SLA has them; the rest is one
    scan of the population's rows over the `from` ranges left."""
    assert isinstance(sla, LatencySla | CompletenessSla)
    latency_kind = isinstance(sla, LatencySla)
    allowed = limit_us(sla)
    lo, hi = at_us - sla.window * US, at_us if latency_kind else at_us - allowed
    spans = dict(spans or {})
    okey = rollups.outcome_key(key, sla)
    part = (rollups.settled(conn, okey, at_us, (lo, hi), spans)
            if rollups.is_current(conn, okey) else rollups.Part(
                window_left=[(lo, hi)],
                spans_left={name: [(at_us - span, at_us)] for name, span in spans.items()}))
    p = sla_population
    matching = [p.c.pkey == key, *_where(conn, sla, at_us)]
    scanned = _merge(part.window_left + [(a - allowed, b) for ranges in
                                         part.spans_left.values() for a, b in ranges])
    pop = (select(p.c.jkey, p.c.f_us.label("f"), p.c.t_us.label("t"))
           .where(*matching, rollups.in_ranges(p.c.f_us, scanned)).cte("pop"))
    f, t = pop.c.f, pop.c.t
    reached = and_(t.is_not(None), t <= at_us)
    good = and_(reached, t - f <= allowed)
    # latency: pending while T - f <= threshold; completeness: decided at f + within
    bad = and_(~good, f < at_us - allowed if latency_kind else f <= at_us - allowed)
    window = rollups.in_ranges(f, part.window_left)
    # a good journey whose `to` came before its `from` (clocks disagree) became known before
    # it began: counted by `_early` (its `from` may lie past the ranges scanned)
    by_span = {name: (and_(good, t >= f, rollups.in_ranges(t, part.spans_left[name])),
                      and_(bad, rollups.in_ranges(f + allowed, part.spans_left[name])))
               for name in spans}
    return Population(pop, [*matching, p.c.f_us > lo, p.c.f_us <= hi], and_(window, good),
                      and_(window, bad), and_(window, reached), allowed, by_span, part)


def _merge(ranges: list[rollups.Range]) -> list[rollups.Range]:
    """(lo, hi] ranges merged where they overlap or touch."""
    merged: list[rollups.Range] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        elif hi > lo:
            merged.append((lo, hi))
    return merged


def reach_us(sla: JourneySla, spans: Spans) -> int:
    """How far before T measuring `sla` with these burn-rate spans reads `from` times: the
    window, or a span plus the limit (a bad outcome becomes known a limit after `from`)."""
    return max([sla.window * US, *(span + limit_us(sla) for span in spans.values())])


def _where(conn: Connection, sla: JourneySla, at_us: int) -> list[ColumnElement[bool]]:
    """`where` as of T: a row's final verdict once its attributes settled, else the exact
    lookup of the attributes' values at T."""
    if not sla.where:
        return []
    p = sla_population
    exact = and_(*[where_matches(conn.dialect.name, sla.journey, p.c.jkey, name, wanted,
                                 at_us) for name, wanted in sla.where.items()])
    settled = or_(p.c.settled_us.is_(None), p.c.settled_us <= at_us)
    return [or_(and_(settled, p.c.matched == true()),
                and_(p.c.settled_us > at_us, func.coalesce(exact, false())))]


def _span_columns(p: Population) -> list[ColumnElement[int]]:
    return [_count(condition) for pair in p.spans.values() for condition in pair]


def _span_counts(conn: Connection, sla: JourneySla, key: str, at_us: int, p: Population,
                 values: Sequence[Any]) -> dict[str, tuple[int, int]]:
    early = _early(conn, sla, key, at_us, p) if p.spans else {}
    out = {}
    for i, name in enumerate(p.spans):
        good, bad = p.settled.spans.get(name, (0, 0))
        out[name] = (good + int(values[2 * i]) + early[name], bad + int(values[2 * i + 1]))
    return out


def _early(conn: Connection, sla: JourneySla, key: str, at_us: int, p: Population
           ) -> dict[str, int]:
    """Per span, the good journeys left to scan whose `to` came before their `from` (a
    negative wait): read along the wait index, they are few."""
    s = sla_population
    counts = [func.count().filter(rollups.in_ranges(s.c.t_us, p.settled.spans_left[name]))
              for name in p.spans]
    row = conn.execute(select(*counts).where(
        s.c.pkey == key, s.c.d_us < 0, s.c.f_us <= at_us, *_where(conn, sla, at_us))).one()
    return {name: int(value) for name, value in zip(p.spans, row, strict=True)}


def completeness(conn: Connection, sla: CompletenessSla, key: str, at_us: int,
                 spans: Spans = SPANS) -> Counts:
    p = population(conn, sla, key, at_us, spans)
    row = conn.execute(select(_count(p.good), _count(p.bad), *_span_columns(p))
                       .select_from(p.pop)).one()
    return Counts(p.settled.good + int(row[0]), p.settled.bad + int(row[1]),
                  _span_counts(conn, sla, key, at_us, p, row[2:]))


def latency(conn: Connection, sla: LatencySla, key: str, at_us: int, percentiles: bool = True,
            spans: Spans = SPANS) -> Counts:
    p = population(conn, sla, key, at_us, spans)
    columns: list[Any] = [_count(p.good), _count(p.bad), _count(p.reached), *_span_columns(p)]
    row = conn.execute(select(*columns).select_from(p.pop)).one()
    good, bad = p.settled.good + int(row[0]), p.settled.bad + int(row[1])
    reached = p.settled.reached + int(row[2])
    by_span = _span_counts(conn, sla, key, at_us, p, row[3:])
    if not percentiles:
        return Counts(good, bad, by_span)
    return Counts(good, bad, by_span, _percentiles(conn, p, at_us, reached))


def _percentiles(conn: Connection, p: Population, at_us: int, reached: int
                 ) -> tuple[float | None, ...]:
    """percentile_cont of the waits of the window's journeys that reached `to`: the two
    closest ranks of each are read by walking the (population, wait) index in order, without
    a sort (from the top for the high ranks)."""
    ranks = _ranks(reached)
    if not ranks:
        return (None,) * len(PERCENTILES)
    table = sla_population
    query = select(table.c.d_us).where(*p.rows, table.c.t_us.is_not(None),
                                       table.c.t_us <= at_us)
    values: dict[int, int] = {}
    for lo, hi, _ in ranks:
        if lo < reached // 2:
            found = _by_wait(conn, query.order_by(table.c.d_us).limit(hi - lo + 1).offset(lo))
        else:  # high ranks are nearer the top: walk the index down from the longest wait
            found = _by_wait(conn, query.order_by(table.c.d_us.desc())
                             .limit(hi - lo + 1).offset(reached - 1 - hi))[::-1]
        values.update(zip(range(lo, hi + 1), found, strict=True))
    return _interpolate(ranks, values)


def _by_wait(conn: Connection, query: Any) -> list[int]:
    """Run `query` walking the (SLA, wait) index. SQLite's planner would rather range-scan
    the `from` times and sort; `INDEXED BY` (which SQLAlchemy does not render for SQLite)
    makes it read the waits in order and stop at the offset."""
    if conn.dialect.name != "sqlite":
        return list(conn.execute(query).scalars())
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    sql = str(compiled).replace("FROM sla_population",
                                "FROM sla_population INDEXED BY ix_sla_population_wait", 1)
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    return [row[0] for row in conn.exec_driver_sql(sql, params)]


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


def stalled_stage(conn: Connection, definitions: Definitions, sla: JourneySla, at_us: int
                  ) -> tuple[int, int] | None:
    """For the bad journeys at T: the stage each had last reached when its deadline passed
    (`from` time + threshold or within), most common first: (stage index, journeys)."""
    stage_names = [s.name for s in definitions.journeys[sla.journey].stages]
    p = population(conn, sla, population_key(sla, definitions), at_us)
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


def freshness(conn: Connection, sla: FreshnessSla, at_us: int, spans: Spans = SPANS
              ) -> Counts:
    """Good and bad one-minute slices in the window; a span counts the slices whose end falls
    in it, so a span longer than the window reads slices from before the window too. Slices
    count from the first matching event ever seen up to T: before it there was nothing to be
    fresh yet (no data, not a breach); after it, silence is stale."""
    max_age = sla.max_age * US
    window = sla.window * US
    first = _first_event(conn, sla, at_us)

    def counted(ends: range) -> range:
        return ends[bisect_left(ends, first):] if first is not None else range(0)

    ends = counted(slice_ends(at_us, max([window, *spans.values()])))
    if not ends:
        return Counts(0, 0, {name: (0, 0) for name in spans})
    newest = _newest_by_minute(conn, sla, ends[0] - max_age, ends[-1])
    good_ends = _good_slices(ends, newest, max_age)
    in_window = counted(slice_ends(at_us, window))
    good = sum(1 for end in in_window if end in good_ends)
    by_span = {}
    for name, span in spans.items():
        recent = counted(slice_ends(at_us, span))
        good_s = sum(1 for end in recent if end in good_ends)
        by_span[name] = (good_s, len(recent) - good_s)
    return Counts(good, len(in_window) - good, by_span)


def _first_event(conn: Connection, sla: FreshnessSla, at_us: int) -> int | None:
    """The time of the first matching event up to T (None: never one), off the type index."""
    query = select(func.min(events.c.time_us)).where(events.c.type.in_(sla.type),
                                                      events.c.time_us <= at_us)
    if sla.source:
        query = query.where(events.c.source.in_(sla.source))
    found = conn.execute(query).scalar()
    return None if found is None else int(found)


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
