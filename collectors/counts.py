"""Counting what a write did, by record: `WriteCounts`, and `RecordBatch`, the events of a
batch that remember which record made which.

A record is what a source sends: a CloudEvent, a Kong log entry, a HubSpot contact, a
Salesforce Lead, a span. Every record read is counted once, as accepted, duplicate,
rejected or skipped, so the four add up to the records read; the events and spans the
records became are counted beside them (docs/collectors.md, "Counting records").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import astuple, dataclass
from typing import Any

from collectors.errors import InvalidEvent
from collectors.schema import Event


@dataclass(frozen=True, slots=True)
class WriteCounts:
    """What a write did, counted by record: every record read is exactly one of `accepted`
    (something it became is new to the store), `duplicate` (all of it was stored already),
    `rejected` (kept as a reject with its reason) or `skipped` (the source's rules map it to
    no event), so the four add up to the records read. `events` and `spans` count the rows
    newly stored: a HubSpot contact is one record that may become two events, a span is one
    record that becomes a span row and the events its rules make. A CloudEvent is one record
    and one event."""

    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    skipped: int = 0
    events: int = 0
    spans: int = 0

    @property
    def records(self) -> int:
        return self.accepted + self.duplicate + self.rejected + self.skipped

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


class RecordBatch(list[Event]):
    """The events a batch of records became, remembering which record made which, so that
    the write is counted by record (`WriteCounts`). `add` takes one record's events; events
    put in with `append`/`extend` count as records of their own (CloudEvents).

    `derived=True` is for events made from records counted elsewhere (the span rows of
    OTLP): their write counts only `events`."""

    __slots__ = ("skipped", "groups", "derived")

    def __init__(self, *, derived: bool = False) -> None:
        super().__init__()
        self.skipped = 0
        self.groups: list[tuple[int, int]] = []  # (first event, count) of records making 2+
        self.derived = derived

    def add(self, made: Sequence[Event]) -> None:
        """The events one record became; none means the rules skipped it."""
        if len(made) == 1:
            self.append(made[0])
        elif not made:
            self.skipped += 1
        else:
            self.groups.append((len(self), len(made)))
            self.extend(made)

    def add_each(self, items: Iterable[Any], parse: Callable[[Any], Sequence[Event]]
                 ) -> list[tuple[int, Any, str]]:
        """`add` every item's events; one that is invalid is returned as (index from 1,
        item, reason) instead, and its batch-mates are kept."""
        problems: list[tuple[int, Any, str]] = []
        for index, item in enumerate(items, start=1):
            try:
                self.add(parse(item))
            except InvalidEvent as exc:
                problems.append((index, item, str(exc)))
        return problems

    def merge(self, other: Sequence[Event]) -> None:
        """Append another batch's records (a plain sequence: one record per event)."""
        if isinstance(other, RecordBatch):
            self.skipped += other.skipped
            self.groups.extend((start + len(self), count) for start, count in other.groups)
        self.extend(other)

    @property
    def records(self) -> int:
        """The records added: each event outside a group is one, each group is one."""
        return len(self) - sum(count - 1 for _, count in self.groups) + self.skipped

    def counts(self, new: Callable[[int], bool], stored: int) -> WriteCounts:
        """Counts by record, given how many events were stored and which were new
        (`new(index)`, asked only about records that made several)."""
        if self.derived:
            return WriteCounts(events=stored)
        accepted = stored - sum(
            sum(flags) - any(flags) for flags in (
                [new(i) for i in range(start, start + count)] for start, count in self.groups))
        return WriteCounts(accepted=accepted, duplicate=self.records - self.skipped - accepted,
                           skipped=self.skipped, events=stored)


def first_sightings(batch: Sequence[Event], new: set[tuple[str, str]]) -> Callable[[int], bool]:
    """Whether the event at an index was newly stored: its id is among the new ones and no
    earlier event of the batch had it (a record repeated within a batch is a duplicate)."""
    first: dict[tuple[str, str], int] = {}
    for index, e in enumerate(batch):
        first.setdefault((e.source, e.id), index)
    return lambda index: ((key := (batch[index].source, batch[index].id)) in new
                          and first[key] == index)
