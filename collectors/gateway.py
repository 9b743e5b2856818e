"""Kong Gateway: log entries (FORMATS.md section 3) -> events, and the `file-log` tail.

`parse_kong` maps one entry, or a batched `http-log` array of entries, through the source's
rules (default: any request answered below 400 -> `gateway.request.accepted`, timed by
`started_at`). `KongFileTail` follows a `file-log` file: its position (file identity and byte
offset) is committed with each batch, so a restart resumes exactly there, and a rotated file
is read to its end before the new one is started.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from collectors.errors import CollectorError, InvalidEvent
from collectors.ingest import MAX_EVENT_BYTES
from collectors.mapping import MISSING, SourceMap, lookup, map_record, record_digest
from collectors.runner import Poll, commit, newest
from collectors.schema import Event
from collectors.sources import KongSource, source_map
from collectors.store import Reject, Store, now_us


def parse_kong(obj: Any, mapping: SourceMap) -> list[Event]:
    """Events for one Kong log entry or a JSON array of them (http-log batches)."""
    if isinstance(obj, list):
        return [event for entry in obj for event in parse_kong(entry, mapping)]
    if not isinstance(obj, dict):
        raise InvalidEvent("a Kong log entry must be a JSON object (or an array of them); "
                           "configure the file-log or http-log plugin's default format")
    if not isinstance(obj.get("request"), dict) or "started_at" not in obj:
        raise InvalidEvent("not a Kong log entry: 'request' and 'started_at' are required; "
                           "send the file-log/http-log plugin's output unchanged")
    request_id = lookup(obj, "request.id")
    record_id = str(request_id) if request_id not in (MISSING, None, "") else record_digest(obj)
    route = lookup(obj, "route.name")
    subject = f"routes/{route}" if isinstance(route, str) else None
    return map_record(obj, mapping, record_id, subject=subject)


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


class KongFileTail:
    """Tails one Kong `file-log` file; safe to stop and restart at any moment."""

    kind = "kong"

    def __init__(self, store: Store, name: str, source: KongSource,
                 path: str | None = None) -> None:
        target = path or source.file
        if not target:
            raise CollectorError(f"source {name!r} has no `file` to tail; set `file:` to the "
                                 "Kong file-log path, or push with http-log to the receiver")
        self.store, self.name, self.path = store, name, Path(target)
        self.batch = source.batch
        self.mapping = source_map(name, source)
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
        events, rejects = self._parse(lines, path)
        counts = commit(self.store, events, rejects, cursor=(self.cursor, position.dump()))
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
               ) -> tuple[list[Event], list[Reject]]:
        events: list[Event] = []
        rejects: list[Reject] = []
        received = now_us()
        for offset, line in lines:
            try:
                events.extend(parse_kong(orjson.loads(line), self.mapping))
            except (orjson.JSONDecodeError, InvalidEvent) as exc:
                reason = str(exc) if isinstance(exc, InvalidEvent) else (
                    f"not valid JSON ({exc}); file-log writes one JSON object per line")
                rejects.append(Reject(self.name, "kong", f"{path}: byte {offset}", reason,
                                      line.decode("utf-8", "replace")[:65536], received))
        return events, rejects

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
