"""Hourly roll-ups of journey SLA outcomes, so an evaluation reads ~170 rows per SLA for the hours
whose journeys have all settled, and scans population rows only for the rest.

A journey's outcome is final once it began (f), is decided (good when `to` was reached within
the limit, at t; bad at its deadline f + limit, a microsecond later for latency, whose journeys
are pending up to the deadline itself), its `where` verdict settled (`settled_us`) and, when it
reached `to`, once it did. For each outcome key (population, kind, limit) and hour, a roll-up
counts the final good, bad and reached journeys whose `where` holds, bucketed two ways: by the
hour of `from` (basis `f`, for the window) and by the hour the outcome became known (basis `k`,
for burn-rate spans), with `final_us`, the latest moment any journey of the bucket became
final. At any T >= final_us the bucket's counts are what a scan of its rows at T would give
(events after T cannot change them), so replays with `--at` use them as well.

Kept current by `slas.population.refresh`: the buckets of journeys that received events are
recomputed from their rows; an outcome key without roll-ups (a new threshold) is built whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, case, delete, false, func, insert, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from collectors.store import Store
from collectors.tables import cursors, sla_population, sla_rollups
from slas.spec import CompletenessSla, JourneySla, LatencySla

US = 1_000_000
HOUR = 3600 * US
CURSOR = "rollup:"
Range = tuple[int, int]  # (lo, hi]: lo < x <= hi


def limit_us(sla: JourneySla) -> int:
    """The journey SLA's limit: a latency threshold or a completeness `within`."""
    assert isinstance(sla, LatencySla | CompletenessSla)
    return (sla.threshold if isinstance(sla, LatencySla) else sla.within) * US


def outcome_key(key: str, sla: JourneySla) -> str:
    """What a journey's outcome depends on: its population, the kind, the limit."""
    kind = "latency" if isinstance(sla, LatencySla) else "completeness"
    return f"{key}:{kind}:{limit_us(sla) // US}"


def is_current(conn: Connection, okey: str) -> bool:
    return conn.execute(select(cursors.c.name).where(
        cursors.c.name == CURSOR + okey)).first() is not None


# --- what a row's outcome is, in SQL ---

@dataclass(frozen=True)
class _Terms:
    good: ColumnElement[bool]
    decided: ColumnElement[int]
    known: ColumnElement[int]
    final: ColumnElement[int]


def _terms(store: Store, sla: JourneySla) -> _Terms:
    p, limit = sla_population, limit_us(sla)
    good = and_(p.c.t_us.is_not(None), p.c.d_us <= limit)
    late = 1 if isinstance(sla, LatencySla) else 0
    decided = case((good, p.c.t_us), else_=p.c.f_us + limit + late)
    known = case((good, p.c.t_us), else_=p.c.f_us + limit)
    final = store.greatest(decided, p.c.f_us, func.coalesce(p.c.settled_us, 0),
                           func.coalesce(p.c.t_us, 0))
    return _Terms(good, decided, known, final)


def _hour(value: ColumnElement[int]) -> ColumnElement[Any]:
    return (value // HOUR) * HOUR


def in_ranges(value: ColumnElement[Any], ranges: Iterable[Range]) -> ColumnElement[bool]:
    """`value` in one of the (lo, hi] ranges (none: false)."""
    terms = [and_(value > lo, value <= hi) for lo, hi in ranges]
    return or_(*terms) if terms else false()


# --- keeping them current ---

def build(store: Store, conn: Connection, key: str, sla: JourneySla) -> None:
    """Every bucket of the SLA's outcome key, from its population's rows."""
    okey = outcome_key(key, sla)
    conn.execute(delete(sla_rollups).where(sla_rollups.c.okey == okey))
    _insert(store, conn, key, sla, None)
    conn.execute(delete(cursors).where(cursors.c.name == CURSOR + okey))
    conn.execute(insert(cursors).values(name=CURSOR + okey, value=key, updated_us=0))


def update(store: Store, conn: Connection, key: str, sla: JourneySla,
           changed: Sequence[tuple[int, int | None]]) -> None:
    """Recompute the buckets that rows with these (f, t) (before and after a change) fall in."""
    if not changed:
        return
    limit = limit_us(sla)
    f_hours = {f // HOUR * HOUR for f, _ in changed}
    k_hours = {(t if t is not None and t - f <= limit else f + limit) // HOUR * HOUR
               for f, t in changed}
    _insert(store, conn, key, sla, (sorted(f_hours), sorted(k_hours)))


def _insert(store: Store, conn: Connection, key: str, sla: JourneySla,
            hours: tuple[list[int], list[int]] | None) -> None:
    p, terms, okey = sla_population, _terms(store, sla), outcome_key(key, sla)
    for basis, value in (("f", p.c.f_us), ("k", terms.known)):
        bucket = _hour(value)
        rows = [p.c.pkey == key]
        if hours is not None:
            chosen = hours[0] if basis == "f" else hours[1]
            if not chosen:
                continue
            ranges = [(h - 1, h + HOUR - 1) for h in chosen]  # [h, h + 1h)
            conn.execute(delete(sla_rollups).where(
                sla_rollups.c.okey == okey, sla_rollups.c.basis == basis,
                sla_rollups.c.hour_us.in_(chosen)))
            if basis == "f":
                rows.append(in_ranges(p.c.f_us, ranges))
            else:  # known at t >= f - limit, or (bad) at f + limit: f after the hour's start
                rows += [p.c.f_us > min(chosen) - 1 - limit_us(sla), in_ranges(value, ranges)]
        matched = p.c.matched.is_(True)
        query = (select(literal(okey), literal(basis), bucket,
                        func.count().filter(and_(matched, terms.good)),
                        func.count().filter(and_(matched, ~terms.good)),
                        func.count().filter(and_(matched, p.c.t_us.is_not(None))),
                        func.max(terms.final))
                 .where(*rows).group_by(bucket))
        conn.execute(insert(sla_rollups).from_select(
            ["okey", "basis", "hour_us", "good", "bad", "reached", "final_us"], query))


def forget(conn: Connection, live: set[str]) -> None:
    """Drop the roll-ups of outcome keys no SLA in force has any more."""
    names = conn.execute(select(cursors.c.name).where(
        cursors.c.name.like(CURSOR + "%"))).scalars().all()
    stale = [name[len(CURSOR):] for name in names if name[len(CURSOR):] not in live]
    if stale:
        conn.execute(delete(sla_rollups).where(sla_rollups.c.okey.in_(stale)))
        conn.execute(delete(cursors).where(cursors.c.name.in_([CURSOR + s for s in stale])))


# --- reading them ---

@dataclass
class Part:
    """What the roll-ups answer at T, and the ranges left to scan rows for."""

    good: int = 0
    bad: int = 0
    reached: int = 0
    window_left: list[Range] = field(default_factory=list)  # `from` ranges to scan
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    spans_left: dict[str, list[Range]] = field(default_factory=dict)  # known-time ranges


def settled(conn: Connection, okey: str, at_us: int, window: Range,
            spans: dict[str, int]) -> Part:
    """Sums of the usable buckets (whole hours inside the range, final by T) for the window
    and each span, and the ranges whose rows must still be scanned."""
    r = sla_rollups
    longest = max(spans.values(), default=0)
    rows = conn.execute(select(r.c.basis, r.c.hour_us, r.c.good, r.c.bad, r.c.reached).where(
        r.c.okey == okey, r.c.final_us <= at_us, or_(
            and_(r.c.basis == "f", r.c.hour_us > window[0], r.c.hour_us <= window[1]),
            and_(r.c.basis == "k", r.c.hour_us > at_us - longest, r.c.hour_us <= at_us)))
        .order_by(r.c.basis, r.c.hour_us)).all()
    part = Part()
    f_hours = [(h, g, b, n) for basis, h, g, b, n in rows if basis == "f"
               and h + HOUR - 1 <= window[1]]
    part.good, part.bad = sum(g for _, g, _, _ in f_hours), sum(b for _, _, b, _ in f_hours)
    part.reached = sum(n for *_, n in f_hours)
    part.window_left = _left(window, [h for h, *_ in f_hours])
    k_rows = [(h, g, b) for basis, h, g, b, _ in rows if basis == "k"]
    for name, span in spans.items():
        inside = [(h, g, b) for h, g, b in k_rows if h > at_us - span and h + HOUR - 1 <= at_us]
        part.spans[name] = (sum(g for _, g, _ in inside), sum(b for *_, b in inside))
        part.spans_left[name] = _left((at_us - span, at_us), [h for h, *_ in inside])
    return part


def _left(whole: Range, hours: list[int]) -> list[Range]:
    """(lo, hi] without the buckets [h, h + 1h): the ranges still to scan."""
    left, start = [], whole[0]
    for h in sorted(hours):
        if h - 1 > start:
            left.append((start, h - 1))
        start = max(start, h + HOUR - 1)
    if whole[1] > start:
        left.append((start, whole[1]))
    return left
