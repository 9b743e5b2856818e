"""Tailing a JSON-lines file that another program appends to (Kong `file-log`, the
OpenTelemetry Collector `file` exporter).

The tail's position (the file's device and inode, and the next byte) is committed in the same
transaction as the events read before it, so a restart resumes exactly there: nothing lost,
nothing read twice. A rotated file (renamed to `NAME.1`, `NAME-2026…`) is found by its inode
and read to its end before the new file is started; a truncated file is read from the start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Connection

from collectors.counts import RecordBatch, WriteCounts
from collectors.errors import InvalidEvent
from collectors.runner import Poll, commit, newest
from collectors.schema import MAX_EVENT_BYTES, Event
from collectors.store import Reject, Store, now_us


@dataclass(slots=True)
class Parsed:
    """What one line became: events (a `RecordBatch` when a line holds records that are not
    one event each), extra rows (spans), and problems kept as rejects."""

    events: Sequence[Event]
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


LineParser = Callable[[Any], Parsed]
RowWriter = Callable[[Connection, list[dict[str, Any]]], WriteCounts]


@dataclass(frozen=True, slots=True)
class Position:
    """Where the tail stands: the file's identity (device, inode) and the next byte to read."""

    device: int
    inode: int
    offset: int

    def dump(self) -> str:
        return orjson.dumps({"device": self.device, "inode": self.inode,
                             "offset": self.offset}).decode()

    @classmethod
    def load(cls, text: str | None) -> Position | None:
        if not text:
            return None
        value = orjson.loads(text)
        return cls(value["device"], value["inode"], value["offset"])


class FileTail:
    """Tails one JSON-lines file; safe to stop and restart at any moment."""

    def __init__(self, store: Store, name: str, kind: str, path: Path, batch: int,
                 parse: LineParser, write_rows: RowWriter | None = None) -> None:
        self.store, self.name, self.kind, self.path = store, name, kind, path
        self.batch, self.parse, self.write_rows = batch, parse, write_rows
        self.cursor = f"tail:{name}"

    def poll(self) -> Poll:
        saved = Position.load(self.store.get_cursor(self.cursor))
        current = _identity(self.path)
        if current is None and saved is None:
            return Poll()
        path, start = self._where(saved, current)
        if path is None:
            return Poll()
        lines, end = _read_lines(path, start, self.batch)
        at_end_of_rotated = path != self.path and len(lines) < self.batch
        device, inode = _identity(path) or (0, 0)
        position = Position(device, inode, end)
        if at_end_of_rotated and current is not None:
            position = Position(current[0], current[1], 0)
        events, rows, rejects = self._parse(lines, path)
        counts = commit(self.store, events, rejects, cursor=(self.cursor, position.dump()),
                        extra=self._rows_writer(rows))
        more = len(lines) >= self.batch or at_end_of_rotated
        return Poll(counts, more=more and current is not None, newest_us=newest(events))

    def _where(self, saved: Position | None, current: tuple[int, int] | None
               ) -> tuple[Path | None, int]:
        if saved is None:
            return self.path, 0
        if current == (saved.device, saved.inode):
            size = self.path.stat().st_size
            return self.path, saved.offset if size >= saved.offset else 0  # truncated
        rotated = _find_by_identity(self.path, saved.device, saved.inode)
        if rotated is not None:
            return rotated, saved.offset
        return (self.path, 0) if current is not None else (None, 0)

    def _parse(self, lines: list[tuple[int, bytes]], path: Path
               ) -> tuple[RecordBatch, list[dict[str, Any]], list[Reject]]:
        # with rows of its own (spans), those are the records and the events are made of them
        events = RecordBatch(derived=self.write_rows is not None)
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        received = now_us()
        for offset, line in lines:
            try:
                parsed = self.parse(orjson.loads(line))
            except (orjson.JSONDecodeError, InvalidEvent) as exc:
                reason = str(exc) if isinstance(exc, InvalidEvent) else (
                    f"not valid JSON ({exc}); each line must be one JSON object")
                parsed = Parsed([], problems=[reason])
            events.merge(parsed.events)
            rows.extend(parsed.rows)
            rejects.extend(Reject(self.name, self.kind, f"{path}: byte {offset}", problem,
                                  line.decode("utf-8", "replace")[:65536], received)
                           for problem in parsed.problems)
        return events, rows, rejects

    def _rows_writer(self, rows: list[dict[str, Any]]
                     ) -> Callable[[Connection], WriteCounts] | None:
        if not rows or self.write_rows is None:
            return None
        write = self.write_rows
        return lambda conn: write(conn, rows)

    def close(self) -> None:
        pass


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _find_by_identity(path: Path, device: int, inode: int) -> Path | None:
    """The rotated copy of `path` (e.g. access.log.1) that is the file we were reading."""
    try:
        siblings = os.scandir(path.parent)
    except FileNotFoundError:
        return None
    with siblings:
        for entry in siblings:
            if entry.name.startswith(path.name) and entry.name != path.name:
                stat = entry.stat(follow_symlinks=False)
                if (stat.st_dev, stat.st_ino) == (device, inode):
                    return Path(entry.path)
    return None


def _read_lines(path: Path, start: int, limit: int) -> tuple[list[tuple[int, bytes]], int]:
    """Up to `limit` complete lines from byte `start`: [(offset, line)], and the next offset.
    A last line without its newline is still being written and is left for the next poll."""
    out: list[tuple[int, bytes]] = []
    with path.open("rb") as stream:
        stream.seek(start)
        offset = start
        while len(out) < limit:
            consumed, line = _next_line(stream)
            if not line or not line.endswith(b"\n"):
                break
            if line.strip():
                out.append((offset, line))
            offset += consumed
    return out, offset


def _next_line(stream: IO[bytes]) -> tuple[int, bytes]:
    """(bytes consumed, line); an over-long entry keeps only its head (it will be rejected)."""
    line = stream.readline(MAX_EVENT_BYTES + 1)
    if len(line) > MAX_EVENT_BYTES and not line.endswith(b"\n"):
        rest = stream.readline()
        return len(line) + len(rest), line[:4096] + (b"\n" if rest.endswith(b"\n") else b"")
    return len(line), line
