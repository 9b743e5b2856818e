"""Failed deliveries are kept and shown: Kong requests answered 4xx/5xx become
`gateway.request.failed` attempts, and `baton lead` shows them as failed attempts of the
stage they belong to (`fails_on` in config/slas/leads.yaml), retries included."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from kong_entries import jsonl, kong_entry

from app.cli import main
from collectors.schema import format_time

CONFIG = Path(__file__).parents[1] / "config"
T0 = 1767268800123  # ms, the first Kong entry's started_at


def submitted(lead: str, ms: int) -> dict:
    return {"specversion": "1.0", "id": f"form-{lead}", "source": "https://forms.acme.example",
            "type": "com.acme.lead.submitted", "time": format_time(ms * 1000),
            "correlationid": lead}


@pytest.fixture
def journeys(store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Two leads: L-2002 failed once (429) and got through on a retry with a new request id;
    L-2005 failed (503) and was never retried."""
    retried = kong_entry(2, 429)
    retry = kong_entry(3, 201)
    retry["request"]["headers"]["x-lead-id"] = "L-2002"
    retry["started_at"] = T0 + 62_000
    entries = [retried, retry, kong_entry(5, 503)]
    forms = [submitted("L-2002", T0 - 500), submitted("L-2005", T0 + 4500)]
    for fmt, path in (("kong", jsonl(tmp_path / "kong.jsonl", entries)),
                      ("cloudevents", jsonl(tmp_path / "forms.jsonl", forms))):
        assert main(["--store", store_url, "ingest", "--format", fmt, str(path)]) == 0
    capsys.readouterr()
    return store_url


def lead(store_url: str, key: str, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    at = format_time((T0 + 20 * 60_000) * 1000)
    assert main(["--config", str(CONFIG), "--store", store_url, "lead", key, "--at", at,
                 *extra]) == 0
    return capsys.readouterr().out


def test_a_retried_lead_shows_its_failed_attempt_at_the_gateway_stage(
        journeys: str, capsys: pytest.CaptureFixture[str]) -> None:
    timeline = json.loads(lead(journeys, "L-2002", capsys, "--json"))
    gateway = timeline["stages"][1]
    assert (gateway["name"], gateway["attempts"], gateway["failed_attempts"]) == (
        "gateway.accepted", 1, 1)
    assert gateway["first_at"] == format_time((T0 + 62_000) * 1000)  # the retry got through
    assert [(e["type"], e["stage"], e["failed"]) for e in timeline["events"]] == [
        ("com.acme.lead.submitted", "form.submitted", False),
        ("gateway.request.failed", "gateway.accepted", True),
        ("gateway.request.accepted", "gateway.accepted", False)]
    assert timeline["events"][1]["id"] == f"{2:032x}:gateway.request.failed"


def test_the_text_timeline_labels_failed_attempts_and_the_stall_they_explain(
        journeys: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = lead(journeys, "L-2005", capsys)
    lines = out.splitlines()
    gateway = next(line for line in lines if line.strip().startswith("gateway.accepted"))
    assert gateway.split()[1] == "-" and gateway.endswith("platform  (1 failed attempt)")
    assert ("stalled after form.submitted for 19m 55s; gateway.accepted is owed by platform  "
            "(1 failed attempt)") in lines
    failed = next(line for line in lines if "gateway.request.failed" in line)
    assert failed.endswith(f"{5:032x}:gateway.request.failed  failed attempt at "
                           "gateway.accepted")


def test_a_lead_without_failures_reads_as_before(
        journeys: str, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_bytes(orjson.dumps(kong_entry(7, 201)) + b"\n")
    assert main(["--store", store_url, "ingest", "--format", "kong", str(path)]) == 0
    capsys.readouterr()
    out = lead(store_url, "L-2007", capsys)
    assert "failed attempt" not in out
    timeline = json.loads(lead(store_url, "L-2007", capsys, "--json"))
    assert [s["failed_attempts"] for s in timeline["stages"]] == [0] * 6
