"""The shared schema: a CloudEvents 1.0 envelope with Baton's extensions.

Every collector turns its source's records into `Event`s and the store accepts only these.
`parse_event` is the one strict validator (CloudEvents 1.0 JSON format); it raises
`InvalidEvent` with one sentence saying what is wrong and how to fix it.
Times are kept as integer microseconds since the Unix epoch (UTC), the store's unit.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

import orjson

from collectors.errors import InvalidEvent

MAX_EVENT_BYTES = 1024 * 1024
SPECVERSION = "1.0"
CONTEXT_ATTRIBUTES = frozenset(
    {"id", "source", "type", "specversion", "time", "subject", "datacontenttype", "dataschema"}
)
BATON_EXTENSIONS = frozenset({"correlationid", "consentscope", "traceparent"})
KNOWN_MEMBERS = CONTEXT_ATTRIBUTES | BATON_EXTENSIONS | {"data", "data_base64"}
OPTIONAL_STRINGS = ("subject", "datacontenttype", "dataschema", "correlationid", "consentscope")
EXTENSION_NAME = re.compile(r"[a-z0-9]+")
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?"
)
TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
INT32 = (-(2**31), 2**31 - 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


NO_EXTENSIONS: Mapping[str, str | int | bool] = MappingProxyType({})


class Event(NamedTuple):
    """One CloudEvent in canonical form (immutable). `time_us` is when it happened (UTC
    microseconds); `time_inferred` is True when the event carried no `time` and the receive
    time was used instead. A NamedTuple: ingest builds millions of these."""

    id: str
    source: str
    type: str
    time_us: int
    time_inferred: bool = False
    subject: str | None = None
    datacontenttype: str | None = None
    dataschema: str | None = None
    data: Any = None
    data_base64: str | None = None
    correlationid: str | None = None
    consentscope: str | None = None
    traceparent: str | None = None
    extensions: Mapping[str, str | int | bool] = NO_EXTENSIONS

    @property
    def time(self) -> datetime:
        return from_us(self.time_us)

    def to_cloudevent(self) -> dict[str, Any]:
        """The event as a CloudEvents JSON object (the inverse of `parse_event`)."""
        out: dict[str, Any] = {"specversion": SPECVERSION, "id": self.id, "source": self.source,
                               "type": self.type}
        if not self.time_inferred:
            out["time"] = format_time(self.time_us)
        for name in ("subject", "datacontenttype", "dataschema", "correlationid",
                     "consentscope", "traceparent"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out.update(self.extensions)
        if self.data_base64 is not None:
            out["data_base64"] = self.data_base64
        elif self.data is not None:
            out["data"] = self.data
        return out


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch for an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def format_time(micros: int) -> str:
    """RFC 3339 in UTC with a `Z`, milliseconds kept when present."""
    text = from_us(micros).isoformat()
    return text.replace("+00:00", "Z")


def parse_time(text: Any, what: str = "time") -> int:
    """An RFC 3339 timestamp with offset -> epoch microseconds; InvalidEvent otherwise."""
    if not isinstance(text, str):
        raise InvalidEvent(f"'{what}' must be an RFC 3339 string, got {_show(text)}")
    match = RFC3339.fullmatch(text)
    if match is None:
        raise InvalidEvent(
            f"'{what}' {text!r} is not an RFC 3339 timestamp; "
            "use the form 2026-01-01T12:00:00Z"
        )
    if match["offset"] is None:
        raise InvalidEvent(
            f"'{what}' {text!r} has no UTC offset; add 'Z' or an offset such as '+00:00'"
        )
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError:
        raise InvalidEvent(f"'{what}' {text!r} is not a real date and time") from None
    return to_us(moment)


def parse_event(obj: Any, received_us: int) -> Event:
    """Validate one CloudEvents JSON object strictly and return the canonical `Event`."""
    if type(obj) is not dict:
        raise InvalidEvent(f"a CloudEvent must be a JSON object, got {_kind(obj)}")
    get = obj.get
    event_id, source, etype = get("id"), get("source"), get("type")
    if not (type(event_id) is str and event_id and type(source) is str and source
            and type(etype) is str and etype and get("specversion") == SPECVERSION):
        _check_required(obj)
    data, data_base64 = get("data"), get("data_base64")
    if data is not None and data_base64 is not None:
        raise InvalidEvent("an event may carry 'data' or 'data_base64', not both; keep one")
    others = obj.keys() - KNOWN_MEMBERS
    extensions = _extensions(obj, others) if others else NO_EXTENSIONS
    moment = get("time")
    if moment is None:
        time_us, inferred = received_us, True
    else:
        time_us, inferred = parse_time(moment), False
    # each attribute is read once and checked in one expression: ingest validates millions
    subject, content_type, schema = get("subject"), get("datacontenttype"), get("dataschema")
    correlation, consent = get("correlationid"), get("consentscope")
    if not ((subject is None or type(subject) is str)
            and (content_type is None or type(content_type) is str)
            and (schema is None or type(schema) is str)
            and (correlation is None or type(correlation) is str)
            and (consent is None or type(consent) is str)):
        _check_strings(obj)
    return Event(str(event_id), str(source), str(etype), time_us, inferred, subject,
                 content_type, schema, data, _data_base64(data_base64),
                 correlation, consent, _traceparent(get("traceparent")), extensions)


def parse_json_event(raw: bytes | str, received_us: int) -> Event:
    """Parse one serialized CloudEvent (bytes or text), enforcing the 1 MiB limit."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"event is {size:,} bytes, over the 1 MiB limit; send large payloads by reference"
        )
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON ({exc}); each record must be one JSON object") from None
    return parse_event(obj, received_us)


def _check_required(values: dict[str, Any]) -> None:
    for name in ("id", "source", "specversion", "type"):
        if values.get(name) is None:
            raise InvalidEvent(f"required attribute '{name}' is missing; add it to the event")
        if not isinstance(values[name], str) or not values[name]:
            raise InvalidEvent(
                f"attribute '{name}' must be a non-empty string, got {_show(values[name])}"
            )
    if values["specversion"] != SPECVERSION:
        raise InvalidEvent(
            f"specversion {values['specversion']!r} is not supported; Baton reads CloudEvents "
            f"'{SPECVERSION}'"
        )


def _check_strings(values: dict[str, Any]) -> None:
    for name in OPTIONAL_STRINGS:
        value = values.get(name)
        if value is not None and type(value) is not str:
            raise InvalidEvent(f"attribute '{name}' must be a string, got {_show(value)}")


def _extensions(values: dict[str, Any], names: set[str]) -> dict[str, str | int | bool]:
    out: dict[str, str | int | bool] = {}
    for name in sorted(names):
        value = values[name]
        if value is None:
            continue
        if not EXTENSION_NAME.fullmatch(name):
            raise InvalidEvent(
                f"unknown member {name!r} is not a valid extension name; extension names use "
                "only lowercase letters and digits (move it into 'data' or rename it)"
            )
        if isinstance(value, bool) or isinstance(value, str):
            out[name] = value
        elif isinstance(value, int) and INT32[0] <= value <= INT32[1]:
            out[name] = value
        else:
            raise InvalidEvent(
                f"extension {name!r} must be a string, boolean or 32-bit integer, "
                f"got {_show(value)}"
            )
    return out


def _data_base64(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is not str:
        raise InvalidEvent(f"'data_base64' must be a base64 string, got {_show(value)}")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEvent(
            "'data_base64' is not valid base64; encode the bytes with base64") from None
    return value


def _traceparent(value: Any) -> str | None:
    if value is not None and not (type(value) is str and TRACEPARENT.fullmatch(value)):
        raise InvalidEvent(
            f"traceparent {value!r} is not W3C trace context; expected "
            "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>"
        )
    return value


def _kind(value: Any) -> str:
    return {list: "a JSON array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
