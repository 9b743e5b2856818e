"""CloudEvents pushed by the real CloudEvents Python SDK, in structured and binary HTTP mode,
through its current API (`cloudevents.core`) and its 1.x API (`cloudevents.v1`): what is
stored is what was sent, attribute for attribute."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import requests
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1.conversion import to_binary as v1_to_binary
from cloudevents.v1.conversion import to_structured as v1_to_structured
from cloudevents.v1.http import CloudEvent as V1CloudEvent
from receiving import serving
from sqlalchemy import select

from collectors.receiver import create_app
from collectors.schema import format_time
from collectors.sources import parse_sources
from collectors.store import Store
from collectors.tables import events

SENT_AT = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def url(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("T_PEER_EVENTS", "web-secret")
    config = parse_sources("version: baton/v1\nsources:\n  web: {kind: cloudevents, "
                           "token_env: T_PEER_EVENTS}\n", "sources.yaml")
    with serving(create_app(store, config)) as base:
        yield base


def attributes(number: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"dlv-{number}", "source": "https://gateway.example.com/routes/crm-sync",
            "type": "com.example.martech.lead.delivered.v1", "time": SENT_AT,
            "subject": "hubspot/contacts/100451 ✓ 50% \"done\"",
            "datacontenttype": "application/json",
            "dataschema": "https://schemas.example.com/lead-delivered/v1.json",
            "correlationid": "L-1009", "consentscope": "marketing",
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "tenant": "acme", **extra}


DATA = {"leadId": "L-1009", "destination": "hubspot", "status": "delivered", "latencyMs": 842,
        "tags": ["web", "é"], "nested": {"ok": True, "ratio": 0.5}}


def push(url: str, headers: dict[str, str], body: bytes) -> requests.Response:
    return requests.post(url + "/v1/events", data=body, timeout=10,
                         headers={**headers, "Authorization": "Bearer web-secret"})


def stored(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = conn.execute(select(events)).mappings().one()
    return dict(row)


def as_sent(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row back in CloudEvents terms, to compare with the SDK's event."""
    out = {"id": row["event_id"], "source": row["source"], "type": row["type"],
           "time": format_time(row["time_us"]), "subject": row["subject"],
           "datacontenttype": row["datacontenttype"], "dataschema": row["dataschema"],
           "correlationid": row["correlationid"], "consentscope": row["consentscope"],
           "traceparent": row["traceparent"], **orjson.loads(row["extensions"] or "{}")}
    return {k: v for k, v in out.items() if v is not None}


def expected(sent: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in sent.items() if k != "specversion"},
            "time": format_time(int(SENT_AT.timestamp()) * 1_000_000 + 123456)}


@pytest.mark.parametrize("mode", ["structured", "binary"])
def test_the_sdks_http_modes_store_every_attribute_the_data_and_the_extensions(
        store: Store, url: str, mode: str) -> None:
    event = CloudEvent(attributes(1), DATA)
    message = (to_structured_event if mode == "structured" else to_binary_event)(event)
    reply = push(url, message.headers, message.body)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"accepted": 1, "duplicate": 0, "rejected": 0}
    row = stored(store)
    assert as_sent(row) == expected(event.get_attributes())
    assert orjson.loads(row["data"]) == DATA and row["time_inferred"] is False
    assert row["time_us"] == int(SENT_AT.timestamp()) * 1_000_000 + 123456


def test_binary_data_that_is_not_json_is_kept_byte_for_byte(store: Store, url: str) -> None:
    payload = bytes(range(256))
    event = CloudEvent(attributes(2, datacontenttype="application/octet-stream"), payload)
    message = to_binary_event(event)
    assert push(url, message.headers, message.body).status_code == 200
    row = stored(store)
    assert base64.b64decode(row["data_base64"]) == payload and row["data"] is None
    assert row["datacontenttype"] == "application/octet-stream"


def test_a_resent_sdk_event_is_a_duplicate(store: Store, url: str) -> None:
    message = to_binary_event(CloudEvent(attributes(3), DATA))
    push(url, message.headers, message.body)
    again = to_structured_event(CloudEvent(attributes(3), DATA))
    assert push(url, again.headers, again.body).json() == {
        "accepted": 0, "duplicate": 1, "rejected": 0}
    assert store.count(events) == 1


@pytest.mark.parametrize("convert", [v1_to_structured, v1_to_binary],
                         ids=["structured", "binary"])
def test_the_sdks_1x_api_is_stored_as_sent_too(store: Store, url: str, convert: Any) -> None:
    # the 1.x API writes ce- headers without percent-encoding them (the current API does),
    # so its subject here stays within what an HTTP header carries as is
    sent = attributes(4, subject="hubspot/contacts/100451")
    sent["time"] = SENT_AT.isoformat()
    event = V1CloudEvent(sent, DATA)
    headers, body = convert(event)
    reply = push(url, headers, body)
    assert reply.status_code == 200, reply.text
    row = stored(store)
    assert as_sent(row) == expected({k: event[k] for k in event})
    assert orjson.loads(row["data"]) == DATA
