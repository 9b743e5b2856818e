"""Retention: deleting what is older than each kind of row's cut-off, in small batches.

    pruned = prune(store, Cutoffs(events_us=..., rejects_us=..., results_us=...,
                                  notifications_us=...), journeys={"lead": shape})

What goes, exactly (a row exactly at its cut-off stays):
- `events` whose time is before `events_us`, and `spans` that started before it;
- the derived journey tables, per journey: a journey whose every stage time and attribute time
  is before `events_us` loses its rows in `journey_stages`, `journey_attrs`, `journey_open`
  and the SLA populations drawn from it (`journeys` names their keys). A journey straddling
  the cut-off keeps its derived rows, so an evaluation whose window lies after the cut-off
  counts exactly what it counted before pruning;
- `rejects` received before `rejects_us`;
- `sla_results`, `team_results`, `evaluation_runs` and `stall_counts` evaluated before
  `results_us`;
- `notifications` sent or failed, written before `notifications_us` (pending ones stay).
Breaches, alert episodes and silences are history and are never deleted.

Every batch is its own short transaction of at most `batch` rows, found through an index, so
SQLite's single write lock is held for milliseconds at a time and ingest goes on between
batches; on PostgreSQL the deleted space is vacuumed for reuse after a large run (no bloat).
Time-partitioning `events` on PostgreSQL was not chosen: a partitioned table's unique index
must contain the partition key, so `source` + `id` could no longer be unique across time, and
an event sent twice with a different (or a received) time would be stored twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select, text

from collectors.store import Store, analyze
from collectors.tables import (
    evaluation_runs,
    events,
    journey_attrs,
    journey_open,
    journey_stages,
    notifications,
    rejects,
    sla_population,
    sla_results,
    spans,
    stall_counts,
    team_results,
)

BATCH = 5000
VACUUM_AFTER = 100_000  # rows deleted in a run after which PostgreSQL vacuums the tables


@dataclass(frozen=True)
class Cutoffs:
    """Rows older than these times (microseconds since the epoch) are deleted."""

    events_us: int
    rejects_us: int
    results_us: int
    notifications_us: int


@dataclass(frozen=True)
class JourneyShape:
    """A journey's stages and the keys of the SLA populations drawn from it."""

    stages: tuple[str, ...]
    populations: tuple[str, ...] = ()


@dataclass
class Pruned:
    """What one run deleted, per table, in how many batches and how long."""

    rows: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def add(self, table: str, count: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + count
        self.batches += 1


def prune(store: Store, cutoffs: Cutoffs, journeys: Mapping[str, JourneyShape] | None = None,
          *, batch: int = BATCH, pause_s: float = 0.0,
          lock: Callable[[], AbstractContextManager[Any]] | None = None,
          stop: threading.Event | None = None) -> Pruned:
    """Delete everything older than its cut-off. `lock` is entered around every batch (the
    evaluator holds it while it evaluates); `pause_s` is slept between batches; `stop` ends
    the run early (what was deleted stays deleted; the rest waits for the next run)."""
    runner = _Runner(store, batch, pause_s, lock or nullcontext, stop)
    started = time.monotonic()
    for journey, shape in (journeys or {}).items():
        runner.journeys(journey, shape, cutoffs.events_us)
    runner.by_group(events, events.c.type, events.c.time_us, events.c.seq, cutoffs.events_us)
    runner.by_range(spans, spans.c.start_us < cutoffs.events_us, spans.c.id)
    runner.by_group(rejects, rejects.c.source, rejects.c.received_us, rejects.c.id,
                    cutoffs.rejects_us)
    for results in (sla_results, team_results):
        runner.by_range(results, results.c.evaluated_at_us < cutoffs.results_us, results.c.id)
    for table in (stall_counts, evaluation_runs):
        runner.by_key(table, table.c.evaluated_at_us, cutoffs.results_us)
    runner.by_range(notifications, and_(notifications.c.state.in_(("sent", "failed")),
                                        notifications.c.created_us < cutoffs.notifications_us),
                    notifications.c.id)
    runner.pruned.seconds = time.monotonic() - started
    if runner.pruned.total >= VACUUM_AFTER:
        analyze(store, [t for t in (events, spans, rejects, journey_stages, journey_attrs,
                                    journey_open, sla_population, sla_results, team_results,
                                    notifications)
                        if runner.pruned.rows.get(t.name)], vacuum=True)
    return runner.pruned


class _Runner:
    def __init__(self, store: Store, batch: int, pause_s: float,
                 lock: Callable[[], AbstractContextManager[Any]],
                 stop: threading.Event | None) -> None:
        self.store, self.batch, self.pause_s, self.lock = store, batch, pause_s, lock
        self.stop = stop or threading.Event()
        self.pruned = Pruned()

    def _batch(self, table: str, work: Callable[[Connection], int]) -> int:
        """One batch in its own transaction, under the lock; rows deleted."""
        with self.lock(), self.store.engine.begin() as conn:
            count = work(conn)
        if count:
            self.pruned.add(table, count)
            if self.pause_s:
                time.sleep(self.pause_s)
        return count

    def _delete(self, table: Any, statement: Any) -> int:
        return self._batch(table.name, lambda conn: int(conn.execute(statement).rowcount))

    def by_range(self, table: Any, old: Any, key: Any) -> None:
        """Rows matching `old`, `batch` at a time by primary key."""
        chosen = select(key).where(old).order_by(key).limit(self.batch).scalar_subquery()
        while not self.stop.is_set():
            if self._delete(table, delete(table).where(key.in_(chosen))) < self.batch:
                return

    def by_key(self, table: Any, column: Any, cutoff: int) -> None:
        """Rows whose leading primary-key column is before the cut-off."""
        while not self.stop.is_set():
            first = select(column).where(column < cutoff).order_by(column).limit(self.batch)
            with self.store.engine.connect() as conn:
                values = sorted({row[0] for row in conn.execute(first)})
            if not values:
                return
            self._delete(table, delete(table).where(column.in_(values)))

    def by_group(self, table: Any, group: Any, when: Any, key: Any, cutoff: int) -> None:
        """Rows older than the cut-off, one value of `group` at a time, through the
        (group, time) index."""
        for value in _distinct(self.store, table.name, group.name):
            chosen = (select(key).where(group == value, when < cutoff).limit(self.batch)
                      .scalar_subquery())
            while not self.stop.is_set():
                if self._delete(table, delete(table).where(key.in_(chosen))) < self.batch:
                    break

    def journeys(self, journey: str, shape: JourneyShape, cutoff: int) -> None:
        """Derived rows of the journeys entirely before the cut-off."""
        for stage in shape.stages:
            for keys in self._old_keys(journey, stage, cutoff):
                if self.stop.is_set():
                    return
                self._batch("journeys", partial(_drop_journeys, journey=journey,
                                                shape=shape, keys=keys, cutoff=cutoff))

    def _old_keys(self, journey: str, stage: str, cutoff: int) -> Iterator[list[str]]:
        """Keys that reached `stage` before the cut-off, a tenth of a batch at a time (each
        has several derived rows), by time then key (the stage index), resuming after the
        last one seen, kept or not."""
        s = journey_stages
        per_batch = max(1, self.batch // 10)
        after: tuple[int, str] | None = None
        while True:
            query = select(s.c.first_us, s.c.jkey).where(
                s.c.journey == journey, s.c.stage == stage, s.c.first_us < cutoff)
            if after is not None:
                query = query.where(or_(s.c.first_us > after[0], and_(
                    s.c.first_us == after[0], s.c.jkey > after[1])))
            with self.store.engine.connect() as conn:
                rows = conn.execute(query.order_by(s.c.first_us, s.c.jkey).limit(per_batch)).all()
            if not rows:
                return
            after = (rows[-1][0], rows[-1][1])
            yield [row[1] for row in rows]


def _drop_journeys(conn: Connection, *, journey: str, shape: JourneyShape,
                   keys: Sequence[str], cutoff: int) -> int:
    """Delete the derived rows of those `keys` with nothing at or after the cut-off; returns
    how many journeys went."""
    s, a = journey_stages, journey_attrs
    alive = {row[0] for row in conn.execute(
        select(s.c.jkey).where(s.c.journey == journey, s.c.jkey.in_(keys),
                               s.c.first_us >= cutoff)
        .union(select(a.c.jkey).where(a.c.journey == journey, a.c.jkey.in_(keys),
                                      a.c.time_us >= cutoff)))}
    gone = [key for key in dict.fromkeys(keys) if key not in alive]
    if not gone:
        return 0
    for table in (journey_stages, journey_attrs, journey_open):
        conn.execute(delete(table).where(table.c.journey == journey, table.c.jkey.in_(gone)))
    p = sla_population
    for key in shape.populations:
        conn.execute(delete(p).where(p.c.pkey == key, p.c.jkey.in_(gone)))
    return len(gone)


def _distinct(store: Store, table: str, column: str) -> list[Any]:
    """The distinct values of an indexed leading column, one index seek each (a loose index
    scan: neither SQLite nor PostgreSQL skips through an index for DISTINCT by itself)."""
    sql = text(f"WITH RECURSIVE v(x) AS (SELECT min({column}) FROM {table} UNION ALL "
               f"SELECT (SELECT min({column}) FROM {table} WHERE {column} > v.x) FROM v "
               f"WHERE v.x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL")
    with store.engine.connect() as conn:
        return [row[0] for row in conn.execute(sql)]
