"""Every summary accounts for every record: accepted + duplicate + rejected + skipped is the
number of records read, on every path (`baton ingest`, a file tail, a push), and what the
records became (events, spans) is counted beside them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from kong_entries import jsonl, kong_entry, twelve
from receiving import serving
from sqlalchemy import select

from app.cli import main
from collectors.counts import RecordBatch, WriteCounts
from collectors.gateway import kong_file_tail
from collectors.receiver import create_app
from collectors.runner import drain
from collectors.schema import Event
from collectors.sources import load_sources, parse_sources
from collectors.store import Store
from collectors.tables import events, ingest_runs, rejects, source_status

FIXTURES = Path(__file__).parent / "fixtures"
CONFIG = Path(__file__).parents[1] / "config"
def ingest(store_url: str, path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert main(["--store", store_url, *extra, "ingest", "--format", "kong", str(path)]) == 0
    return capsys.readouterr().out.strip()


def stored_types(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(events.c.type)).scalars())


def test_a_kong_file_of_twelve_records_accounts_for_all_twelve_failed_ones_kept(
        store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    path = jsonl(tmp_path / "kong.jsonl", twelve())
    assert ingest(store_url, path, capsys) == (
        "accepted 11 entries, 11 events, duplicate 0, rejected 1, skipped 0 (no rule)")
    assert stored_types(store) == ["gateway.request.accepted"] * 9 + [
        "gateway.request.failed"] * 2
    with store.engine.connect() as conn:
        failed = conn.execute(select(events.c.event_id, events.c.time_us).where(
            events.c.type == "gateway.request.failed").order_by(events.c.time_us)).all()
        run = conn.execute(select(ingest_runs)).one()
    assert [tuple(f) for f in failed] == [
        (f"{2:032x}:gateway.request.failed", 1767268802123000),
        (f"{5:032x}:gateway.request.failed", 1767268805123000)]
    assert (run.accepted, run.duplicate, run.rejected) == (11, 0, 1)
    assert ingest(store_url, path, capsys) == (
        "accepted 0 entries, 0 events, duplicate 11, rejected 1, skipped 0 (no rule)")


def test_records_a_sources_own_rules_leave_unmatched_are_counted_as_skipped(
        store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    records = twelve()
    records[0], records[1] = kong_entry(0, 200, "health"), kong_entry(1, 200, "health")
    path = jsonl(tmp_path / "kong.jsonl", records)
    (tmp_path / "sources.yaml").write_text(
        (CONFIG / "sources.yaml").read_text().replace("var/kong/file-log.json", str(path)))
    assert main(["--store", store_url, "--config", str(tmp_path), "ingest", "--format",
                 "kong", "--source", "kong-edge", str(path)]) == 0
    out, err = capsys.readouterr()
    # the health checks are on no rule of kong-edge: 7 + 2 failed + 1 rejected + 2 skipped
    assert out.strip() == ("accepted 9 entries, 9 events, duplicate 0, rejected 1, "
                           "skipped 2 (no rule)")
    assert "2 record(s) matched no rule" in err
    assert stored_types(store) == ["gateway.request.accepted"] * 7 + [
        "gateway.request.failed"] * 2


@pytest.mark.parametrize("shape", ["lines", "array", "http-log-batches"])
def test_every_shape_of_input_is_counted_by_entry(
        store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], shape: str
        ) -> None:
    records = twelve()
    path = tmp_path / "kong.json"
    if shape == "array":
        path.write_bytes(orjson.dumps(records))
    elif shape == "lines":
        jsonl(path, records)
    else:  # what an http-log plugin with max_batch_size 4 posts, saved one body per line
        jsonl(path, [records[i:i + 4] for i in range(0, 12, 4)])
    out = ingest(store_url, path, capsys)
    assert out == "accepted 11 entries, 11 events, duplicate 0, rejected 1, skipped 0 (no rule)"


def test_the_file_log_tail_counts_the_twelve_records_and_the_sources_page_shows_them(
        store: Store, tmp_path: Path) -> None:
    log = jsonl(tmp_path / "file-log.json", twelve())
    (tmp_path / "sources.yaml").write_text(f"version: baton/v1\nsources:\n  kong-edge: "
                                           f"{{kind: kong, file: {log}}}\n")
    source = load_sources(tmp_path / "sources.yaml").sources["kong-edge"]
    counts = drain(store, kong_file_tail(store, "kong-edge", source))  # type: ignore[arg-type]
    assert (counts.accepted, counts.rejected, counts.records, counts.events) == (11, 1, 12, 11)
    with store.engine.connect() as conn:
        status = conn.execute(select(source_status)).one()
    assert (status.accepted, status.duplicate, status.rejected) == (11, 0, 1)


@pytest.fixture
def kong_url(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("T_COUNTS_KONG", "kong-secret")
    config = parse_sources("version: baton/v1\nsources:\n  kong-edge: {kind: kong, "
                           "token_env: T_COUNTS_KONG}\n", "sources.yaml")
    with serving(create_app(store, config)) as base:
        yield base


def test_an_http_log_push_of_the_twelve_answers_for_all_twelve(
        store: Store, kong_url: str) -> None:
    reply = requests.post(kong_url + "/v1/kong", data=orjson.dumps(twelve()), timeout=10,
                          headers={"Authorization": "Bearer kong-secret",
                                   "Content-Type": "application/json"})
    assert reply.status_code == 200
    body = reply.json()
    assert {k: v for k, v in body.items() if k != "errors"} == {
        "accepted": 11, "events": 11, "duplicate": 0, "rejected": 1, "skipped": 0}
    assert len(body["errors"]) == 1 and store.count(rejects) == 1


def otlp_line(first: int, count: int, name: str = "GET /leads") -> dict[str, Any]:
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "lead-api"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": f"{1 + n:032x}", "spanId": f"{1 + n:016x}", "name": name, "kind": 2,
            "startTimeUnixNano": str(1767268800000000000 + n * 1000),
            "endTimeUnixNano": str(1767268800500000000 + n * 1000),
            "attributes": [{"key": "lead.id", "value": {"stringValue": f"L-{n}"}}]}
            for n in range(first, first + count)]}]}]}


def test_baton_ingest_of_fifteen_spans_says_fifteen_spans_accepted(
        store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = jsonl(tmp_path / "traces.jsonl", [otlp_line(0, 5), otlp_line(5, 6),
                                             otlp_line(11, 4)])
    cli = ["--store", store_url, "ingest", "--format", "otlp", str(path)]
    assert main(cli) == 0
    assert capsys.readouterr().out.strip() == (
        "accepted 15 spans, 0 events, duplicate 0, rejected 0")
    assert main(cli) == 0
    assert capsys.readouterr().out.strip() == (
        "accepted 0 spans, 0 events, duplicate 15, rejected 0")


def test_spans_that_the_rules_map_count_their_events_beside_them(
        store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = jsonl(tmp_path / "traces.jsonl", [otlp_line(0, 3, "POST /crm/v3/objects/contacts"),
                                             otlp_line(3, 2)])
    (tmp_path / "sources.yaml").write_text((CONFIG / "sources.yaml").read_text())
    assert main(["--store", store_url, "--config", str(tmp_path), "ingest", "--format", "otlp",
                 "--source", "traces", str(path)]) == 0
    assert capsys.readouterr().out.strip() == (
        "accepted 5 spans, 3 events, duplicate 0, rejected 0")


def test_a_hubspot_page_with_one_bad_contact_keeps_the_others_and_counts_contacts(
        store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    page = orjson.loads((FIXTURES / "hubspot-search-page.json").read_bytes())
    contacts = page["results"]
    assert len(contacts) >= 2
    contacts[0]["properties"]["createdate"] = "yesterday"
    path = tmp_path / "page.json"
    path.write_bytes(orjson.dumps(page))
    assert main(["--store", store_url, "ingest", "--format", "hubspot", str(path)]) == 0
    out = capsys.readouterr().out.strip()
    assigned = sum(1 for c in contacts[1:] if c["properties"].get("hubspot_owner_assigneddate"))
    good = len(contacts) - 1
    assert out == (f"accepted {good} contacts, {good + assigned} events, duplicate 0, "
                   "rejected 1, skipped 0 (no rule)")
    with store.engine.connect() as conn:
        location = conn.execute(select(rejects.c.location)).scalar_one()
    assert location == f"{path}:1: item 1"


def event(n: int, kind: str) -> Event:
    return Event(id=f"r{n}:{kind}", source="test://counts", type=kind, time_us=1)


def test_a_record_repeated_within_one_batch_is_a_duplicate_even_when_it_makes_two_events(
        store: Store) -> None:
    batch = RecordBatch()
    for n in (1, 2, 1):
        batch.add([event(n, "upserted"), event(n, "assigned")])
    batch.add([])
    counts = store.write_events(batch)
    assert counts == WriteCounts(accepted=2, duplicate=1, skipped=1, events=4)
    again = RecordBatch()
    again.add([event(1, "upserted"), event(1, "assigned"), event(1, "converted")])
    again.add([event(2, "upserted")])
    assert store.write_events(again) == WriteCounts(accepted=1, duplicate=1, events=1)


def test_a_plain_list_of_cloudevents_counts_each_event_as_a_record(store: Store) -> None:
    first = store.write_events([event(1, "a"), event(2, "a")])
    second = store.write_events([event(2, "a"), event(3, "a"), event(3, "a")])
    assert (first.accepted, first.duplicate, first.events) == (2, 0, 2)
    assert (second.accepted, second.duplicate, second.events) == (1, 2, 1)


def test_a_cloudevents_summary_keeps_its_historic_shape(
        store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps({"specversion": "1.0", "id": f"e{n}", "source": "s",
                                        "type": "t", "time": "2026-01-01T12:00:00Z"}) + "\n"
                            for n in range(3)) + "{broken\n")
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    assert capsys.readouterr().out == "accepted 3, duplicate 0, rejected 1\n"


def test_the_config_kong_source_records_failed_deliveries(tmp_path: Path) -> None:
    shutil.copy(CONFIG / "sources.yaml", tmp_path / "sources.yaml")
    rules = load_sources(tmp_path / "sources.yaml").sources["kong-edge"].rules  # type: ignore
    assert [(r.type, r.when) for r in rules] == [
        ("gateway.request.accepted", {"route.name": "lead-intake",
                                      "response.status": {"lt": 400}}),
        ("gateway.request.failed", {"route.name": "lead-intake",
                                    "response.status": {"gte": 400}})]
