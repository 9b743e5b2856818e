"""OTLP/HTTP pushes from the real OpenTelemetry Python SDK: its protobuf exporter (the
default encoding of the SDKs and the Collector's `otlphttp`), with and without gzip, and its
JSON exporter, against the receiver on loopback. Both encodings must store the same rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import pytest
import requests
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.exporter.otlp.json.http.trace_exporter import (
    OTLPSpanExporter as JsonSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context
from receiving import serving
from sqlalchemy import delete, select

from collectors.receiver import create_app
from collectors.sources import SourcesConfig, parse_sources
from collectors.store import Store
from collectors.tables import events, rejects, source_status, spans

SOURCES = """
version: baton/v1
sources:
  traces:
    kind: otlp
    token_env: T_PEER_OTLP
    rules:
      - type: crm.lead.upserted
        when: {name: "POST /crm/v3/objects/contacts", status.code: {ne: 2}}
"""
AUTH = {"Authorization": "Bearer otlp-secret"}
T0 = 1_767_268_800_123_456_789  # ns: sub-microsecond digits, past a float's precision


@pytest.fixture
def url(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("T_PEER_OTLP", "otlp-secret")
    config: SourcesConfig = parse_sources(SOURCES, "sources.yaml")
    with serving(create_app(store, config)) as base:
        yield base


def recorded_spans() -> list[ReadableSpan]:
    """A lead's CRM sync as the SDK records it: a root server span, a rate-limited client
    call (error status), and its successful retry (the one the rule maps to a stage)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "crm-sync-worker",
                                                 "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("martech.delivery", "0.3.0")
    root = tracer.start_span("sync lead", kind=SpanKind.SERVER, start_time=T0,
                             attributes={"lead.id": "L-1009"})
    parent = set_span_in_context(root)
    limited = tracer.start_span("POST /crm/v3/objects/contacts", context=parent,
                                kind=SpanKind.CLIENT, start_time=T0 + 1_000_000,
                                attributes={"lead.id": "L-1009",
                                            "http.response.status_code": 429,
                                            "retry": False, "ratio": 0.25,
                                            "tags": ["crm", "hubspot"]})
    limited.set_status(Status(StatusCode.ERROR, "HubSpot search rate limit"))
    limited.end(end_time=T0 + 842_000_000)
    retry = tracer.start_span("POST /crm/v3/objects/contacts", context=parent,
                              kind=SpanKind.CLIENT, start_time=T0 + 900_000_000,
                              attributes={"lead.id": "L-1009",
                                          "http.response.status_code": 201, "retry": True})
    retry.set_status(Status(StatusCode.OK))
    retry.end(end_time=T0 + 1_300_000_999)
    root.end(end_time=T0 + 1_400_000_000)
    provider.shutdown()
    return list(memory.get_finished_spans())


def export(exporter: Any, finished: Sequence[ReadableSpan]) -> None:
    assert exporter.export(finished) == SpanExportResult.SUCCESS
    exporter.shutdown()


def stored(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Spans and events as rows, without what differs between two pushes (arrival times)."""
    with store.engine.connect() as conn:
        span_rows = [{k: v for k, v in row.items() if k not in ("id", "received_us")}
                     for row in conn.execute(select(spans).order_by(spans.c.start_us))
                     .mappings()]
        event_rows = [{k: v for k, v in row.items() if k not in ("seq", "received_us")}
                      for row in conn.execute(select(events)).mappings()]
    return span_rows, event_rows


def expected_span(span: ReadableSpan, kind: int, status: int, message: str | None,
                  attributes: dict[str, Any]) -> dict[str, Any]:
    assert span.start_time is not None and span.end_time is not None
    return {"trace_id": f"{span.context.trace_id:032x}", "span_id": f"{span.context.span_id:016x}",
            "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
            "name": span.name, "service": "crm-sync-worker", "kind": kind,
            "start_us": span.start_time // 1000, "end_us": span.end_time // 1000,
            "status_code": status, "status_message": message,
            "attributes": orjson.dumps(attributes).decode(), "correlationid": "L-1009",
            "source": "traces"}


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip,
                                         Compression.Deflate], ids=["plain", "gzip", "deflate"])
def test_the_sdk_protobuf_exporter_stores_every_span_with_its_ids_times_and_status(
        store: Store, url: str, compression: Compression) -> None:
    finished = recorded_spans()
    export(OTLPSpanExporter(endpoint=url + "/v1/traces", headers=AUTH,
                            compression=compression), finished)
    span_rows, event_rows = stored(store)
    limited, retry, root = finished
    assert span_rows == [
        expected_span(root, 2, 0, None, {"lead.id": "L-1009"}),
        expected_span(limited, 3, 2, "HubSpot search rate limit", {
            "lead.id": "L-1009", "http.response.status_code": 429, "retry": False,
            "ratio": 0.25, "tags": ["crm", "hubspot"]}),
        expected_span(retry, 3, 1, None, {"lead.id": "L-1009",
                                          "http.response.status_code": 201, "retry": True}),
    ]
    trace, span = f"{retry.context.trace_id:032x}", f"{retry.context.span_id:016x}"
    assert [(e["event_id"], e["type"], e["time_us"], e["correlationid"], e["traceparent"])
            for e in event_rows] == [(f"{trace}/{span}:crm.lead.upserted", "crm.lead.upserted",
                                      (T0 + 1_300_000_999) // 1000, "L-1009",
                                      f"00-{trace}-{span}-01")]
    with store.engine.connect() as conn:
        status = conn.execute(select(source_status)).one()
    assert (status.source, status.accepted, status.rejected) == ("traces", 3, 0)


def test_the_sdk_json_exporter_and_the_protobuf_exporter_store_identical_rows(
        store: Store, url: str) -> None:
    finished = recorded_spans()
    export(OTLPSpanExporter(endpoint=url + "/v1/traces", headers=AUTH), finished)
    from_protobuf = stored(store)
    with store.engine.begin() as conn:
        conn.execute(delete(spans))
        conn.execute(delete(events))
    export(JsonSpanExporter(endpoint=url + "/v1/traces", headers=AUTH), finished)
    from_json = stored(store)
    assert from_json == from_protobuf
    assert len(from_json[0]) == 3 and len(from_json[1]) == 1


def test_spans_pushed_again_are_stored_once(store: Store, url: str) -> None:
    finished = recorded_spans()
    for _ in range(2):
        export(OTLPSpanExporter(endpoint=url + "/v1/traces", headers=AUTH), finished)
    assert store.count(spans) == 3 and store.count(events) == 1


def protobuf_request(*trace_ids: bytes) -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for number, trace_id in enumerate(trace_ids, start=1):
        span = scope.spans.add(trace_id=trace_id, span_id=bytes([0] * 7 + [number]),
                               name=f"span {number}", start_time_unix_nano=T0,
                               end_time_unix_nano=T0 + 1000)
        span.attributes.add(key="lead.id").value.string_value = "L-1"
    return request.SerializeToString()


def test_a_protobuf_push_with_a_bad_span_gets_a_protobuf_partial_success(
        store: Store, url: str) -> None:
    body = protobuf_request(bytes(range(1, 17)), bytes(16))  # the second: all-zero trace id
    reply = requests.post(url + "/v1/traces", data=body, timeout=10, headers={
        **AUTH, "Content-Type": "application/x-protobuf"})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(reply.content)
    assert answer.partial_success.rejected_spans == 1
    assert "span 1 (span 2): traceId '0000" in answer.partial_success.error_message
    assert store.count(spans) == 1 and store.count(rejects) == 1


def test_a_protobuf_body_that_does_not_decode_is_a_final_400_with_an_rpc_status(
        store: Store, url: str) -> None:
    reply = requests.post(url + "/v1/traces", data=b"\xff\xff\xff not protobuf", timeout=10,
                          headers={**AUTH, "Content-Type": "application/x-protobuf"})
    assert reply.status_code == 400
    status = RpcStatus.FromString(reply.content)
    assert status.code == 3 and status.message.startswith("not OTLP protobuf traces")
    with store.engine.connect() as conn:
        assert conn.execute(select(rejects.c.reason)).scalar_one() == status.message


def test_an_empty_request_is_a_plain_success_in_either_encoding(store: Store, url: str) -> None:
    empty = requests.post(url + "/v1/traces", data=b"", timeout=10, headers={
        **AUTH, "Content-Type": "application/x-protobuf"})
    assert empty.status_code == 200
    assert not ExportTraceServiceResponse.FromString(empty.content).HasField("partial_success")
    as_json = requests.post(url + "/v1/traces", data=b"{}", timeout=10, headers={
        **AUTH, "Content-Type": "application/json"})
    assert (as_json.status_code, as_json.json()) == (200, {})
    assert store.count(spans) == 0 and store.count(rejects) == 0
