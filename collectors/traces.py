"""OpenTelemetry traces (FORMATS.md section 2): OTLP/JSON batches -> rows of the `spans`
table, plus stage-marking events through the source's mapping rules.

OTLP/HTTP protobuf requests are decoded into the very object OTLP/JSON would have carried
(`otlp_from_protobuf`), so one parser maps both encodings and they store identical rows.

Each span is stored once (`trace_id` + `span_id` unique), with its service, times, status
and attributes. Rules see a flattened span: `name`, `kind`, `service`, `status.code`,
`attributes.<key>`, `resource.<key>`, `startTimeUnixNano`, `endTimeUnixNano` (the default
event time). A bad span is reported (and kept as a reject) without losing its batch-mates,
as OTLP/HTTP's `partialSuccess` describes.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from collectors.counts import RecordBatch, WriteCounts
from collectors.errors import CollectorError, InvalidEvent
from collectors.mapping import SourceMap, coerce_time, journey_key, map_record
from collectors.sources import OtlpSource, source_map
from collectors.store import Store
from collectors.tables import spans
from collectors.tail import FileTail, Parsed

TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")
SPAN_ID = re.compile(r"[0-9a-fA-F]{16}")


@dataclass(slots=True)
class Batch:
    """One OTLP export request, parsed: span rows, events, and one problem per bad span.
    The spans are the records (counted when written); the events are made from them."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    events: RecordBatch = field(default_factory=lambda: RecordBatch(derived=True))
    problems: list[tuple[str, str]] = field(default_factory=list)  # (reason, raw span)


def parse_otlp(obj: Any, mapping: SourceMap, received_us: int) -> Batch:
    """Parse an `ExportTraceServiceRequest` in OTLP/JSON; InvalidEvent if it is not one."""
    if obj == {}:  # an empty request (proto3 JSON omits empty lists): nothing to store
        return Batch()
    if not isinstance(obj, dict) or not isinstance(obj.get("resourceSpans"), list):
        raise InvalidEvent('not OTLP/JSON traces: expected {"resourceSpans": [...]}; export '
                           "with the otlphttp exporter (encoding: json) or the file exporter")
    batch = Batch()
    for resource_spans in obj["resourceSpans"]:
        resource = attributes((resource_spans or {}).get("resource", {}).get("attributes"))
        for scope_spans in _scope_spans(resource_spans):
            scope = (scope_spans.get("scope") or {}).get("name")
            for index, span in enumerate(scope_spans.get("spans") or []):
                try:
                    _add_span(batch, span, resource, scope, mapping, received_us)
                except InvalidEvent as exc:
                    name = span.get("name") if isinstance(span, dict) else None
                    batch.problems.append((f"span {index} ({name or 'unnamed'}): {exc}",
                                           orjson.dumps(span).decode()[:65536]))
    return batch


def otlp_from_protobuf(body: bytes) -> dict[str, Any]:
    """An OTLP/HTTP protobuf `ExportTraceServiceRequest` as its OTLP/JSON object.

    `MessageToDict` already gives OTLP/JSON's lowerCamelCase keys and int64 values as
    strings; enums are asked for as numbers, and the ids, which it writes as base64 (the
    generic proto3 mapping for bytes), are turned into the hex OTLP/JSON prescribes. Fields
    at their default value are omitted, as OTLP/JSON senders may omit them too.
    """
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise InvalidEvent(f"not OTLP protobuf traces ({exc}); send an "
                           "ExportTraceServiceRequest, or OTLP/JSON with Content-Type: "
                           "application/json") from None
    obj: dict[str, Any] = MessageToDict(request, use_integers_for_enums=True)
    for resource_spans in obj.get("resourceSpans", []):
        for scope_spans in _scope_spans(resource_spans):
            for span in scope_spans.get("spans", []):
                _hex_ids(span, ("traceId", "spanId", "parentSpanId"))
                for link in span.get("links", []):
                    _hex_ids(link, ("traceId", "spanId"))
    return obj


def _hex_ids(item: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name in item:
            item[name] = base64.b64decode(item[name]).hex()


def _scope_spans(resource_spans: Any) -> list[dict[str, Any]]:
    if not isinstance(resource_spans, dict):
        return []
    found = resource_spans.get("scopeSpans") or resource_spans.get(
        "instrumentationLibrarySpans") or []
    return [s for s in found if isinstance(s, dict)]


def _add_span(batch: Batch, span: Any, resource: dict[str, Any], scope: str | None,
              mapping: SourceMap, received_us: int) -> None:
    view = span_view(span, resource, scope)
    trace_id, span_id = view["traceId"], view["spanId"]
    start = coerce_time(view["startTimeUnixNano"], "startTimeUnixNano")
    end = coerce_time(view["endTimeUnixNano"], "endTimeUnixNano")
    key = journey_key(view, mapping.key_paths)
    batch.rows.append({
        "trace_id": trace_id, "span_id": span_id, "parent_span_id": view["parentSpanId"],
        "name": view["name"], "service": view["service"], "kind": view["kind"],
        "start_us": start, "end_us": end, "status_code": view["status"]["code"],
        "status_message": view["status"]["message"],
        "attributes": orjson.dumps(view["attributes"]).decode(), "correlationid": key,
        "source": mapping.name, "received_us": received_us})
    batch.events.extend(map_record(view, mapping, f"{trace_id}/{span_id}",
                                   subject=view["name"],
                                   traceparent=f"00-{trace_id}-{span_id}-01"))


def span_view(span: Any, resource: dict[str, Any], scope: str | None) -> dict[str, Any]:
    """The flattened span that rules and the spans table see; InvalidEvent when malformed."""
    if not isinstance(span, dict):
        raise InvalidEvent("a span must be a JSON object")
    trace_id, span_id = span.get("traceId"), span.get("spanId")
    if not isinstance(trace_id, str) or not TRACE_ID.fullmatch(trace_id) or not int(trace_id,
                                                                                     16):
        raise InvalidEvent(f"traceId {trace_id!r} is not 32 hex digits (not all zero); OTLP/"
                           "JSON carries ids as hex, not base64")
    if not isinstance(span_id, str) or not SPAN_ID.fullmatch(span_id) or not int(span_id, 16):
        raise InvalidEvent(f"spanId {span_id!r} is not 16 hex digits (not all zero)")
    if not isinstance(span.get("name"), str):
        raise InvalidEvent("the span has no name")
    for name in ("startTimeUnixNano", "endTimeUnixNano"):
        if span.get(name) in (None, "", "0", 0):
            raise InvalidEvent(f"the span has no {name}")
    found = span.get("status")
    status: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        "traceId": trace_id.lower(), "spanId": span_id.lower(),
        "parentSpanId": (span.get("parentSpanId") or "").lower() or None,
        "name": span["name"], "kind": _int(span.get("kind")) or 0, "scope": scope,
        "service": resource.get("service.name"), "resource": resource,
        "attributes": attributes(span.get("attributes")),
        "startTimeUnixNano": span["startTimeUnixNano"], "endTimeUnixNano": span["endTimeUnixNano"],
        "status": {"code": _int(status.get("code")) or 0,
                   "message": status.get("message") or None},  # proto3: "" is unset
    }


def attributes(items: Any) -> dict[str, Any]:
    """OTLP `[{key, value: AnyValue}]` -> a plain dict."""
    if not isinstance(items, list):
        return {}
    return {item["key"]: any_value(item.get("value")) for item in items
            if isinstance(item, dict) and isinstance(item.get("key"), str)}


def any_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return _int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "bytesValue" in value:
        return value["bytesValue"]
    if "arrayValue" in value:
        return [any_value(v) for v in (value["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in value:
        return attributes((value["kvlistValue"] or {}).get("values"))
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def write_spans(dialect: str, conn: Connection, rows: list[dict[str, Any]]) -> WriteCounts:
    """Insert spans, ignoring ones already stored (the same trace and span id); counted as
    records: a new span is accepted, one stored before a duplicate."""
    if not rows:
        return WriteCounts()
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    # RETURNING: psycopg reports no row count for executemany
    new = len(conn.execute(insert(spans).on_conflict_do_nothing().returning(spans.c.id),
                           rows).all())
    return WriteCounts(accepted=new, duplicate=len(rows) - new, spans=new)


def otlp_file_tail(store: Store, name: str, source: OtlpSource,
                   path: str | None = None) -> FileTail:
    """The tail of a Collector `file` exporter's output (JSON format, one batch per line)."""
    target = path or source.file
    if not target:
        raise CollectorError(f"source {name!r} has no `file` to tail; set `file:` to the "
                             "Collector file exporter path, or push to /v1/traces")
    mapping = source_map(name, source)

    def parse(obj: Any) -> Parsed:
        from collectors.store import now_us

        batch = parse_otlp(obj, mapping, now_us())
        return Parsed(batch.events, batch.rows, [reason for reason, _raw in batch.problems])

    return FileTail(store, name, "otlp", Path(target), source.batch, parse,
                    lambda conn, rows: write_spans(store.dialect, conn, rows))
