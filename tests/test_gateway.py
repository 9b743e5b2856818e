"""Kong gateway: file-log tailing (restart, rotation, truncation) and log-entry mapping."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from app.cli import main
from collectors.gateway import kong_file_tail, parse_kong
from collectors.runner import drain
from collectors.sources import KongSource, Rule, default_map, load_sources
from collectors.store import Store
from collectors.tables import events, rejects, source_status

FIXTURES = Path(__file__).parent / "fixtures"
LEAD_INTAKE = (Rule(type="gateway.request.accepted",
                    when={"route.name": "lead-intake", "response.status": {"lt": 400}}),)


def entries() -> list[bytes]:
    return (FIXTURES / "kong-file-log.jsonl").read_bytes().splitlines(keepends=True)


def source(path: Path, batch: int = 500) -> KongSource:
    return KongSource(kind="kong", file=str(path), rules=LEAD_INTAKE, batch=batch,
                      key=("request.headers.x-lead-id",))


def keys(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(events.c.correlationid)).scalars())


def test_successful_lead_intake_requests_become_gateway_accepted_events(
        store: Store, tmp_path: Path) -> None:
    log = tmp_path / "file-log.json"
    shutil.copy(FIXTURES / "kong-file-log.jsonl", log)
    counts = drain(store, kong_file_tail(store, "kong-edge", source(log)))
    assert (counts.accepted, counts.rejected) == (3, 0)  # a 502 and a health check are not
    with store.engine.connect() as conn:
        row = conn.execute(select(events).where(events.c.correlationid == "L-1009")).one()
        status = conn.execute(select(source_status)).one()
    assert (row.type, row.source, row.subject) == ("gateway.request.accepted",
                                                   "kong://kong-edge", "routes/lead-intake")
    assert row.event_id == "006946328ffc4946b8c9120704a4a155:gateway.request.accepted"
    assert row.time_us == 1767268800123000
    assert orjson.loads(row.data) == {"route": "lead-intake", "status": 201, "latency_ms": 187}
    assert (status.source, status.kind, status.accepted) == ("kong-edge", "kong", 3)


def test_a_restarted_tail_resumes_at_the_committed_offset_and_reads_nothing_twice(
        store: Store, tmp_path: Path) -> None:
    log = tmp_path / "file-log.json"
    log.write_bytes(b"".join(entries()[:2]))
    first = kong_file_tail(store, "kong-edge", source(log, batch=1))
    assert first.poll().counts.accepted == 1
    with log.open("ab") as out:
        out.writelines(entries()[2:])
    restarted = kong_file_tail(store, "kong-edge", source(log, batch=1))
    counts = drain(store, restarted)
    assert (counts.accepted, counts.duplicate) == (2, 0)
    assert keys(store) == ["L-1009", "L-1010", "L-1013"]


def test_a_half_written_last_line_waits_for_its_newline(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "file-log.json"
    line = entries()[0]
    log.write_bytes(line[:100])
    tail = kong_file_tail(store, "kong-edge", source(log))
    assert tail.poll().counts.accepted == 0
    with log.open("ab") as out:
        out.write(line[100:])
    assert tail.poll().counts.accepted == 1
    assert store.count(rejects) == 0


def test_a_rotated_file_is_read_to_its_end_before_the_new_file(
        store: Store, tmp_path: Path) -> None:
    log = tmp_path / "file-log.json"
    lines = entries()
    log.write_bytes(lines[0])
    assert kong_file_tail(store, "kong-edge", source(log)).poll().counts.accepted == 1
    with log.open("ab") as out:  # written just before rotation, not yet read
        out.write(lines[1])
    log.rename(tmp_path / "file-log.json.1")
    log.write_bytes(b"".join(lines[2:]))
    counts = drain(store, kong_file_tail(store, "kong-edge", source(log)))
    assert counts.accepted == 2
    assert keys(store) == ["L-1009", "L-1010", "L-1013"]


def test_a_truncated_file_is_read_again_from_its_start(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "file-log.json"
    lines = entries()
    log.write_bytes(b"".join(lines[:2]))
    tail = kong_file_tail(store, "kong-edge", source(log))
    drain(store, tail)
    log.write_bytes(lines[4])  # copytruncate: same file, shorter than the saved offset
    assert tail.poll().counts.accepted == 1
    assert keys(store) == ["L-1009", "L-1010", "L-1013"]


def test_bad_lines_are_kept_as_rejects_with_their_byte_offset_and_reason(
        store: Store, tmp_path: Path) -> None:
    log = tmp_path / "file-log.json"
    good = entries()[0]
    log.write_bytes(good + b"{not json\n" + b'{"request": {}}\n')
    counts = drain(store, kong_file_tail(store, "kong-edge", source(log)))
    assert (counts.accepted, counts.rejected) == (1, 2)
    with store.engine.connect() as conn:
        rows = conn.execute(select(rejects).order_by(rejects.c.id)).all()
    assert rows[0].location == f"{log}: byte {len(good)}"
    assert rows[0].reason.startswith("not valid JSON")
    assert "'request' and 'started_at' are required" in rows[1].reason


def test_an_http_log_batch_array_maps_every_entry(store: Store) -> None:
    batch = orjson.loads((FIXTURES / "kong-http-log-batch.json").read_bytes())
    mapped = parse_kong(batch, default_map("kong"))
    assert [(e.correlationid, e.type) for e in mapped] == [
        ("L-1009", "gateway.request.accepted"), ("L-1010", "gateway.request.accepted"),
        ("L-1011", "gateway.request.failed")]  # the 502: a failed attempt, kept


def test_a_source_without_a_file_cannot_be_tailed(store: Store) -> None:
    with pytest.raises(Exception, match="has no `file` to tail"):
        kong_file_tail(store, "kong-push", KongSource(kind="kong"))


def test_baton_ingest_reads_kong_entries_for_backfills(
        store: Store, store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--store", store_url, "ingest", "--format", "kong",
                 str(FIXTURES / "kong-http-log-batch.json")])
    assert code == 0
    assert capsys.readouterr().out == (
        "accepted 3 entries, 3 events, duplicate 0, rejected 0, skipped 0 (no rule)\n")


EDGE_SOURCES = """version: baton/v1
sources:
  kong-edge:
    kind: kong
    file: {log}
    key: [request.headers.x-lead-id]
    rules:
      - type: gateway.request.accepted
        when: {{route.name: lead-intake, response.status: {{lt: 400}}}}
      - type: gateway.request.failed
        when: {{response.status: {{gte: 500}}}}
  crm:
    kind: hubspot
    token_env: HUBSPOT_TOKEN
"""


def test_a_backfill_for_a_configured_source_maps_with_its_rules_and_stores_nothing_twice(
        store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    log = tmp_path / "file-log.json"
    shutil.copy(FIXTURES / "kong-file-log.jsonl", log)
    (tmp_path / "sources.yaml").write_text(EDGE_SOURCES.format(log=log))
    cli = ["--store", store_url, "--config", str(tmp_path), "ingest", "--format", "kong",
           "--source", "kong-edge", str(log)]
    assert main(cli) == 0
    out = capsys.readouterr().out  # the health check matches none of the source's rules
    assert out == "accepted 4 entries, 4 events, duplicate 0, rejected 0, skipped 1 (no rule)\n"
    with store.engine.connect() as conn:
        stored = conn.execute(select(events.c.source, events.c.type)).all()
    assert sorted(stored) == [("kong://kong-edge", "gateway.request.accepted")] * 3 + [
        ("kong://kong-edge", "gateway.request.failed")]  # the source's own rule for the 502
    configured = load_sources(tmp_path / "sources.yaml").sources["kong-edge"]
    tailed = drain(store, kong_file_tail(store, "kong-edge", configured))
    # the live tail finds them all stored
    assert (tailed.accepted, tailed.duplicate, tailed.skipped) == (0, 4, 1)


def test_a_backfill_in_another_format_than_its_configured_source_is_refused(
        store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sources.yaml").write_text(EDGE_SOURCES.format(log=tmp_path / "x.json"))
    code = main(["--store", store_url, "--config", str(tmp_path), "ingest", "--format", "kong",
                 "--source", "crm", str(FIXTURES / "kong-http-log-batch.json")])
    err = capsys.readouterr().err
    assert code == 1
    assert "source 'crm' in" in err and "is a hubspot source, not kong" in err
    assert "--format hubspot" in err and "Traceback" not in err
