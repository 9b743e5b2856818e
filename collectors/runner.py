"""What every pulling collector shares: committing a batch (events, rejects and the source's
cursor in one transaction), the poll result, and the loops that run collectors.

A collector's `poll()` reads at most one batch and returns a `Poll`; it acknowledges or
advances its position only after `commit` returned, so a crash at any point loses nothing
(the batch is read again) and doubles nothing (ids are unique in the store).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from collectors.errors import CollectorError, StoreUnavailable
from collectors.privacy import mask_text
from collectors.schema import Event
from collectors.store import Reject, Store, WriteCounts

Extra = Callable[[Connection], WriteCounts | None]  # rows of a collector's own (spans)


@dataclass(frozen=True, slots=True)
class Poll:
    """The outcome of one poll: what was stored, and whether more is waiting right now."""

    counts: WriteCounts = WriteCounts()
    more: bool = False
    newest_us: int | None = None


class Collector(Protocol):
    name: str
    kind: str

    def poll(self) -> Poll: ...

    def close(self) -> None: ...


def commit(store: Store, events: Sequence[Event], rejects: Sequence[Reject], *,
           cursor: tuple[str, str] | None = None, extra: Extra | None = None) -> WriteCounts:
    """Store a batch, its rejects, an optional cursor and extra rows in one transaction;
    counted by record (`WriteCounts`), the extra rows' own counts included."""
    try:
        with store.engine.begin() as conn:
            counts = store.write_events(events, conn=conn)
            counts += WriteCounts(rejected=store.write_rejects(rejects, conn=conn))
            if extra is not None:
                counts += extra(conn) or WriteCounts()
            if cursor is not None:
                store.set_cursor(cursor[0], cursor[1], conn=conn)
    except DBAPIError as exc:
        raise StoreUnavailable(f"the store rejected the write: {_first_line(exc)}") from None
    return counts


def newest(events: Sequence[Event]) -> int | None:
    return max((e.time_us for e in events), default=None)


def drain(store: Store, collector: Collector, max_polls: int = 1_000_000) -> WriteCounts:
    """Poll until nothing more is waiting (`baton collect --once`); records source status."""
    total = WriteCounts()
    for _ in range(max_polls):
        result = poll_and_record(store, collector)
        total += result.counts
        if not result.more:
            break
    return total


def poll_and_record(store: Store, collector: Collector) -> Poll:
    """One poll; its counts, or its error, go to the source's status row."""
    try:
        result = collector.poll()
    except CollectorError as exc:
        _record_error(store, collector, str(exc))
        raise
    store.record_source(collector.name, collector.kind, result.counts,
                        newest_event_us=result.newest_us)
    return result


def run_forever(store: Store, collector: Collector, stop: threading.Event, idle: float,
                on_error: Callable[[str, str], None]) -> None:
    """Poll until `stop` is set; pause `idle` seconds when caught up, back off on errors."""
    backoff = 1.0
    while not stop.is_set():
        try:
            result = poll_and_record(store, collector)
        except CollectorError as exc:
            on_error(collector.name, str(exc))
            stop.wait(backoff)
            backoff = min(backoff * 2, 60.0)
            continue
        backoff = 1.0
        if not result.more:
            stop.wait(idle)


def _record_error(store: Store, collector: Collector, message: str) -> None:
    try:
        store.record_source(collector.name, collector.kind, WriteCounts(), error=message)
    except DBAPIError:
        pass  # the store itself is down; the error is raised to the caller anyway


def _first_line(exc: DBAPIError) -> str:
    """The database's message, personal data masked (it may quote the row: it is logged)."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return mask_text(first)


def monotonic_deadline(seconds: float) -> float:
    return time.monotonic() + seconds
