"""Kong Gateway: log entries (FORMATS.md section 3) -> events, and the `file-log` tail.

`parse_kong` maps one entry, or a batched `http-log` array of entries, through the source's
rules. The defaults keep every request: answered below 400 -> `gateway.request.accepted`,
400 and above -> `gateway.request.failed` (an attempt that did not get through), both timed
by `started_at`; the event id is `<request.id>:<type>`, so a re-sent entry is stored once and
a retry (a new request id) is an attempt of its own. `kong_entries` splits a body or line
into its entries, the records that counts are kept by.
`kong_file_tail` follows a `file-log` file with `collectors.tail.FileTail` (resumes at the
committed offset, survives rotation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collectors.counts import RecordBatch
from collectors.errors import CollectorError, InvalidEvent
from collectors.mapping import MISSING, SourceMap, lookup, map_record, record_digest
from collectors.schema import Event
from collectors.sources import KongSource, source_map
from collectors.store import Store
from collectors.tail import FileTail, Parsed


def kong_entries(obj: Any) -> list[Any]:
    """The entries of one log line or push body: an entry, or an http-log batch array."""
    return obj if isinstance(obj, list) else [obj]


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


def kong_file_tail(store: Store, name: str, source: KongSource,
                   path: str | None = None) -> FileTail:
    """The tail of a Kong source's `file-log` file."""
    target = path or source.file
    if not target:
        raise CollectorError(f"source {name!r} has no `file` to tail; set `file:` to the "
                             "Kong file-log path, or push with http-log to the receiver")
    mapping = source_map(name, source)

    def parse(obj: Any) -> Parsed:
        batch = RecordBatch()
        entries = kong_entries(obj)
        problems = batch.add_each(entries, lambda entry: parse_kong(entry, mapping))
        return Parsed(batch, problems=[reason if len(entries) == 1 else f"entry {index}: "
                                       f"{reason}" for index, _entry, reason in problems])

    return FileTail(store, name, "kong", Path(target), source.batch, parse)
