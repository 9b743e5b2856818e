"""Reading records from files and streams, and feeding them to the store in batches.

Input may be JSON lines, one JSON array (CloudEvents batch format) or one JSON object.
Memory stays flat: lines are read one at a time and arrays are parsed incrementally (ijson).
A record that cannot be parsed or validated becomes a `Reject` with its location (`file:line`
or `file: item N`) and reason; it never stops the rest of the input.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import IO, Any, NamedTuple

import ijson
import orjson

from collectors.counts import RecordBatch, WriteCounts
from collectors.errors import CollectorError, InvalidEvent, UnreadableInput
from collectors.schema import MAX_EVENT_BYTES, Event, parse_event
from collectors.store import Reject, Store, now_us

BATCH_SIZE = 5000
Parser = Callable[[Any, int], Sequence[Event]]
Progress = Callable[[int], None]


class Record(NamedTuple):
    """One raw record and where it was found. `value` is parsed JSON, or the error text."""

    location: str
    raw: bytes
    value: Any = None
    error: str | None = None


def parse_cloudevent(obj: Any, received_us: int) -> list[Event]:
    return [parse_event(obj, received_us)]


def open_input(path: str) -> tuple[IO[bytes], str, int | None]:
    """Open a file (or `-` for stdin) for binary reading: (stream, display name, size)."""
    if path == "-":
        return sys.stdin.buffer, "<stdin>", None
    file = Path(path)
    if not file.exists():
        raise UnreadableInput(f"{path}: no such file; check the path")
    if file.is_dir():
        raise UnreadableInput(f"{path} is a folder; give a file of JSON or JSON lines")
    try:
        return file.open("rb"), path, file.stat().st_size
    except OSError as exc:
        raise UnreadableInput(f"{path}: cannot be read ({exc.strerror})") from None


def read_records(stream: IO[bytes], name: str) -> Iterator[Record]:
    """Yield every record of a JSON-lines, JSON-array or single-object input."""
    buffered: Any = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(
        stream)  # type: ignore[type-var]
    head = buffered.peek(64).lstrip()[:1]
    if head == b"[":
        yield from _array_records(buffered, name)
        return
    lines: Iterator[bytes] = _lines(buffered)
    first = next(lines, None)
    if first is None:
        return
    if head == b"{" and not first.rstrip().endswith(b"}"):
        # maybe one pretty-printed object; completing the last line keeps lines whole
        data = first + buffered.read(MAX_EVENT_BYTES * 16) + buffered.readline()
        whole = _whole_document(data, name)
        if whole.error is None:
            yield whole
            return
        lines = chain(_lines(io.BytesIO(data)), _lines(buffered))
    else:
        lines = chain([first], lines)
    for line_no, line in enumerate(lines, start=1):
        if line.strip():
            yield _parse_line(line, f"{name}:{line_no}")


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    while (line := _read_line(stream)) is not None:
        yield line


def _read_line(stream: IO[bytes]) -> bytes | None:
    """One line; a line over the size limit is returned cut at the limit plus one byte."""
    line = stream.readline(MAX_EVENT_BYTES + 1)
    if not line:
        return None
    if len(line) > MAX_EVENT_BYTES and not line.endswith(b"\n"):
        while True:  # skip the rest of the over-long line without holding it
            rest = stream.readline(MAX_EVENT_BYTES)
            if not rest or rest.endswith(b"\n"):
                break
    return line


def _parse_line(line: bytes, location: str) -> Record:
    if len(line.rstrip(b"\r\n")) > MAX_EVENT_BYTES:
        return Record(location, line[:4096], error=(
            "record is over the 1 MiB limit; send large payloads by reference "
            "(first 4 KiB kept)"))
    try:
        return Record(location, line, value=orjson.loads(line))
    except orjson.JSONDecodeError as exc:
        return Record(location, line, error=f"not valid JSON ({exc}); "
                      "each line must be one complete JSON object")


def _whole_document(data: bytes, name: str) -> Record:
    try:
        return Record(f"{name}:1", data, value=orjson.loads(data))
    except orjson.JSONDecodeError as exc:
        return Record(f"{name}:1", data[:65536], error=f"not valid JSON ({exc}); the file "
                      "must hold JSON lines, one JSON array or one JSON object")


def _array_records(stream: IO[bytes], name: str) -> Iterator[Record]:
    index = 0
    try:
        # several arrays one after another (JSON lines of batches, e.g. saved http-log
        # bodies) are read whole, not only the first
        for index, item in enumerate(ijson.items(stream, "item", use_float=True,
                                                 multiple_values=True), start=1):
            raw = orjson.dumps(item)
            if len(raw) > MAX_EVENT_BYTES:
                yield Record(f"{name}: item {index}", raw[:4096], error=(
                    "record is over the 1 MiB limit; send large payloads by reference"))
            else:
                yield Record(f"{name}: item {index}", raw, value=item)
    except ijson.JSONError as exc:
        yield Record(f"{name}: after item {index}", b"", error=(
            f"the JSON array is broken after item {index} ({exc}); items before it were read"))


def ingest(store: Store, records: Iterator[Record], *, source: str, format: str,
           parser: Parser, run_id: int | None = None,
           progress: Progress | None = None) -> WriteCounts:
    """Validate and store records in batches; every bad record is kept as a reject.

    Counts are by record (`WriteCounts`). A parser with a `split` method finds the records
    inside a JSON value (the entries of a Kong batch, the contacts of a HubSpot page), each
    mapped, counted and rejected on its own; one with a `flush` method writes records of
    its own (OTLP spans), and the events it returns are made from them."""
    total = WriteCounts()
    split = getattr(parser, "split", None)
    batch = RecordBatch(derived=hasattr(parser, "flush"))
    bad: list[Reject] = []
    received = now_us()
    for count, record in enumerate(records, start=1):
        if record.error is not None:
            bad.append(_reject(record, source, format, record.error, received))
        elif split is None:
            try:
                batch.add(parser(record.value, received))
            except (InvalidEvent, CollectorError) as exc:
                bad.append(_reject(record, source, format, str(exc), received))
        else:
            bad.extend(_each_record(batch, split(record.value), record, source, format,
                                    parser, received))
        if len(batch) >= BATCH_SIZE or len(bad) >= BATCH_SIZE:
            total += _flush(store, batch, bad, run_id, parser)
            batch, bad, received = RecordBatch(derived=batch.derived), [], now_us()
            if progress is not None:
                progress(count)
    return total + _flush(store, batch, bad, run_id, parser)


def _each_record(batch: RecordBatch, items: list[Any], record: Record, source: str,
                 format: str, parser: Parser, received: int) -> list[Reject]:
    """Add the records found in one value; each bad one is a reject of its own."""
    rejects = []
    for index, item, reason in batch.add_each(items, lambda item: parser(item, received)):
        where = record if len(items) == 1 else Record(
            f"{record.location}: item {index}", orjson.dumps(item), item)
        rejects.append(_reject(where, source, format, reason, received))
    return rejects


def _flush(store: Store, batch: RecordBatch, bad: list[Reject], run_id: int | None,
           parser: Parser | None = None) -> WriteCounts:
    with store.engine.begin() as conn:
        counts = store.write_events(batch, run_id, conn=conn)
        counts += WriteCounts(rejected=store.write_rejects(bad, run_id, conn=conn))
        flush = getattr(parser, "flush", None)
        if flush is not None:  # a parser that keeps rows of its own (OTLP spans) writes them
            counts += flush(store, conn)
    return counts


def _reject(record: Record, source: str, format: str, reason: str, received: int) -> Reject:
    raw = record.raw.decode("utf-8", errors="replace").rstrip("\r\n")
    return Reject(source=source, format=format, location=record.location, reason=reason,
                  raw=raw, received_us=received)


def progress_printer(stream: IO[bytes], size: int | None, out: IO[str]) -> Progress | None:
    """A progress line on a terminal for inputs over 50 MB; None otherwise."""
    if size is None or size < 50_000_000 or not out.isatty():
        return None

    def show(count: int) -> None:
        try:
            done = stream.tell() / size
        except (OSError, ValueError):
            return
        out.write(f"\r{done:6.1%}  {count:,} records")
        out.flush()

    return show


def input_source_name(path: str) -> str:
    return "file:" + ("stdin" if path == "-" else os.path.basename(path))
