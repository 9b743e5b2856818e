"""`baton ingest --format cloudevents`: files of every shape, bad lines kept, counts printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from collectors.store import Store
from collectors.tables import events, ingest_runs, rejects


def ce(n: int, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {"specversion": "1.0", "id": f"e-{n}", "source": "urn:t",
                               "type": "com.acme.lead.submitted",
                               "time": "2026-01-01T12:00:00Z", "correlationid": f"L-{n}"}
    body.update(changes)
    return body


def lines(*records: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def run(store_url: str, path: Path | str, capsys, *extra: str) -> tuple[int, str, str]:
    code = main(["--store", store_url, "ingest", *extra, str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def event_ids(store_url: str) -> list[str]:
    store = Store.open(store_url)
    with store.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(events.c.event_id).order_by(events.c.seq))]
    store.close()
    return ids


def stored_rejects(store_url: str) -> list[tuple[str, str]]:
    store = Store.open(store_url)
    with store.engine.connect() as conn:
        rows = conn.execute(select(rejects.c.location, rejects.c.reason).order_by(rejects.c.id))
        out = [tuple(r) for r in rows]
    store.close()
    return out


def test_a_json_lines_file_is_stored_and_counted(store_url, tmp_path, capsys):
    path = tmp_path / "a.jsonl"
    path.write_text(lines(ce(1), ce(2), ce(3)))
    code, out, _ = run(store_url, path, capsys, "--format", "cloudevents")
    assert code == 0 and out.strip() == "accepted 3, duplicate 0, rejected 0"
    assert event_ids(store_url) == ["e-1", "e-2", "e-3"]


def test_a_batch_array_file_is_stored(store_url, tmp_path, capsys):
    path = tmp_path / "batch.json"
    path.write_text(json.dumps([ce(1), ce(2)], indent=2))
    code, out, _ = run(store_url, path, capsys)
    assert code == 0 and out.strip() == "accepted 2, duplicate 0, rejected 0"
    assert event_ids(store_url) == ["e-1", "e-2"]


def test_a_single_pretty_printed_event_is_stored(store_url, tmp_path, capsys):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(ce(9), indent=2))
    code, out, _ = run(store_url, path, capsys)
    assert out.strip() == "accepted 1, duplicate 0, rejected 0"
    assert event_ids(store_url) == ["e-9"]


def test_duplicates_within_a_file_and_across_runs_are_stored_once(store_url, tmp_path, capsys):
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    first.write_text(lines(ce(1), ce(2), ce(1)))
    second.write_text(lines(ce(2), ce(3)))
    assert run(store_url, first, capsys)[1].strip() == "accepted 2, duplicate 1, rejected 0"
    assert run(store_url, second, capsys)[1].strip() == "accepted 1, duplicate 1, rejected 0"
    assert event_ids(store_url) == ["e-1", "e-2", "e-3"]


BAD_LINES = [
    pytest.param("{not json", "not valid JSON", id="not-json"),
    pytest.param(json.dumps({k: v for k, v in ce(0).items() if k != "type"}),
                 "required attribute 'type' is missing", id="missing-attribute"),
    pytest.param(json.dumps(ce(0, specversion="0.3")), "specversion '0.3' is not supported",
                 id="wrong-specversion"),
    pytest.param(json.dumps(ce(0, time="2026-01-01T12:00:00")), "has no UTC offset",
                 id="time-without-offset"),
    pytest.param(json.dumps(ce(0, time="noon")), "is not an RFC 3339 timestamp",
                 id="time-not-a-time"),
    pytest.param(json.dumps(ce(0, LeadId="x")), "not a valid extension name",
                 id="invalid-extension-name"),
    pytest.param(json.dumps(ce(0, data="a" * (2**20 + 10))), "over the 1 MiB limit",
                 id="over-one-mebibyte"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_LINES)
def test_a_bad_line_is_kept_with_its_line_and_reason_and_the_rest_is_stored(
        store_url, tmp_path, capsys, bad, reason):
    path = tmp_path / "mixed.jsonl"
    path.write_text(lines(ce(1), bad, ce(2)))
    code, out, err = run(store_url, path, capsys)
    assert code == 0 and out.strip() == "accepted 2, duplicate 0, rejected 1"
    assert event_ids(store_url) == ["e-1", "e-2"]
    [(location, stored_reason)] = stored_rejects(store_url)
    assert location == f"{path}:2" and reason in stored_reason
    assert "Traceback" not in err


def test_the_raw_payload_of_a_rejected_line_is_kept(store_url, tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    path.write_text(lines(ce(1), "[1, 2, 3]"))
    assert run(store_url, path, capsys)[1].strip() == "accepted 1, duplicate 0, rejected 1"
    store = Store.open(store_url)
    with store.engine.connect() as conn:
        assert conn.execute(select(rejects.c.raw)).scalar() == "[1, 2, 3]"


def test_an_ingest_run_records_its_counts(store_url, tmp_path, capsys):
    path = tmp_path / "a.jsonl"
    path.write_text(lines(ce(1), ce(1), "oops"))
    run(store_url, path, capsys)
    store = Store.open(store_url)
    with store.engine.connect() as conn:
        row = conn.execute(select(ingest_runs)).mappings().one()
    assert (row["accepted"], row["duplicate"], row["rejected"]) == (1, 1, 1)
    assert row["finished_us"] >= row["started_us"]


def test_an_empty_file_says_so_and_stores_nothing(store_url, tmp_path, capsys):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    code, out, err = run(store_url, path, capsys)
    assert code == 0 and out.strip() == "accepted 0, duplicate 0, rejected 0"
    assert "is empty" in err and event_ids(store_url) == []


def test_a_missing_file_is_one_sentence_and_exit_1(sqlite_url, tmp_path, capsys):
    code, out, err = run(sqlite_url, tmp_path / "nope.jsonl", capsys)
    assert code == 1 and out == ""
    assert err.strip() == f"baton: {tmp_path / 'nope.jsonl'}: no such file; check the path"


def test_a_store_that_cannot_be_opened_is_one_sentence_and_exit_1(tmp_path, capsys):
    path = tmp_path / "a.jsonl"
    path.write_text(lines(ce(1)))
    code, _, err = run("postgresql+psycopg://root@127.0.0.1:1/none", path, capsys)
    assert code == 1 and err.startswith("baton: cannot open the store")
    assert len(err.strip().splitlines()) == 1


def test_standard_input_is_read_with_a_dash(sqlite_url, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "--store", sqlite_url, "ingest", "-"],
        input=lines(ce(1), ce(2)), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "accepted 2, duplicate 0, rejected 0"
    assert event_ids(sqlite_url) == ["e-1", "e-2"]


def test_a_binary_file_is_rejected_line_by_line_without_a_traceback(sqlite_url, tmp_path):
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b"\x00\xff\xfe garbage\n" + json.dumps(ce(1)).encode() + b"\n")
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "--store", sqlite_url, "ingest", str(path)],
        capture_output=True, text=True, check=False)
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == "accepted 1, duplicate 0, rejected 1"
