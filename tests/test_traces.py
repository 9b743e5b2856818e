"""OpenTelemetry traces: OTLP/JSON file-exporter lines -> spans, stage events via rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from app.cli import main
from collectors.runner import drain
from collectors.sources import OtlpSource, Rule, default_map, source_map
from collectors.store import Store
from collectors.tables import events, rejects, spans
from collectors.traces import any_value, otlp_file_tail, parse_otlp

FIXTURES = Path(__file__).parent / "fixtures"
UPSERT = (Rule(type="crm.lead.upserted",
               when={"name": "POST /crm/v3/objects/contacts", "status.code": {"ne": 2}}),)


def tail(store: Store, tmp_path: Path, rules: tuple[Rule, ...] = UPSERT):
    path = tmp_path / "traces.jsonl"
    if not path.exists():
        shutil.copy(FIXTURES / "otlp-traces.jsonl", path)
    return otlp_file_tail(store, "traces", OtlpSource(kind="otlp", file=str(path),
                                                       rules=rules))


def test_file_exporter_batches_are_stored_as_spans_with_hex_ids_lowercased(
        store: Store, tmp_path: Path) -> None:
    counts = drain(store, tail(store, tmp_path))
    with store.engine.connect() as conn:
        rows = {r.span_id: r for r in conn.execute(select(spans))}
    assert sorted(rows) == ["a2fb4a1d1a96d312", "b7ad6b7169203331", "c2fb4a1d1a96d313"]
    retry = rows["b7ad6b7169203331"]
    assert (retry.trace_id, retry.parent_span_id, retry.service, retry.kind) == (
        "4bf92f3577b34da6a3ce929d0e0e4736", "a2fb4a1d1a96d312", "crm-sync-worker", 3)
    assert (retry.start_us, retry.end_us, retry.status_code) == (
        1767268801023000, 1767268801423000, 1)
    assert orjson.loads(retry.attributes) == {"http.response.status_code": 201,
                                              "lead.id": "L-1009", "retry": True}
    assert retry.correlationid == "L-1009" and retry.source == "traces"
    assert counts.rejected == 1  # the all-zero trace id


def test_a_span_matching_a_rule_marks_its_stage_with_the_span_as_trace_context(
        store: Store, tmp_path: Path) -> None:
    drain(store, tail(store, tmp_path))
    with store.engine.connect() as conn:
        row = conn.execute(select(events)).one()
    assert (row.type, row.correlationid, row.time_us) == (
        "crm.lead.upserted", "L-1009", 1767268801423000)
    assert row.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
    assert row.event_id == "4bf92f3577b34da6a3ce929d0e0e4736/b7ad6b7169203331:crm.lead.upserted"


def test_a_bad_span_is_kept_as_a_reject_without_losing_its_batch_mates(
        store: Store, tmp_path: Path) -> None:
    drain(store, tail(store, tmp_path))
    with store.engine.connect() as conn:
        reject = conn.execute(select(rejects)).one()
    assert reject.reason.startswith("span 1 (broken span): traceId '0000")
    assert "not all zero" in reject.reason
    assert store.count(spans) == 3


def test_spans_read_again_after_a_restart_are_stored_once(
        store: Store, tmp_path: Path) -> None:
    drain(store, tail(store, tmp_path))
    with (tmp_path / "traces.jsonl").open("ab") as out:
        out.write((FIXTURES / "otlp-traces.jsonl").read_bytes())  # re-exported batches
    counts = drain(store, tail(store, tmp_path))
    assert (counts.accepted, counts.duplicate, counts.rejected, counts.events) == (0, 3, 1, 0)
    assert store.count(spans) == 3


def test_a_line_that_is_not_otlp_is_rejected_with_the_expected_shape(
        store: Store, tmp_path: Path) -> None:
    (tmp_path / "traces.jsonl").write_bytes(b'{"spans": []}\n')
    drain(store, tail(store, tmp_path))
    with store.engine.connect() as conn:
        reason = conn.execute(select(rejects.c.reason)).scalar_one()
    assert reason.startswith('not OTLP/JSON traces: expected {"resourceSpans": [...]}')


@pytest.mark.parametrize(("value", "expected"), [
    ({"stringValue": "x"}, "x"), ({"intValue": "429"}, 429), ({"boolValue": True}, True),
    ({"doubleValue": 0.5}, 0.5), ({"bytesValue": "AAE="}, "AAE="),
    ({"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "b"}]}}, [1, "b"]),
    ({"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}, {"k": "v"}),
], ids=["string", "int-as-string", "bool", "double", "bytes", "array", "kvlist"])
def test_otlp_any_values_become_plain_json(value: dict, expected: object) -> None:
    assert any_value(value) == expected


def test_unknown_fields_are_ignored_as_otlp_json_requires() -> None:
    line = orjson.loads((FIXTURES / "otlp-traces.jsonl").read_bytes().splitlines()[0])
    line["resourceSpans"][0]["schemaUrl"] = "https://opentelemetry.io/schemas/1.21.0"
    line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["droppedAttributesCount"] = 0
    batch = parse_otlp(line, default_map("otlp"), 0)
    assert len(batch.rows) == 2 and not batch.problems


def test_baton_ingest_reads_otlp_lines_into_spans_for_backfills(
        store: Store, store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--store", store_url, "ingest", "--format", "otlp",
                 str(FIXTURES / "otlp-traces.jsonl")])
    assert code == 0
    assert "rejected 1" in capsys.readouterr().out
    assert store.count(spans) == 3


def test_nanosecond_times_become_microseconds_exactly_past_a_floats_precision() -> None:
    line = orjson.loads((FIXTURES / "otlp-traces.jsonl").read_bytes().splitlines()[0])
    span = line["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    span["endTimeUnixNano"] = "1767268801423456999"  # as a float: ...457024
    batch = parse_otlp(line, source_map("traces", OtlpSource(kind="otlp", rules=UPSERT)), 0)
    assert batch.rows[1]["end_us"] == 1767268801423456
    assert [e.time_us for e in batch.events] == [1767268801423456]
