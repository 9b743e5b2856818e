"""Evaluation at its edges, on both stores: a time in the future is refused and a dry run stores
nothing; `where` keys with quotes, backslashes and other path characters match; a freshness
SLA without any matching event is no data; stalls say how many are shown, sort and speak in
words; `baton serve` keeps evaluating whatever a definition file turns into."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from engine_helpers import CONFIG, MIN, T0, definitions, ev, load
from sqlalchemy import func, select

from app.cli import main
from app.serve import Evaluator
from app.sla_commands import at_time
from collectors.schema import format_time
from collectors.tables import breaches, sla_results
from slas.engine import evaluate
from slas.errors import EvaluationError
from slas.words import duration_words

DEFS = definitions()
STUCK = [e for i in range(5) for e in (ev(f"s{i}", "lead.submitted", 10, 0),
                                       ev(f"s{i}", "lead.routed", 11, 0))]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "slas").mkdir()
    (tmp_path / "slas" / "test.yaml").write_text(CONFIG)
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def stored(store) -> tuple[int, int]:
    with store.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(sla_results)).scalar_one(),
                conn.execute(select(func.count()).select_from(breaches)).scalar_one())


def test_a_dry_run_prints_the_evaluation_and_stores_no_result_and_no_breach(
        store, store_url, config_dir, capsys):
    load(store, STUCK)
    at = format_time(T0 + 40 * MIN)
    code, out, _ = run(capsys, "--config", str(config_dir), "--store", store_url, "evaluate",
                       "--at", at, "--json", "--dry-run")
    statuses = {s["name"]: s["status"] for s in json.loads(out)["slas"]}
    assert code == 0 and statuses["fast"] == "breached"
    assert stored(store) == (0, 0)
    run(capsys, "--config", str(config_dir), "--store", store_url, "evaluate", "--at", at)
    breached = list(statuses.values()).count("breached")
    assert stored(store) == (len(DEFS.slas), breached)  # the same evaluation, stored


def test_a_dry_run_does_not_close_an_open_breach(store, store_url, config_dir, capsys):
    load(store, STUCK)
    evaluate(store, DEFS, T0 + 40 * MIN)
    before = stored(store)
    load(store, [e for i in range(400) for e in (ev(f"g{i}", "lead.submitted", 80, 0),
                                                 ev(f"g{i}", "lead.assigned", 81, 0))])
    code, out, _ = run(capsys, "--config", str(config_dir), "--store", store_url, "evaluate",
                       "--at", format_time(T0 + 100 * MIN), "--dry-run")
    assert code == 0 and "Sales: ok" in out  # recovered, so a stored run would close it
    with store.engine.connect() as conn:
        assert conn.execute(select(breaches.c.closed_at_us).where(
            breaches.c.sla == "fast")).scalar_one() is None
    assert stored(store) == before


@pytest.mark.parametrize("command", [["evaluate"], ["evaluate", "--json"], ["stalls"],
                                     ["lead", "s0"]], ids=" ".join)
def test_a_time_in_the_future_is_refused_and_nothing_is_stored(store, store_url, config_dir,
                                                               capsys, command):
    load(store, STUCK)
    evaluate(store, DEFS, T0 + 40 * MIN)
    before = stored(store)
    code, out, err = run(capsys, "--config", str(config_dir), "--store", store_url, *command,
                         "--at", "2030-01-01T00:00:00Z")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "--at 2030-01-01T00:00:00Z is in the future" in err
    assert stored(store) == before


def test_the_future_starts_after_a_minute_of_clock_skew():
    now = T0 + 60 * MIN
    assert at_time(format_time(now + 59_000_000), now) == now + 59_000_000
    with pytest.raises(EvaluationError, match="is in the future"):
        at_time(format_time(now + 61_000_000), now)
    assert at_time(None, now) == now


KEYS = ['say "hi"', "back\\slash", "dotted.key", "$dollar", "[bracket]", "with space",
        "ünïcødé", 'both \\"', "new\nline", "plain"]


@pytest.mark.parametrize("key", KEYS, ids=lambda k: k.encode("unicode_escape").decode())
def test_where_keys_with_path_characters_match_on_both_stores(store, key):
    text = CONFIG.replace("where: {hot: true}", "where: {" + json.dumps(key) + ": true}")
    defs = definitions(text)
    leads = [ev("a", "lead.submitted", 10, 0, **{key: True}), ev("a", "lead.assigned", 12, 0),
             ev("b", "lead.submitted", 10, 0, **{key: False}), ev("b", "lead.assigned", 30, 0),
             ev("c", "lead.submitted", 10, 0, other=True)]
    load(store, leads)
    result = next(r for r in evaluate(store, defs, T0 + 40 * MIN, persist=False).results
                  if r.name == "fast-hot")
    assert (result.good, result.bad) == (1, 0)


def test_a_freshness_sla_on_an_empty_store_is_no_data_not_breached(store):
    fresh = next(r for r in evaluate(store, DEFS, T0 + 40 * MIN).results if r.name == "fresh")
    assert (fresh.status, fresh.total, fresh.budget_remaining) == ("no_data", 0, None)


def test_a_freshness_sla_counts_from_its_first_event_then_breaches_on_silence(store):
    load(store, [ev("x", "lead.submitted", 20, 0)])
    at_first = next(r for r in evaluate(store, DEFS, T0 + 21 * MIN).results
                    if r.name == "fresh")
    assert (at_first.good, at_first.bad, at_first.status) == (2, 0, "ok")
    later = next(r for r in evaluate(store, DEFS, T0 + 40 * MIN).results if r.name == "fresh")
    assert (later.good, later.bad, later.status) == (3, 18, "breached")


def many_stalls() -> list[dict]:
    """Leads submitted a minute apart, each stalled after routing for a different time."""
    return [e for i in range(60) for e in (ev(f"k{i:02}", "lead.submitted", i, 0),
                                           ev(f"k{i:02}", "lead.routed", 100 - i, 0))]


def test_stalls_say_how_many_of_how_many_are_shown(store, store_url, config_dir, capsys):
    load(store, many_stalls())
    at = format_time(T0 + 6 * 24 * 60 * MIN)
    _, out, _ = run(capsys, "--config", str(config_dir), "--store", store_url, "stalls",
                    "--at", at, "--limit", "10")
    rows = [line for line in out.splitlines() if "stuck after" in line]
    assert len(rows) == 10 and out.splitlines()[-1] == (
        "10 of 60 shown, longest first (--limit N, --all)")
    _, everything, _ = run(capsys, "--config", str(config_dir), "--store", store_url,
                           "stalls", "--at", at, "--all")
    assert sum("stuck after" in line for line in everything.splitlines()) == 60
    assert "shown" not in everything


@pytest.mark.parametrize(("order", "keys"), [
    ("longest", ["b", "c", "a"]), ("oldest", ["a", "b", "c"]), ("newest", ["c", "b", "a"])])
def test_stalls_sort_longest_stalled_or_by_when_the_journey_began(store, store_url, config_dir,
                                                                  capsys, order, keys):
    began_and_stalled = {"a": (0, 50), "b": (10, 20), "c": (30, 40)}
    load(store, [e for key, (began, routed) in began_and_stalled.items()
                 for e in (ev(key, "lead.submitted", began, 0), ev(key, "lead.routed", routed, 0))])
    _, out, _ = run(capsys, "--config", str(config_dir), "--store", store_url, "stalls",
                    "--at", format_time(T0 + 200 * MIN), "--sort", order, "--json")
    assert [s["key"] for s in json.loads(out)["stalled"]] == keys


def test_stalls_and_lead_give_durations_in_words(store, store_url, config_dir, capsys):
    load(store, [ev("a", "lead.submitted", 0, 0), ev("a", "lead.routed", 1, 0)])
    at = format_time(T0 + (6 * 24 * 60 + 21 * 60 + 1) * MIN)
    _, out, _ = run(capsys, "--config", str(config_dir), "--store", store_url, "stalls",
                    "--at", at, "--window", "30d")
    assert "stuck after routed for 6d 21h; waiting on assigned (sales)" in out
    _, out, _ = run(capsys, "--config", str(config_dir), "--store", store_url, "lead", "a",
                    "--at", at)
    assert "stalled after routed for 6d 21h; assigned is owed by sales" in out


@pytest.mark.parametrize(("seconds", "words"), [
    (0, "0s"), (59.6, "59s"), (9918 * 60, "6d 21h"), (3 * 3600 + 12 * 60 + 9, "3h 12m"),
    (-5, "0s")])
def test_durations_in_words_keep_the_two_largest_units(seconds, words):
    assert duration_words(seconds) == words


BROKEN = {
    "nan-objective": lambda p: p.write_text(CONFIG.replace("objective: 90%, window: 30m",
                                                           "objective: .nan, window: 30m")),
    "latin-1": lambda p: p.write_bytes(CONFIG.replace("Web", "Caf\xe9").encode("latin-1")),
    "enormous-window": lambda p: p.write_text(CONFIG.replace("window: 30m",
                                                             "window: 10000000000d")),
    "tiny-exponent": lambda p: p.write_text(CONFIG.replace("objective: 90%, window: 30m",
                                                           "objective: 1e-999999, window: 30m")),
    "alias-bomb": lambda p: p.write_text(CONFIG + "lol: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n" + "".join(
        f"l{i}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))),
    "a-folder": lambda p: (p.unlink(), p.mkdir()),
    "a-dangling-link": lambda p: (p.unlink(), os.symlink(p.with_name("gone"), p)),
}


@pytest.mark.parametrize("breakage", list(BROKEN), ids=list(BROKEN))
def test_serve_keeps_evaluating_with_the_last_valid_definitions(sqlite_url, config_dir,
                                                                capsys, breakage):
    from collectors.store import Store

    store = Store.open(sqlite_url)
    load(store, STUCK)
    evaluator = Evaluator(store, str(config_dir))
    BROKEN[breakage](config_dir / "slas" / "test.yaml")
    evaluator.tick()
    err = capsys.readouterr().err
    assert "evaluating with the last valid definitions" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count(func.distinct(sla_results.c.sla)))
                            ).scalar_one() == len(DEFS.slas)


def test_an_evaluation_that_fails_in_any_way_is_one_line_and_the_service_goes_on(
        sqlite_url, config_dir, capsys):
    from collectors.store import Store

    store = Store.open(sqlite_url)
    load(store, STUCK)
    evaluator = Evaluator(store, str(config_dir))
    fast = DEFS.sla("fast")
    # definitions no loader would accept (as a bug might make): SQLite overflows on them
    evaluator.definitions = type(DEFS)(DEFS.teams, DEFS.journeys, (
        type(fast).model_construct(**{**dict(fast), "window": 10**15}),), {})
    evaluator.config = str(config_dir / "missing")  # and the files are gone meanwhile
    evaluator.tick()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "evaluation failed: OverflowError" in lines[1]
    assert "retrying at the next tick" in lines[1]
