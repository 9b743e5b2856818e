"""The HTTP receiver over real HTTP (uvicorn on a free loopback port)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests
from receiving import serving
from sqlalchemy import select

from collectors.receiver import create_app
from collectors.sources import SourcesConfig, parse_sources
from collectors.store import Store
from collectors.tables import events, rejects, source_status, spans

FIXTURES = Path(__file__).parent / "fixtures"
SOURCES = """
version: baton/v1
sources:
  web:
    kind: cloudevents
    token_env: T_RECEIVER_WEB
  kong-edge:
    kind: kong
    token_env: T_RECEIVER_KONG
    key: request.headers.x-lead-id
    rules:
      - type: gateway.request.accepted
        when: {route.name: lead-intake, response.status: {lt: 400}}
  traces:
    kind: otlp
    token_env: T_RECEIVER_OTLP
"""
TOKENS = {"T_RECEIVER_WEB": "web-secret", "T_RECEIVER_KONG": "kong-secret",
          "T_RECEIVER_OTLP": "otlp-secret"}


def event(number: int = 1, **extra: object) -> dict:
    return {"specversion": "1.0", "id": f"evt-{number}", "source": "https://forms.acme.example",
            "type": "com.acme.lead.submitted", "time": "2026-01-01T12:00:00Z",
            "correlationid": f"L-{number:04d}", "data": {"qualified": True}, **extra}


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> SourcesConfig:
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    return parse_sources(SOURCES, "sources.yaml")


@pytest.fixture
def url(store: Store, config: SourcesConfig) -> Iterator[str]:
    with serving(create_app(store, config, max_body=64 * 1024)) as base:
        yield base


def post(url: str, path: str, token: str | None, body: bytes, content_type: str,
         **headers: str) -> requests.Response:
    sent = {"Content-Type": content_type, **headers}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return requests.post(url + path, data=body, headers=sent, timeout=10)


def test_a_structured_cloudevent_is_stored_and_counted_for_the_sources_page(
        store: Store, url: str) -> None:
    reply = post(url, "/v1/events", "web-secret", orjson.dumps(event()),
                 "application/cloudevents+json")
    assert reply.status_code == 200
    assert reply.json() == {"accepted": 1, "duplicate": 0, "rejected": 0}
    with store.engine.connect() as conn:
        assert conn.execute(select(events.c.correlationid)).scalar_one() == "L-0001"
        status = conn.execute(select(source_status)).one()
    assert (status.source, status.kind, status.accepted) == ("web", "cloudevents", 1)


def test_a_resent_event_is_counted_as_a_duplicate_and_stored_once(
        store: Store, url: str) -> None:
    for _ in range(2):
        reply = post(url, "/v1/events", "web-secret", orjson.dumps(event()),
                     "application/cloudevents+json")
    assert reply.json() == {"accepted": 0, "duplicate": 1, "rejected": 0}
    assert store.count(events) == 1


def test_a_batch_keeps_its_good_events_and_rejects_the_bad_one_with_its_reason(
        store: Store, url: str) -> None:
    bad = event(3)
    del bad["type"]
    reply = post(url, "/v1/events", "web-secret", orjson.dumps([event(1), event(2), bad]),
                 "application/cloudevents-batch+json")
    assert reply.status_code == 200
    assert reply.json() == {"accepted": 2, "duplicate": 0, "rejected": 1, "errors": [
        "required attribute 'type' is missing; add it to the event"]}
    with store.engine.connect() as conn:
        row = conn.execute(select(rejects)).one()
    assert (row.source, row.location) == ("web", "http: item 3")
    assert orjson.loads(row.raw)["id"] == "evt-3"


def test_binary_mode_reads_percent_encoded_ce_headers_and_the_body_as_data(
        store: Store, url: str) -> None:
    reply = post(url, "/v1/events", "web-secret", b'{"leadId": "L-0042"}',
                 "application/json", **{"ce-specversion": "1.0", "ce-id": "bin-1",
                                        "ce-source": "https://bus.acme.example",
                                        "ce-type": "com.acme.lead.created",
                                        "ce-time": "2026-01-01T12:00:01Z",
                                        "ce-subject": "leads%2042%20%E2%9C%93",
                                        "ce-correlationid": "L-0042"})
    assert reply.status_code == 200, reply.text
    with store.engine.connect() as conn:
        row = conn.execute(select(events)).one()
    assert (row.subject, row.datacontenttype, orjson.loads(row.data)) == (
        "leads 42 ✓", "application/json", {"leadId": "L-0042"})


def test_an_invalid_event_is_a_400_with_the_reason_and_is_kept_as_a_reject(
        store: Store, url: str) -> None:
    reply = post(url, "/v1/events", "web-secret", orjson.dumps(event(time="yesterday")),
                 "application/cloudevents+json")
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("'time' 'yesterday' is not an RFC 3339 timestamp")
    assert store.count(rejects) == 1


def test_a_body_that_is_not_json_is_a_400_naming_the_problem(store: Store, url: str) -> None:
    reply = post(url, "/v1/kong", "kong-secret", b"{oops", "application/json")
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("the body is not valid JSON")


@pytest.mark.parametrize(("header", "status", "message"), [
    (None, 401, "missing bearer token"),
    ("Bearer nope", 401, "matches no source"),
    ("Bearer kong-secret", 403, "belongs to source 'kong-edge' of kind 'kong'"),
], ids=["no-token", "unknown-token", "token-of-another-kind"])
def test_pushes_need_the_bearer_token_of_a_source_of_the_right_kind(
        store: Store, url: str, header: str | None, status: int, message: str) -> None:
    headers = {"Content-Type": "application/cloudevents+json"}
    if header:
        headers["Authorization"] = header
    reply = requests.post(url + "/v1/events", data=orjson.dumps(event()), headers=headers,
                          timeout=10)
    assert reply.status_code == status
    assert message in reply.json()["error"]
    assert store.count(events) == 0


def test_a_body_over_the_limit_is_refused_with_413(store: Store, url: str) -> None:
    big = orjson.dumps([event(n, data={"pad": "x" * 2000}) for n in range(40)])
    reply = post(url, "/v1/events", "web-secret", big, "application/cloudevents-batch+json")
    assert reply.status_code == 413
    assert "over the 65,536-byte limit" in reply.json()["error"]


def test_a_gzipped_batch_is_accepted(store: Store, url: str) -> None:
    body = gzip.compress(orjson.dumps([event(n) for n in range(5)]))
    reply = post(url, "/v1/events", "web-secret", body, "application/cloudevents-batch+json",
                 **{"Content-Encoding": "gzip"})
    assert reply.json()["accepted"] == 5


def test_kong_http_log_accepts_a_single_entry_and_a_batched_array(
        store: Store, url: str) -> None:
    single = post(url, "/v1/kong", "kong-secret",
                  (FIXTURES / "kong-http-log-single.json").read_bytes(), "application/json")
    batch = post(url, "/v1/kong", "kong-secret",
                 (FIXTURES / "kong-http-log-batch.json").read_bytes(), "application/json")
    assert single.json() == {"accepted": 1, "events": 1, "duplicate": 0, "rejected": 0,
                             "skipped": 0}
    # the 502 matches none of this source's rules: skipped, and counted as such
    assert batch.json() == {"accepted": 1, "events": 1, "duplicate": 1, "rejected": 0,
                            "skipped": 1}
    with store.engine.connect() as conn:
        assert sorted(conn.execute(select(events.c.correlationid)).scalars()) == [
            "L-1009", "L-1010"]


def test_otlp_traces_answer_empty_success_or_partial_success_as_otlp_http_says(
        store: Store, url: str) -> None:
    good, partial = (FIXTURES / "otlp-traces.jsonl").read_bytes().splitlines()
    first = post(url, "/v1/traces", "otlp-secret", good, "application/json")
    second = post(url, "/v1/traces", "otlp-secret", partial, "application/json")
    assert (first.status_code, first.json()) == (200, {})
    assert second.status_code == 200
    assert second.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert "traceId" in second.json()["partialSuccess"]["errorMessage"]
    assert store.count(spans) == 3 and store.count(rejects) == 1


def test_a_request_that_is_not_otlp_json_is_a_final_400(store: Store, url: str) -> None:
    reply = post(url, "/v1/traces", "otlp-secret", b'{"spans": []}', "application/json")
    assert reply.status_code == 400
    assert reply.json()["message"].startswith("not OTLP/JSON traces")


def test_an_unavailable_store_answers_503_with_retry_after_so_senders_retry(
        config: SourcesConfig) -> None:
    down = Store.open("postgresql+psycopg://root@127.0.0.1:1/test?connect_timeout=2",
                      migrate=False)
    with serving(create_app(down, config)) as base:
        reply = post(base, "/v1/events", "web-secret", orjson.dumps(event()),
                     "application/cloudevents+json")
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "5"
    assert reply.json()["error"].startswith("the store is unavailable")


def test_the_openapi_document_lists_the_three_push_endpoints(
        sqlite_url: str, config: SourcesConfig) -> None:
    app = create_app(Store.open(sqlite_url), config)
    with serving(app) as base:
        doc = requests.get(base + "/openapi.json", timeout=10).json()
    assert {"/v1/events", "/v1/kong", "/v1/traces"} <= set(doc["paths"])
    content = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    assert "application/cloudevents-batch+json" in content
