"""Breaches open, update and close from stored evaluations; the engine's commands keep the
JSON contract of DESIGN.md and report user mistakes as one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_helpers import CONFIG, MIN, T0, definitions, ev, load
from sqlalchemy import select

from app.cli import main
from collectors.schema import format_time
from collectors.tables import breaches, sla_results
from slas.engine import evaluate

DEFS = definitions()


def stuck_leads(count: int, start: float) -> list[dict]:
    """Leads that are routed but never assigned: bad for `fast` ten minutes later."""
    return [e for i in range(count) for e in (ev(f"s{start}-{i}", "lead.submitted", start, 0),
                                               ev(f"s{start}-{i}", "lead.routed", start + 1, 0))]


def fast_breaches(store) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(breaches).where(breaches.c.sla == "fast").order_by(breaches.c.id)).mappings()]


def test_a_breach_opens_once_updates_and_closes_on_recovery(store):
    good = [e for i in range(20) for e in (ev(f"g{i}", "lead.submitted", 5, 0),
                                           ev(f"g{i}", "lead.assigned", 6, 0))]
    load(store, good + stuck_leads(5, 10))
    evaluate(store, DEFS, T0 + 30 * MIN)
    evaluate(store, DEFS, T0 + 30 * MIN)  # the same T again opens nothing new
    [opened] = fast_breaches(store)
    assert opened["opened_at_us"] == T0 + 30 * MIN and opened["closed_at_us"] is None
    assert opened["worst_sli"] == pytest.approx(20 / 25)
    assert (opened["stalled_stage"], opened["stalled_owner"]) == ("routed", "sales")
    assert opened["stalled_count"] == 5 and opened["team"] == "sales"
    load(store, stuck_leads(5, 32))
    evaluate(store, DEFS, T0 + 50 * MIN)
    [worse] = fast_breaches(store)
    assert worse["worst_sli"] == pytest.approx(20 / 30) and worse["closed_at_us"] is None
    recovered = [e for i in range(400) for e in (ev(f"r{i}", "lead.submitted", 80, 0),
                                                 ev(f"r{i}", "lead.assigned", 81, 0))]
    load(store, recovered)
    evaluate(store, DEFS, T0 + 100 * MIN)
    [closed] = fast_breaches(store)
    assert closed["closed_at_us"] == T0 + 100 * MIN


def test_every_evaluation_is_stored_as_a_point_per_sla(store):
    load(store, stuck_leads(2, 10))
    for minute in (30, 45, 45):
        evaluate(store, DEFS, T0 + minute * MIN)
    with store.engine.connect() as conn:
        rows = conn.execute(select(sla_results.c.evaluated_at_us).where(
            sla_results.c.sla == "fast").order_by(sla_results.c.evaluated_at_us)).all()
    assert [r[0] for r in rows] == [T0 + 30 * MIN, T0 + 45 * MIN]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "slas").mkdir()
    (tmp_path / "slas" / "test.yaml").write_text(CONFIG)
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_json_has_exactly_the_contract_shape(store, store_url, config_dir, capsys):
    load(store, stuck_leads(3, 10))
    at = format_time(T0 + 40 * MIN)
    code, out, _ = run(capsys, "--config", str(config_dir), "--store", store_url, "evaluate",
                       "--at", at, "--json")
    report = json.loads(out)
    assert code == 0 and set(report) == {"evaluated_at", "slas", "teams"}
    assert report["evaluated_at"] == at
    fast = next(s for s in report["slas"] if s["name"] == "fast")
    assert set(fast) == {"name", "team", "kind", "window", "objective", "good", "bad", "total",
                         "sli", "budget_remaining", "burn_rate", "status", "p50_s", "p95_s",
                         "p99_s"}
    assert (fast["good"], fast["bad"], fast["total"], fast["status"]) == (0, 3, 3, "breached")
    assert set(fast["burn_rate"]) == {"1h", "6h"} and fast["window"] == "1h"
    fresh = next(s for s in report["slas"] if s["name"] == "fresh")
    assert fresh["p50_s"] is None
    assert set(report["teams"][0]) == {"team", "status", "slas_ok", "slas_total"}


def test_evaluate_prints_a_scorecard_per_team(store, store_url, config_dir, capsys):
    load(store, stuck_leads(3, 10))
    code, out, _ = run(capsys, "--config", str(config_dir), "--store", store_url, "evaluate",
                       "--at", format_time(T0 + 40 * MIN))
    assert code == 0 and "Sales: BREACHED (" in out
    assert "0% of leads went from submitted to assigned within 10 minutes" in out


def test_stalls_json_lists_stalled_leads_and_counts_per_stage(store, store_url, config_dir,
                                                               capsys):
    load(store, stuck_leads(2, 10))
    at = format_time(T0 + 40 * MIN)
    code, out, _ = run(capsys, "--config", str(config_dir), "--store", store_url, "stalls",
                       "--at", at, "--json")
    report = json.loads(out)
    assert code == 0 and report["journey"] == "lead" and report["at"] == at
    assert report["by_stage"] == {"submitted": 0, "routed": 2}
    assert report["stalled"][0] == {"key": "s10-0", "last_stage": "routed",
                                    "last_at": format_time(T0 + 11 * MIN),
                                    "next_stage": "assigned", "owner": "sales",
                                    "stalled_for_s": 29 * 60.0}


def test_lead_shows_stages_events_and_the_stall(store, store_url, config_dir, capsys):
    load(store, stuck_leads(1, 10) + [ev("s10-0", "lead.routed", 12, 1)])
    code, out, _ = run(capsys, "--config", str(config_dir), "--store", store_url, "lead",
                       "s10-0", "--at", format_time(T0 + 40 * MIN), "--json")
    timeline = json.loads(out)
    assert code == 0 and [s["attempts"] for s in timeline["stages"]] == [1, 2, 0]
    assert timeline["stages"][1]["first_at"] == format_time(T0 + 11 * MIN)
    assert timeline["stalled"]["next_stage"] == "assigned" and len(timeline["events"]) == 3


def test_validate_reports_every_error_with_file_and_line(tmp_path, capsys):
    (tmp_path / "slas").mkdir()
    bad = Path(__file__).parent / "configs" / "bad" / "many-errors.yaml"
    (tmp_path / "slas" / "many-errors.yaml").write_text(bad.read_text())
    code, out, err = run(capsys, "--config", str(tmp_path), "validate")
    assert code == 1 and out == ""
    path = tmp_path / "slas" / "many-errors.yaml"
    assert err.splitlines()[0] == (f"{path}:10: journeys.lead.stages[0].owner: unknown team "
                                   "'marketing'; defined teams: sales")
    assert err.splitlines()[-1] == f"4 error(s) in {tmp_path}"


def test_validate_passes_the_example_configuration(capsys):
    code, out, _ = run(capsys, "--config", str(Path(__file__).parents[1] / "config"),
                       "validate")
    assert code == 0 and "valid (1 file(s), 4 teams, 1 journeys, 4 SLAs, " in out


def test_validate_also_checks_sources_yaml(config_dir, capsys):
    (config_dir / "sources.yaml").write_text("version: baton/v1\nsources:\n  gw: {kind: nope}\n")
    code, _, err = run(capsys, "--config", str(config_dir), "validate")
    assert code == 1 and f"{config_dir / 'sources.yaml'}:3:" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["evaluate", "--at", "2026-01-01T00:00:00"], "has no UTC offset"),
    (["evaluate", "--at", "tomorrow"], "is not an RFC 3339 timestamp"),
    (["stalls", "--journey", "order"], "unknown journey 'order'; defined journeys: lead"),
    (["stalls", "--window", "a week"], "--window 'a week' is not a duration"),
    (["lead", "nobody"], "no events for 'nobody'"),
], ids=["at-without-offset", "at-not-a-time", "unknown-journey", "bad-window", "unknown-lead"])
def test_a_user_mistake_is_one_sentence_and_exit_1(sqlite_url, config_dir, capsys, argv,
                                                   message):
    code, out, err = run(capsys, "--config", str(config_dir), "--store", sqlite_url, *argv)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
