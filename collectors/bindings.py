"""CloudEvents protocol bindings (FORMATS.md section 1): structured and binary mode over
HTTP, NATS, AMQP and Redis Streams, decoded into `Event`s.

Structured mode: the body is one CloudEvent (`application/cloudevents+json`) or a batch
(`application/cloudevents-batch+json`, a JSON array). Binary mode: the attributes travel as
headers (`ce-id`, AMQP `cloudEvents_id`, Redis field `ce_id`) and the body is the `data`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import orjson

from collectors.errors import InvalidEvent
from collectors.mapping import journey_key
from collectors.schema import MAX_EVENT_BYTES, Event, parse_event

STRUCTURED = "application/cloudevents"
BATCH = "application/cloudevents-batch"


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def is_structured(content_type: str | None) -> bool:
    return media_type(content_type).startswith(STRUCTURED)


def decode_structured(body: bytes, received_us: int) -> list[Event]:
    """One event or a JSON array of events; InvalidEvent names what is wrong."""
    if len(body) > 64 * MAX_EVENT_BYTES:
        raise InvalidEvent("the message is over 64 MiB; send smaller batches")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"the body is not valid JSON ({exc}); send a CloudEvent in JSON "
                           "format") from None
    if isinstance(value, list):
        return [parse_event(item, received_us) for item in value]
    return [parse_event(value, received_us)]


def decode_binary(attributes: Mapping[str, Any], content_type: str | None, body: bytes,
                  received_us: int) -> Event:
    """A binary-mode message: attributes from headers, the body as `data`."""
    obj: dict[str, Any] = dict(attributes)
    if content_type:
        obj["datacontenttype"] = content_type
    if body:
        obj.update(_data(body, media_type(content_type)))
    return parse_event(obj, received_us)


def _data(body: bytes, media: str) -> dict[str, Any]:
    if media in ("", "application/json", "text/json") or media.endswith("+json"):
        try:
            return {"data": orjson.loads(body)}
        except orjson.JSONDecodeError as exc:
            raise InvalidEvent(f"the body is declared JSON but does not parse ({exc}); fix "
                               "the body or its content type") from None
    if media.startswith("text/"):
        return {"data": body.decode("utf-8", "replace")}
    return {"data_base64": base64.b64encode(body).decode()}


def prefixed(headers: Mapping[str, Any], prefixes: Sequence[str], *,
             percent: bool) -> dict[str, Any]:
    """Attributes from headers named `<prefix><attr>` (case-insensitive prefix)."""
    out: dict[str, Any] = {}
    for name, value in headers.items():
        lowered = name.lower()
        for prefix in prefixes:
            if lowered.startswith(prefix.lower()) and len(name) > len(prefix):
                text = value.decode() if isinstance(value, bytes) else value
                if percent and isinstance(text, str):
                    text = unquote(text)
                out[name[len(prefix):].lower()] = text
                break
    return out


def http_message(headers: Mapping[str, str], body: bytes, received_us: int) -> list[Event]:
    """An HTTP request body in structured, batch or binary mode."""
    content_type = headers.get("content-type")
    attributes = prefixed(headers, ("ce-",), percent=True)
    if is_structured(content_type) or "specversion" not in attributes:
        return decode_structured(body, received_us)
    return [decode_binary(attributes, content_type, body, received_us)]


def nats_message(headers: Mapping[str, str] | None, body: bytes, received_us: int
                 ) -> list[Event]:
    """NATS >= 2.2: binary mode puts `datacontenttype` in the `ce-datacontenttype` header."""
    headers = headers or {}
    content_type = _get(headers, "content-type")
    attributes = prefixed(headers, ("ce-",), percent=True)
    if is_structured(content_type) or "specversion" not in attributes:
        return decode_structured(body, received_us)
    datacontenttype = attributes.pop("datacontenttype", None) or content_type
    return [decode_binary(attributes, datacontenttype, body, received_us)]


def amqp_message(headers: Mapping[str, Any] | None, content_type: str | None, body: bytes,
                 received_us: int) -> list[Event]:
    """AMQP application properties `cloudEvents_<attr>` (or `cloudEvents:<attr>`)."""
    attributes = prefixed(headers or {}, ("cloudEvents_", "cloudEvents:"), percent=False)
    if is_structured(content_type) or "specversion" not in attributes:
        return decode_structured(body, received_us)
    return [decode_binary(attributes, content_type, body, received_us)]


def redis_entry(fields: Mapping[str, str], field: str, received_us: int) -> list[Event]:
    """A stream entry: structured in `field` (default `event`), or binary with `ce_<attr>`
    fields, the data in `data` and its media type in `content-type`."""
    if field in fields:
        return decode_structured(fields[field].encode(), received_us)
    attributes = prefixed(fields, ("ce_", "ce-"), percent=False)
    if "specversion" not in attributes:
        raise InvalidEvent(f"the stream entry has neither a '{field}' field (structured) nor "
                           "ce_specversion (binary); publish a CloudEvent")
    content_type = fields.get("content-type") or fields.get("datacontenttype")
    return [decode_binary(attributes, content_type, fields.get("data", "").encode(),
                          received_us)]


def with_key(events: list[Event], key_paths: Sequence[str] | None) -> list[Event]:
    """Fill `correlationid` from the source's configured key paths where it is missing."""
    if not key_paths:
        return events
    out = []
    for event in events:
        if event.correlationid is None:
            key = journey_key(event.to_cloudevent(), key_paths)
            event = event._replace(correlationid=key) if key else event
        out.append(event)
    return out


def _get(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
