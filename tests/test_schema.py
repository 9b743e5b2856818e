"""The shared schema: strict CloudEvents 1.0 validation, one clear reason per bad event."""

from __future__ import annotations

import pytest

from collectors.errors import InvalidEvent
from collectors.schema import format_time, parse_event, parse_json_event, parse_time

RECEIVED = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def good(**changes: object) -> dict[str, object]:
    event: dict[str, object] = {"specversion": "1.0", "id": "e-1", "source": "urn:test",
                                "type": "com.acme.lead.submitted",
                                "time": "2026-01-01T12:00:00.123Z", "correlationid": "L-1"}
    event.update(changes)
    return {k: v for k, v in event.items() if v is not ...}


BAD = [
    pytest.param([1, 2], "must be a JSON object", id="not-an-object"),
    pytest.param(good(id=...), "required attribute 'id' is missing", id="missing-id"),
    pytest.param(good(source=...), "required attribute 'source' is missing", id="missing-source"),
    pytest.param(good(type=...), "required attribute 'type' is missing", id="missing-type"),
    pytest.param(good(specversion=...), "'specversion' is missing", id="missing-specversion"),
    pytest.param(good(id=""), "'id' must be a non-empty string", id="empty-id"),
    pytest.param(good(specversion="0.3"), "specversion '0.3' is not supported", id="specversion"),
    pytest.param(good(time="2026-01-01T12:00:00"), "has no UTC offset", id="time-no-offset"),
    pytest.param(good(time="yesterday"), "is not an RFC 3339 timestamp", id="time-not-a-time"),
    pytest.param(good(time="2026-02-30T12:00:00Z"), "not a real date", id="time-impossible"),
    pytest.param(good(time=1767225600), "must be an RFC 3339 string", id="time-number"),
    pytest.param(good(Tenant="acme"), "'Tenant' is not a valid extension name",
                 id="extension-uppercase"),
    pytest.param(good(**{"lead-id": "x"}), "not a valid extension name", id="extension-dash"),
    pytest.param(good(tenant={"a": 1}), "must be a string, boolean or 32-bit integer",
                 id="extension-object"),
    pytest.param(good(tenant=2**31), "32-bit integer", id="extension-int64"),
    pytest.param(good(data={}, data_base64="AA=="), "not both", id="data-and-base64"),
    pytest.param(good(data_base64="***"), "not valid base64", id="bad-base64"),
    pytest.param(good(traceparent="abc"), "not W3C trace context", id="bad-traceparent"),
    pytest.param(good(subject=5), "'subject' must be a string", id="subject-number"),
]


@pytest.mark.parametrize(("event", "reason"), BAD)
def test_an_invalid_event_is_refused_with_a_reason_naming_the_problem(event, reason):
    with pytest.raises(InvalidEvent, match=reason.replace("(", r"\(").replace("?", r"\?")):
        parse_event(event, RECEIVED)


def test_a_valid_event_keeps_every_attribute_and_extension():
    event = parse_event(good(subject="hubspot/contacts/1", tenant="acme", retries=2,
                             traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                             data={"qualified": True}), RECEIVED)
    assert (event.id, event.source, event.type) == ("e-1", "urn:test", "com.acme.lead.submitted")
    assert event.time_us == RECEIVED + 12 * 3600 * 10**6 + 123_000
    assert event.correlationid == "L-1" and event.subject == "hubspot/contacts/1"
    assert event.extensions == {"tenant": "acme", "retries": 2}
    assert event.data == {"qualified": True} and not event.time_inferred


def test_an_event_without_time_takes_the_receive_time_and_is_marked():
    event = parse_event(good(time=...), RECEIVED)
    assert event.time_us == RECEIVED and event.time_inferred


def test_a_null_attribute_counts_as_unset():
    event = parse_event(good(subject=None, time=None), RECEIVED)
    assert event.subject is None and event.time_inferred


def test_offsets_are_converted_to_utc():
    assert parse_time("2026-01-01T13:00:00+01:00") == parse_time("2026-01-01T12:00:00Z")


def test_an_event_round_trips_through_its_cloudevents_form():
    event = parse_event(good(tenant="acme", data={"a": [1, 2]}), RECEIVED)
    assert parse_event(event.to_cloudevent(), RECEIVED) == event


def test_an_event_over_one_mebibyte_is_refused():
    big = b'{"specversion":"1.0","id":"x","source":"s","type":"t","data":"' + b"a" * 2**20 + b'"}'
    with pytest.raises(InvalidEvent, match="over the 1 MiB limit"):
        parse_json_event(big, RECEIVED)


def test_text_that_is_not_json_is_refused():
    with pytest.raises(InvalidEvent, match="not valid JSON"):
        parse_json_event(b"{nope", RECEIVED)


def test_times_are_printed_in_rfc3339_utc():
    assert format_time(parse_time("2026-01-01T12:00:00.5+02:00")) == "2026-01-01T10:00:00.500000Z"
