"""The HTTP receiver for pushed records (FastAPI): CloudEvents, Kong http-log, OTLP traces.

    POST /v1/events   CloudEvents: structured, batch, or binary HTTP mode   (kind cloudevents)
    POST /v1/kong     Kong http-log: one entry, or an array when batched    (kind kong)
    POST /v1/traces   OTLP/HTTP, protobuf (the exporters' default) or JSON  (kind otlp)

Each request carries `Authorization: Bearer <token>`; the token names a source of
`config/sources.yaml` (its `token_env`). No or unknown token: 401; a token of a source of
another kind: 403. Bodies over the limit: 413. Bad records are kept as rejects and answered
with 400 and the reason (or counted in a 200 when others in the batch were good). When the
store cannot be written the answer is 503 with `Retry-After`, so the sender retries. Bodies may
be compressed (`Content-Encoding: gzip`, `x-gzip`, `deflate`; several members, any case).
OTLP is answered in the encoding it was sent in, as OTLP/HTTP requires.
"""

from __future__ import annotations

import base64
import hmac
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from collectors.bindings import BATCH, http_message, media_type
from collectors.counts import RecordBatch, WriteCounts
from collectors.errors import CollectorError, InvalidEvent
from collectors.formats import counts_json
from collectors.gateway import parse_kong
from collectors.runner import commit, newest
from collectors.schema import Event, parse_event
from collectors.sources import SourcesConfig, source_map
from collectors.store import Reject, Store, now_us
from collectors.traces import otlp_from_protobuf, parse_otlp, write_spans

MAX_BODY = 8 * 1024 * 1024
PROTOBUF = ("application/x-protobuf", "application/protobuf")


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class Outcome:
    """What a request stored: its counts and one reason per rejected record."""

    counts: WriteCounts
    reasons: list[str]
    total: int
    kind: str = "cloudevents"


def create_app(store: Store, config: SourcesConfig, *, max_body: int = MAX_BODY,
               tokens: dict[str, str] | None = None) -> FastAPI:
    """The receiver app for `store`, authenticating with the sources' push tokens."""
    app = FastAPI(title="Baton receiver", version="1", description=__doc__)
    known = config.push_tokens() if tokens is None else tokens
    receiver = _Receiver(store, config, known, max_body)

    @app.exception_handler(HttpError)
    async def _error(_request: Request, exc: HttpError) -> Response:
        return JSONResponse({"error": exc.message}, exc.status, headers=exc.headers)

    @app.post("/v1/events", summary="Push CloudEvents (structured, batch or binary mode)",
              openapi_extra=_body_doc("application/cloudevents+json",
                                      "application/cloudevents-batch+json",
                                      "application/json"))
    async def post_events(request: Request) -> Response:
        name, body = await receiver.accept(request, "cloudevents")
        outcome = await run_in_threadpool(receiver.events, name, request, body)
        return _counts_response(outcome)

    @app.post("/v1/kong", summary="Push Kong http-log entries (one, or an array)",
              openapi_extra=_body_doc("application/json"))
    async def post_kong(request: Request) -> Response:
        name, body = await receiver.accept(request, "kong")
        outcome = await run_in_threadpool(receiver.kong, name, body)
        return _counts_response(outcome)

    @app.post("/v1/traces", summary="Push OTLP/HTTP traces (protobuf or JSON encoding)",
              openapi_extra=_body_doc(*PROTOBUF, "application/json"))
    async def post_traces(request: Request) -> Response:
        name, body = await receiver.accept(request, "otlp")
        protobuf = media_type(request.headers.get("content-type")) in PROTOBUF
        return await run_in_threadpool(receiver.traces, name, body, protobuf)

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


class _Receiver:
    def __init__(self, store: Store, config: SourcesConfig, tokens: dict[str, str],
                 max_body: int) -> None:
        self.store, self.config, self.tokens, self.max_body = store, config, tokens, max_body

    async def accept(self, request: Request, kind: str) -> tuple[str, bytes]:
        """Authenticate and read the body within the limit: (source name, body)."""
        name = self.authenticate(request.headers.get("authorization"), kind, request.url.path)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body:
            raise self._too_large()
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > self.max_body:
                raise self._too_large()
        return name, decode_content(bytes(body), request.headers.get("content-encoding"),
                                    self.max_body)

    def authenticate(self, header: str | None, kind: str, path: str) -> str:
        if not header or not header.lower().startswith("bearer ") or not header[7:].strip():
            raise HttpError(401, "missing bearer token; send 'Authorization: Bearer <token>' "
                            "with the token of a source in config/sources.yaml",
                            {"WWW-Authenticate": "Bearer"})
        token = header[7:].strip().encode()
        name = next((n for t, n in self.tokens.items() if hmac.compare_digest(t.encode(),
                                                                              token)), None)
        if name is None:
            raise HttpError(401, "the bearer token matches no source; check the token and the"
                            " source's token_env", {"WWW-Authenticate": "Bearer"})
        source = self.config.sources[name]
        if source.kind != kind:
            raise HttpError(403, f"the token belongs to source {name!r} of kind "
                            f"{source.kind!r}, which does not post to {path}; use a token of "
                            f"a {kind!r} source")
        return name

    def _too_large(self) -> HttpError:
        return _too_large(self.max_body)

    # --- the three record kinds ---

    def events(self, name: str, request: Request, body: bytes) -> Outcome:
        received = now_us()
        source = self.config.sources[name]
        if media_type(request.headers.get("content-type")).startswith(BATCH) or (
                body.lstrip()[:1] == b"["):
            return self._batch(name, body, received, source.key)
        return self._each(name, "cloudevents", [body],
                          lambda raw: _keyed(http_message(request.headers, raw, received),
                                             source.key))

    def _batch(self, name: str, body: bytes, received: int,
               key: tuple[str, ...] | None) -> Outcome:
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            problem = str(exc)
            return self._each(name, "cloudevents", [body], lambda _raw: _bad_json(problem))
        if not isinstance(items, list):
            items = [items]
        return self._each(name, "cloudevents", items,
                          lambda item: _keyed([parse_event(item, received)], key))

    def kong(self, name: str, body: bytes) -> Outcome:
        mapping = source_map(name, self.config.sources[name])
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            problem = str(exc)
            return self._each(name, "kong", [body], lambda _raw: _bad_json(problem))
        items = value if isinstance(value, list) else [value]
        return self._each(name, "kong", items, lambda entry: parse_kong(entry, mapping))

    def _each(self, name: str, format: str, items: list[Any],
              parse: Callable[[Any], list[Event]]) -> Outcome:
        events = RecordBatch()  # counted by item: a Kong entry is one record, its events many
        rejects: list[Reject] = []
        received = now_us()
        for index, item in enumerate(items, start=1):
            try:
                events.add(parse(item))
            except InvalidEvent as exc:
                raw = item.decode("utf-8", "replace") if isinstance(item, bytes) else (
                    orjson.dumps(item).decode())
                rejects.append(Reject(name, format, f"http: item {index}", str(exc),
                                      raw[:65536], received))
        counts = self._commit(name, events, rejects)
        return Outcome(counts, [r.reason for r in rejects], len(items), format)

    def traces(self, name: str, body: bytes, protobuf: bool = False) -> Response:
        mapping = source_map(name, self.config.sources[name])
        received = now_us()
        try:
            batch = parse_otlp(otlp_from_protobuf(body) if protobuf else orjson.loads(body),
                               mapping, received)
        except (orjson.JSONDecodeError, InvalidEvent) as exc:
            reason = str(exc) if isinstance(exc, InvalidEvent) else f"not valid JSON ({exc})"
            raw = (base64.b64encode(body[:49152]).decode() if protobuf
                   else body.decode("utf-8", "replace")[:65536])
            self._commit(name, [], [Reject(name, "otlp", "http: /v1/traces", reason, raw,
                                           received)])
            return _otlp_answer(protobuf, 400, message=reason)
        rejects = [Reject(name, "otlp", "http: /v1/traces", reason, raw, received)
                   for reason, raw in batch.problems]
        self._commit(name, batch.events, rejects,
                     lambda conn: write_spans(self.store.dialect, conn, batch.rows))
        return _otlp_answer(protobuf, 200, len(batch.problems),
                            "; ".join(r for r, _ in batch.problems)[:1000])

    def _commit(self, name: str, events: list[Event], rejects: list[Reject],
                extra: Any = None) -> WriteCounts:
        try:
            counts = commit(self.store, events, rejects, extra=extra)
            self.store.record_source(name, self.config.sources[name].kind, counts,
                                     newest_event_us=newest(events))
        except CollectorError as exc:
            raise HttpError(503, f"the store is unavailable ({exc}); retry later",
                            {"Retry-After": "5"}) from None
        except Exception as exc:  # a dropped database connection surfaces as many types
            raise HttpError(503, f"the store is unavailable ({type(exc).__name__}); retry "
                            "later", {"Retry-After": "5"}) from None
        return counts


def decode_content(body: bytes, header: str | None, limit: int) -> bytes:
    """The body with its `Content-Encoding` undone. Codings are listed in the order they were
    applied (`gzip, identity`), so they are undone last first; names are case-insensitive.
    The decoded size is capped at `limit` as it is decoded (a small gzip bomb stays small)."""
    for coding in reversed([c.strip().lower() for c in (header or "").split(",")]):
        if coding in ("", "identity"):
            continue
        if coding in ("gzip", "x-gzip"):
            body = _gunzip(body, limit)
        elif coding == "deflate":
            body = _inflate(body, limit)
        else:
            raise HttpError(415, f"content-encoding {coding!r} is not supported; send gzip, "
                            "deflate or no encoding")
    return body


def _gunzip(data: bytes, limit: int) -> bytes:
    """Every member of a gzip stream (RFC 1952 allows several, e.g. from concatenated files
    or a streaming writer's flushes), not only the first."""
    out = bytearray()
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error:
            raise HttpError(400, "the body is not valid gzip; compress it whole with gzip, "
                            "or send it uncompressed") from None
        if len(out) > limit:
            raise _too_large(limit)
        if not inflater.eof:
            raise HttpError(400, "the gzip body ends in the middle of a member; send the "
                            "whole compressed body")
        data = inflater.unused_data
        if not data.strip(b"\0"):  # some writers pad the last member with zeros
            return bytes(out)


def _inflate(data: bytes, limit: int) -> bytes:
    """`deflate` is the zlib format (RFC 9110); some clients send raw deflate, read too."""
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(data, limit + 1)
        except zlib.error:
            continue
        if len(out) > limit:
            raise _too_large(limit)
        if inflater.eof and not inflater.unused_data:
            return out
    raise HttpError(400, "the body is not valid deflate (zlib) data; compress it whole, or "
                    "send it uncompressed")


def _too_large(limit: int) -> HttpError:
    return HttpError(413, f"the body is over the {limit:,}-byte limit; send smaller batches")


def _keyed(events: list[Event], key: tuple[str, ...] | None) -> list[Event]:
    from collectors.bindings import with_key

    return with_key(events, key)


def _bad_json(problem: str) -> list[Event]:
    raise InvalidEvent(f"the body is not valid JSON ({problem}); send one JSON object or array")


def _counts_response(outcome: Outcome) -> Response:
    body: dict[str, Any] = dict(counts_json(outcome.counts, outcome.kind))
    if outcome.reasons and outcome.counts.rejected == outcome.total:
        return JSONResponse({"error": outcome.reasons[0], **body, "errors": outcome.reasons},
                            400)
    if outcome.reasons:
        body["errors"] = outcome.reasons
    return JSONResponse(body)


def _otlp_answer(protobuf: bool, status: int, rejected: int = 0, message: str = "") -> Response:
    """OTLP/HTTP's answer, in the request's encoding: `ExportTraceServiceResponse` (with a
    `partialSuccess` when spans were rejected), or a `google.rpc.Status` for a 400."""
    if not protobuf:
        if status != 200:
            return JSONResponse({"code": 3, "message": message}, status)
        return JSONResponse({"partialSuccess": {"rejectedSpans": str(rejected),
                                                "errorMessage": message}} if rejected else {})
    if status != 200:
        from google.rpc.status_pb2 import Status

        body = Status(code=3, message=message).SerializeToString()  # 3: INVALID_ARGUMENT
    else:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTracePartialSuccess,
            ExportTraceServiceResponse,
        )

        partial = (ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
                   if rejected else None)
        body = ExportTraceServiceResponse(partial_success=partial).SerializeToString()
    return Response(body, status, media_type="application/x-protobuf")


def _body_doc(*types: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        t: {"schema": {"type": "object"}} for t in types}}}
