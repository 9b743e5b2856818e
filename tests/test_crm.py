"""HubSpot and Salesforce collectors against a fake CRM API on loopback (real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from fakes.crm import FakeCrm, Scripted
from sqlalchemy import select

from collectors.crm import CrmAuthError, HubSpotCollector, SalesforceCollector
from collectors.errors import CollectorError
from collectors.runner import poll_and_record
from collectors.sources import HubSpotSource, Rule, SalesforceSource
from collectors.store import Store
from collectors.tables import cursors, events, rejects, source_status

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sf_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def contact(number: int, modified: datetime, owner: bool = True) -> dict:
    created = modified - timedelta(minutes=3)
    return {"id": str(100000 + number), "properties": {
        "email": f"lead{number}@example.org", "createdate": iso(created),
        "lastmodifieddate": iso(modified), "lifecyclestage": "lead", "hs_lead_status": "NEW",
        "lead_id": f"L-{number:04d}", "hubspot_owner_id": "77" if owner else None,
        "hubspot_owner_assigneddate": iso(modified) if owner else None}}


def lead(number: int, modified: datetime, owner: str = "005000000000001AAA") -> dict:
    return {"Id": f"00Q5g0000{number:09d}", "OwnerId": owner, "Status": "Open - Not Contacted",
            "IsConverted": False, "ConvertedDate": None,
            "CreatedDate": sf_time(modified - timedelta(minutes=2)),
            "LastModifiedDate": sf_time(modified), "SystemModstamp": sf_time(modified),
            "Lead_ID__c": f"L-{number:04d}"}


@pytest.fixture
def crm() -> Iterator[FakeCrm]:
    fake = FakeCrm().start()
    yield fake
    fake.stop()


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch, crm: FakeCrm) -> str:
    monkeypatch.setenv("TEST_CRM_TOKEN", crm.token)
    return "TEST_CRM_TOKEN"


def hubspot(store: Store, crm: FakeCrm, token: str, sleeps: list[float] | None = None,
            **settings: object) -> HubSpotCollector:
    source = HubSpotSource(kind="hubspot", base_url=crm.url, token_env=token,
                           properties=("lead_id",), **settings)
    return HubSpotCollector(store, "hubspot", source, requests.Session(),
                            sleep=(sleeps if sleeps is not None else []).append,
                            clock=NOW.timestamp)


def salesforce(store: Store, crm: FakeCrm, token: str, sleeps: list[float] | None = None,
               **settings: object) -> SalesforceCollector:
    source = SalesforceSource(kind="salesforce", instance_url=crm.url, token_env=token,
                              key=("Lead_ID__c",), **settings)
    return SalesforceCollector(store, "salesforce", source, requests.Session(),
                               sleep=(sleeps if sleeps is not None else []).append,
                               clock=NOW.timestamp)


def stored(store: Store) -> list[tuple[str, str, str]]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(events.c.event_id, events.c.type,
                                          events.c.correlationid)).all())


def test_hubspot_contacts_become_upserted_and_assigned_events_keyed_by_lead_id(
        store: Store, crm: FakeCrm, token: str) -> None:
    crm.contacts = [contact(1, NOW - timedelta(hours=1)),
                    contact(2, NOW - timedelta(minutes=30), owner=False)]
    result = hubspot(store, crm, token).poll()
    assert (result.counts.accepted, result.counts.events) == (2, 3)  # 2 contacts, 3 events
    assert stored(store) == [
        ("100001:crm.lead.assigned", "crm.lead.assigned", "L-0001"),
        ("100001:crm.lead.upserted", "crm.lead.upserted", "L-0001"),
        ("100002:crm.lead.upserted", "crm.lead.upserted", "L-0002")]
    body = crm.requests[0][2]
    assert body["filterGroups"][0]["filters"][0]["propertyName"] == "lastmodifieddate"
    assert body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert "hubspot_owner_assigneddate" in body["properties"]


def test_hubspot_asks_only_for_the_properties_its_mapping_reads(
        store: Store, crm: FakeCrm, token: str) -> None:
    crm.contacts = [contact(1, NOW - timedelta(minutes=5))]
    rules = (Rule(type="crm.lead.upserted", time="properties.createdate"),
             Rule(type="crm.lead.won", when={"properties.dealstage": "won"},
                  time="properties.closedate"))
    hubspot(store, crm, token, key=("properties.lead_id",), rules=rules,
            data={"stage": "properties.lifecyclestage"}).poll()
    assert set(crm.requests[0][2]["properties"]) == {
        "lastmodifieddate",  # the watermark
        "lead_id",  # `properties:` of the source (and its key)
        "createdate", "dealstage", "closedate", "lifecyclestage"}  # rules and data


def test_hubspot_collects_no_personal_field_that_no_mapping_uses(
        store: Store, crm: FakeCrm, token: str) -> None:
    broken = contact(9, NOW - timedelta(minutes=9))
    broken["properties"]["createdate"] = "yesterday"
    crm.contacts = [contact(1, NOW - timedelta(minutes=5)), broken]
    hubspot(store, crm, token).poll()
    assert "email" not in crm.requests[0][2]["properties"]
    with store.engine.connect() as conn:
        kept = [*conn.execute(select(rejects.c.raw)).scalars(),
                *conn.execute(select(events.c.data)).scalars()]
    assert len(kept) == 3 and not any("@example.org" in (text or "") for text in kept)
    crm.requests.clear()
    hubspot(store, crm, token, data={"contact": "properties.email"}).poll()
    assert "email" in crm.requests[0][2]["properties"]  # a mapping that reads it asks for it


@pytest.mark.parametrize("body", [
    pytest.param({"status": "error", "category": "VALIDATION_ERROR", "message":
                  "Contact with email ana.pereira@example.org and phone +351 912 already "
                  "exists"}, id="json"),
    pytest.param("<html>no contact ana.pereira@example.org</html>", id="text"),
])
def test_an_api_error_quoting_personal_data_is_logged_and_recorded_masked(
        store: Store, crm: FakeCrm, token: str, body: object) -> None:
    crm.script = [Scripted(400, body)]
    collector = hubspot(store, crm, token)
    with pytest.raises(CollectorError) as failed:
        poll_and_record(store, collector)
    with store.engine.connect() as conn:
        recorded = conn.execute(select(source_status.c.last_error)).scalar()
    for message in (str(failed.value), recorded):
        assert "400" in message and "ana.pereira" not in message and "[masked]" in message


def test_hubspot_follows_after_cursors_until_the_last_page(
        store: Store, crm: FakeCrm, token: str) -> None:
    crm.contacts = [contact(n, NOW - timedelta(minutes=100 - n)) for n in range(25)]
    hubspot(store, crm, token, page_size=10).poll()
    assert [r[2].get("after") for r in crm.requests] == [None, "10", "20"]
    assert len(stored(store)) == 50


def test_hubspot_restarts_the_window_at_the_newest_time_seen_at_the_result_cap(
        store: Store, crm: FakeCrm, token: str) -> None:
    crm.hubspot_cap = 30
    crm.contacts = [contact(n, NOW - timedelta(minutes=200 - n)) for n in range(75)]
    hubspot(store, crm, token, page_size=10, max_results=30).poll()
    assert all(r[2].get("after") in (None, "10", "20") for r in crm.requests)
    assert len({e[0] for e in stored(store)}) == 150


def test_hubspot_429_is_retried_after_the_retry_after_delay(
        store: Store, crm: FakeCrm, token: str) -> None:
    crm.contacts = [contact(1, NOW - timedelta(minutes=5))]
    crm.script = [Scripted(429, {"status": "error", "errorType": "RATE_LIMIT",
                                 "message": "You have reached your secondly limit.",
                                 "policyName": "TEN_SECONDLY_ROLLING"}, {"Retry-After": "2"}),
                  Scripted(429, {"status": "error", "errorType": "RATE_LIMIT",
                                 "message": "limit", "policyName": "DAILY"})]
    sleeps: list[float] = []
    assert hubspot(store, crm, token, sleeps).poll().counts.events == 2
    assert sleeps == [2.0, 2.0]  # Retry-After, then exponential backoff (2 ** 1)


def test_a_refused_hubspot_token_is_one_clear_error(
        store: Store, crm: FakeCrm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CRM_TOKEN", "expired")
    with pytest.raises(CrmAuthError, match=r"refused the token \(401: Authentication"):
        hubspot(store, crm, "TEST_CRM_TOKEN").poll()


def test_an_unset_token_variable_is_named_in_the_error(store: Store, crm: FakeCrm) -> None:
    with pytest.raises(CollectorError, match="BATON_UNSET_TOKEN_X is not set"):
        hubspot(store, crm, "BATON_UNSET_TOKEN_X")


def test_the_watermark_is_persisted_and_the_next_poll_rereads_only_the_overlap(
        store: Store, crm: FakeCrm, token: str) -> None:
    last = NOW - timedelta(minutes=20)
    crm.contacts = [contact(1, NOW - timedelta(hours=2)), contact(2, last)]
    hubspot(store, crm, token).poll()
    with store.engine.connect() as conn:
        saved = conn.execute(select(cursors.c.value).where(
            cursors.c.name == "watermark:hubspot")).scalar()
    assert int(saved) == int(last.timestamp() * 1e6)
    crm.contacts.append(contact(3, last))  # same timestamp, written late
    crm.requests.clear()
    second = hubspot(store, crm, token).poll()
    since = int(crm.requests[0][2]["filterGroups"][0]["filters"][0]["value"])
    assert since == int((last - timedelta(minutes=5)).timestamp() * 1000)
    # contact 3 is new (two events), contact 2 was stored whole: counted as records
    counts = second.counts
    assert (counts.accepted, counts.duplicate, counts.events) == (1, 1, 2)


def test_a_contact_read_again_once_assigned_is_accepted_for_its_new_assignment(
        store: Store, crm: FakeCrm, token: str) -> None:
    crm.contacts = [contact(1, NOW - timedelta(minutes=20), owner=False),
                    contact(2, NOW - timedelta(minutes=19), owner=False)]
    hubspot(store, crm, token).poll()
    crm.contacts = [contact(1, NOW - timedelta(minutes=10)),  # assigned since
                    contact(2, NOW - timedelta(minutes=9), owner=False)]
    counts = hubspot(store, crm, token).poll().counts
    assert (counts.accepted, counts.duplicate, counts.events) == (1, 1, 1)
    assert counts.records == 2


def test_a_contact_that_cannot_be_mapped_is_kept_as_a_reject_with_its_reason(
        store: Store, crm: FakeCrm, token: str) -> None:
    broken = contact(9, NOW - timedelta(minutes=9))
    broken["properties"]["createdate"] = "yesterday"
    crm.contacts = [broken, contact(1, NOW - timedelta(minutes=1))]
    result = hubspot(store, crm, token).poll()
    counts = result.counts
    assert (counts.accepted, counts.rejected, counts.events) == (1, 1, 2)
    with store.engine.connect() as conn:
        row = conn.execute(select(rejects.c.source, rejects.c.location,
                                  rejects.c.reason)).one()
    assert row.source == "hubspot" and row.location == "hubspot:100009"
    assert "'properties.createdate' 'yesterday' is not an RFC 3339 timestamp" in row.reason


def test_salesforce_leads_page_through_next_records_url(
        store: Store, crm: FakeCrm, token: str) -> None:
    crm.salesforce_batch = 5
    crm.leads = [lead(n, NOW - timedelta(minutes=60 - n)) for n in range(12)]
    crm.leads.append(lead(99, NOW - timedelta(minutes=1), owner="00G5g000004XyZaEAK"))
    result = salesforce(store, crm, token).poll()
    paths = [r[1].split("?")[0] for r in crm.requests]
    assert paths == ["/services/data/v62.0/query",
                     "/services/data/v62.0/query/01gRO0000016PIAYA2-5",
                     "/services/data/v62.0/query/01gRO0000016PIAYA2-10"]
    assert result.counts.accepted == 13
    assert result.counts.events == 12 * 2 + 1  # the queue-owned lead is not assigned
    assert ("00Q5g0000000000099:crm.lead.upserted", "crm.lead.upserted", "L-0099") in stored(
        store)


def test_salesforce_soql_filters_on_system_modstamp_with_a_z_literal(
        store: Store, crm: FakeCrm, token: str) -> None:
    collector = salesforce(store, crm, token)
    soql = collector.soql(int(datetime(2026, 1, 1, 11, 0, 0, 500, tzinfo=UTC).timestamp()
                              * 1e6))
    assert soql.endswith("FROM Lead WHERE SystemModstamp >= 2026-01-01T11:00:00Z "
                         "ORDER BY SystemModstamp ASC")
    assert "Lead_ID__c" in soql


def test_salesforce_request_limit_exceeded_403_is_retried_honouring_retry_after(
        store: Store, crm: FakeCrm, token: str) -> None:
    crm.leads = [lead(1, NOW - timedelta(minutes=3))]
    crm.script = [Scripted(403, [{"message": "TotalRequests Limit exceeded.",
                                  "errorCode": "REQUEST_LIMIT_EXCEEDED"}], {"Retry-After": "1"})]
    sleeps: list[float] = []
    assert salesforce(store, crm, token, sleeps).poll().counts.events == 2
    assert sleeps == [1.0]


def test_a_salesforce_403_that_is_not_a_limit_fails_without_retrying(
        store: Store, crm: FakeCrm, token: str) -> None:
    crm.script = [Scripted(403, [{"message": "insufficient access rights on object id",
                                  "errorCode": "INSUFFICIENT_ACCESS"}])]
    with pytest.raises(CollectorError, match="403: INSUFFICIENT_ACCESS"):
        salesforce(store, crm, token).poll()


def test_an_expired_salesforce_session_is_one_clear_error(
        store: Store, crm: FakeCrm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CRM_TOKEN", "expired")
    with pytest.raises(CrmAuthError, match="INVALID_SESSION_ID"):
        salesforce(store, crm, "TEST_CRM_TOKEN").poll()


def test_rate_limits_that_never_lift_give_up_with_a_clear_error(
        store: Store, crm: FakeCrm, token: str) -> None:
    crm.script = [Scripted(429, {"status": "error", "message": "daily limit"},
                           {"Retry-After": "0"})] * 10
    with pytest.raises(CollectorError, match="still rate limited"):
        hubspot(store, crm, token).poll()
