"""Mapping rules: turn one vendor record (a Kong log entry, a HubSpot contact, a span) into
`Event`s of the shared schema.

Paths are dotted (`response.status`, `properties.hubspot_owner_assigneddate`,
`attributes.lead.id`); a key that itself contains dots (span attributes such as `lead.id`)
is found too, the longest matching key first. Only the adapters know vendor quirks; this
module knows conditions, times and ids.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from collectors.errors import InvalidEvent
from collectors.schema import Event, parse_time, to_us

MISSING = object()
OPERATORS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "in", "exists", "startswith"})
_SF_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_DIGITS = re.compile(r"-?\d+(\.\d+)?")


@dataclass(frozen=True, slots=True)
class SourceMap:
    """Everything an adapter needs to map its records: the source's rules, resolved."""

    name: str
    event_source: str
    rules: Sequence[Any]  # collectors.sources.Rule (kept untyped to avoid an import cycle)
    key_paths: Sequence[str]
    data_paths: Mapping[str, str]
    time_path: str


def lookup(record: Any, path: str) -> Any:
    """The value at a dotted `path`, or MISSING. Keys containing dots are matched whole."""
    if path == "" or path == ".":
        return record
    if isinstance(record, Mapping):
        if path in record:
            return record[path]
        parts = path.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            head = ".".join(parts[:cut])
            if head in record:
                found = lookup(record[head], ".".join(parts[cut:]))
                if found is not MISSING:
                    return found
        return MISSING
    if isinstance(record, list) and path.split(".")[0].isdigit():
        index, _, rest = path.partition(".")
        if int(index) < len(record):
            return lookup(record[int(index)], rest) if rest else record[int(index)]
    return MISSING


def matches(record: Any, when: Mapping[str, Any]) -> bool:
    """True when every condition of `when` holds for `record`."""
    return all(_holds(lookup(record, path), cond) for path, cond in when.items())


def _holds(value: Any, cond: Any) -> bool:
    if isinstance(cond, Mapping):
        return all(_operator(value, op, arg) for op, arg in cond.items())
    if isinstance(cond, list):
        return any(_equal(value, item) for item in cond)
    return _equal(value, cond)


def _operator(value: Any, op: str, arg: Any) -> bool:
    if op == "exists":
        return (value is not MISSING and value is not None and value != "") == bool(arg)
    if value is MISSING or value is None:
        return op == "ne"
    if op == "eq":
        return _equal(value, arg)
    if op == "ne":
        return not _equal(value, arg)
    if op == "in":
        return any(_equal(value, item) for item in arg)
    if op == "startswith":
        return str(value).startswith(str(arg))
    left, right = _number(value), _number(arg)
    if left is None or right is None:
        return False
    return {"lt": left < right, "lte": left <= right, "gt": left > right,
            "gte": left >= right}[op]


def _equal(value: Any, expected: Any) -> bool:
    if value is MISSING:
        return False
    if value == expected:
        return True
    # vendors send numbers as strings (Kong upstream_status, HubSpot properties)
    left, right = _number(value), _number(expected)
    if left is not None and right is not None and not isinstance(expected, bool):
        return left == right
    return isinstance(value, str) and isinstance(expected, bool) and value.lower() == str(
        expected).lower()


def _number(value: Any) -> float | None:
    """A number, or a string of one; whole numbers stay `int`, so epoch nanoseconds
    (19 digits, past a float's 15-16) convert to microseconds exactly."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        text = value.strip()
        return float(text) if "." in text else int(text)
    return None


def coerce_time(value: Any, what: str) -> int:
    """A vendor timestamp -> epoch microseconds.

    Numbers (or digit strings) are epoch seconds, milliseconds, microseconds or nanoseconds,
    told apart by size; strings are RFC 3339, Salesforce's `+0000` form, or a bare date.
    """
    if isinstance(value, bool) or value is None or value is MISSING:
        raise InvalidEvent(f"the record has no time at '{what}'; check the rule's `time` path")
    number = _number(value)
    if number is not None:
        return _epoch_us(number)
    if not isinstance(value, str):
        raise InvalidEvent(f"'{what}' is not a time: {value!r}")
    text = value.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return to_us(datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC))
        except ValueError:
            raise InvalidEvent(f"'{what}' {text!r} is not a real date") from None
    return parse_time(_SF_OFFSET.sub(r"\1:\2", text), what)


def _epoch_us(number: float) -> int:
    size = abs(number)
    if size < 1e11:
        return int(number * 1_000_000)
    if size < 1e14:
        return int(number * 1000)
    if size < 1e17:
        return int(number)
    return int(number // 1000)


def journey_key(record: Any, paths: Sequence[str]) -> str | None:
    """The first non-empty value among `paths`, as a string."""
    for path in paths:
        value = lookup(record, path)
        if value is not MISSING and value not in (None, ""):
            return str(value)
    return None


def record_digest(record: Any) -> str:
    """A stable id for a record that has none of its own."""
    return hashlib.sha1(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()[:20]


def map_record(record: Any, mapping: SourceMap, record_id: str, *, subject: str | None = None,
               traceparent: str | None = None) -> list[Event]:
    """One event per rule whose `when` holds; ids are `<record id>:<event type>` so a record
    seen again (a re-poll, a redelivery) is stored once and the first sighting counts."""
    out: list[Event] = []
    key = journey_key(record, mapping.key_paths)
    data = _data(record, mapping.data_paths)
    for rule in mapping.rules:
        if not matches(record, rule.when):
            continue
        time_path = rule.time or mapping.time_path
        out.append(Event(
            id=f"{record_id}:{rule.type}", source=mapping.event_source, type=rule.type,
            time_us=coerce_time(lookup(record, time_path), time_path), subject=subject,
            datacontenttype="application/json", data=data or None, correlationid=key,
            traceparent=traceparent))
    return out


def _data(record: Any, paths: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, path in paths.items():
        value = lookup(record, path)
        if value is not MISSING:
            out[name] = value
    return out
