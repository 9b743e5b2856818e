"""Retention deletes exactly what is older than each cut-off, in bounded batches, and leaves
the numbers of every evaluation whose window lies after the cut-off as they were."""

from __future__ import annotations

import threading
from pathlib import Path

from engine_helpers import MIN, T0, definitions, ev, load
from service_helpers import config_dir
from sqlalchemy import event, insert, select

from app.serve import Evaluator
from collectors.retention import Cutoffs, JourneyShape, prune
from collectors.store import Reject, Store, now_us
from collectors.tables import (
    breaches,
    evaluation_runs,
    events,
    journey_attrs,
    journey_open,
    journey_stages,
    notifications,
    rejects,
    sla_population,
    sla_results,
    spans,
    stall_counts,
    team_results,
)
from slas.dispatch import Lease
from slas.engine import evaluate
from slas.population import live_keys
from slas.runs import Run, record_run
from slas.stalls import find_stalls

DEFS = definitions()
DAY = 24 * 60  # minutes
CUT = 10 * DAY  # the events' cut-off, in minutes after T0
T = CUT + 8 * DAY  # a live evaluation: its windows and the 7-day stalls view lie after CUT
SHAPES = {"lead": JourneyShape(("submitted", "routed", "assigned"), tuple(live_keys(DEFS)))}


def at(minute: float) -> int:
    return T0 + int(minute * MIN)


def history() -> list[dict]:
    """Old journeys, one straddling the cut-off (its attributes only before it), one exactly
    at it, and live traffic before T."""
    batch = [ev("old", "lead.submitted", CUT - 2 * DAY, 0, hot=True),
             ev("old", "lead.routed", CUT - 2 * DAY + 1, 0),
             ev("old", "lead.assigned", CUT - 2 * DAY + 3, 0),
             ev("old-stuck", "lead.submitted", CUT - DAY, 0),
             ev(None, "other.thing", CUT - 5, 0),
             ev("strad", "lead.submitted", CUT - 10, 0, region="emea", hot=True),
             ev("strad", "lead.routed", T - 30, 0),
             ev("strad", "lead.assigned", T - 28, 0),
             ev("edge", "lead.submitted", CUT, 0, region="na"),
             ev("edge", "lead.routed", CUT + 1, 0)]
    for i in range(12):
        start = T - 50 + 3 * i
        batch += [ev(f"live{i}", "lead.submitted", start, 0, hot=i % 2 == 0, region="emea"),
                  ev(f"live{i}", "lead.routed", start + 1, 0)]
        if i % 3:
            batch.append(ev(f"live{i}", "lead.assigned", start + (2 if i % 4 else 14), 0))
    return batch


def snapshot(store: Store) -> tuple[dict, dict]:
    """The live evaluation at T and the stalls at T, without storing anything."""
    evaluation = evaluate(store, DEFS, at(T), persist=False).as_json()
    return evaluation, find_stalls(store, DEFS, "lead", at(T)).as_json()


def keys(store: Store, table) -> set[str]:
    with store.engine.connect() as conn:
        return {row[0] for row in conn.execute(select(table.c.jkey).distinct())}


def column(store: Store, table, name: str) -> list:
    with store.engine.connect() as conn:
        return sorted(row[0] for row in conn.execute(select(table.c[name])))


def fill_the_rest(store: Store, rejects_cut: int, results_cut: int, sent_cut: int) -> None:
    """Spans, rejects, stored evaluations and notifications on both sides of their cut-offs."""
    store.write_rejects([Reject("s", "cloudevents", f"line {n}", "bad", "{}", rejects_cut + n)
                         for n in (-1, 0, 5)])
    with store.engine.begin() as conn:
        conn.execute(insert(spans), [
            {"trace_id": f"t{n}", "span_id": "s", "name": "x", "start_us": at(CUT) + n,
             "end_us": at(CUT) + n + 1, "received_us": 0} for n in (-1, 0)])
        conn.execute(insert(notifications), [
            {"alert_id": 1, "key": f"k{n}", "target": "t", "team": "web", "action": "trigger",
             "reason": "firing", "state": state, "at_us": 0, "created_us": sent_cut + n,
             "due_us": 0, "give_up_us": 0, "attempts": 1}
            for n, state in ((-1, "sent"), (-2, "failed"), (-3, "pending"), (0, "sent"))])
    for when in (results_cut - 1, results_cut):
        evaluate(store, DEFS, when)
        record_run(store, DEFS, Run(when, when, 0.1, 5),
                   {"lead": find_stalls(store, DEFS, "lead", when)})


def test_retention_deletes_exactly_what_is_older_than_the_cutoffs_and_live_numbers_stay(
        store: Store) -> None:
    load(store, history())
    load(store, [ev("late-old", "lead.submitted", CUT - 3 * DAY, 0)])  # arrives last, old
    rejects_cut, results_cut, sent_cut = at(CUT + 60), at(T - DAY), at(T - 2 * DAY)
    fill_the_rest(store, rejects_cut, results_cut, sent_cut)
    before = snapshot(store)
    with store.engine.connect() as conn:
        kept_events = sorted(row[0] for row in conn.execute(
            select(events.c.event_id).where(events.c.time_us >= at(CUT))))
        old_events = conn.execute(select(events.c.seq).where(
            events.c.time_us < at(CUT))).all()
        breach_rows = conn.execute(select(breaches)).all()

    pruned = prune(store, Cutoffs(events_us=at(CUT), rejects_us=rejects_cut,
                                  results_us=results_cut, notifications_us=sent_cut), SHAPES)

    assert snapshot(store) == before  # every number of the live evaluation and the stalls
    assert column(store, events, "event_id") == kept_events
    assert pruned.rows["events"] == len(old_events) == 7
    assert column(store, spans, "start_us") == [at(CUT)]
    live = {f"live{i}" for i in range(12)}
    assert keys(store, journey_stages) == keys(store, sla_population) == (
        {"strad", "edge"} | live)  # old, old-stuck and late-old went; strad straddles
    assert keys(store, journey_attrs) == {"strad", "edge"} | live
    assert "old-stuck" not in keys(store, journey_open) and "edge" in keys(store, journey_open)
    assert pruned.rows["journeys"] == 3
    assert column(store, rejects, "received_us") == [rejects_cut, rejects_cut + 5]
    for table in (sla_results, team_results, evaluation_runs, stall_counts):
        assert set(column(store, table, "evaluated_at_us")) == {results_cut}
    with store.engine.connect() as conn:
        left = sorted((row.state, row.created_us) for row in conn.execute(
            select(notifications.c.state, notifications.c.created_us)))
        assert conn.execute(select(breaches)).all() == breach_rows  # history stays
    assert left == [("pending", sent_cut - 3), ("sent", sent_cut)]
    assert prune(store, Cutoffs(at(CUT), rejects_cut, results_cut, sent_cut), SHAPES
                 ).total == 0  # the next run finds nothing more


def test_every_batch_deletes_at_most_the_batch_size(store: Store) -> None:
    types = ("lead.submitted", "other.a", "other.b")
    load(store, [ev(f"k{i}", types[i % 3], i % 50, i) for i in range(300)])
    store.write_rejects([Reject("s", "x", "l", "bad", "{}", 10 + i) for i in range(120)])
    deleted: list[int] = []

    def count(_conn, cursor, statement, _params, _context, _many) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            deleted.append(cursor.rowcount)

    event.listen(store.engine, "after_cursor_execute", count)
    try:
        pruned = prune(store, Cutoffs(at(DAY), 10_000, 0, 0), SHAPES, batch=40)
    finally:
        event.remove(store.engine, "after_cursor_execute", count)
    assert max(deleted) <= 40 and sum(pruned.rows.values()) >= 300 + 120
    assert pruned.rows["events"] == 300 and pruned.rows["rejects"] == 120
    assert store.count(events) == 0 and store.count(rejects) == 0


def test_baton_serve_prunes_by_config_baton_yaml_one_process_at_a_time(
        store: Store, tmp_path: Path) -> None:
    config = config_dir(tmp_path / "config")
    (config / "baton.yaml").write_text("version: baton/v1\nretention:\n  events: 8d\n")
    now = now_us()
    load(store, [{**ev("gone", "lead.submitted", 0, 0), "time_us": now - 9 * DAY * MIN},
                 {**ev("kept", "lead.submitted", 0, 0), "time_us": now - 7 * DAY * MIN}])
    evaluator = Evaluator(store, str(config))
    other = Lease(store, "retention", ttl_s=60, holder="elsewhere:1")
    assert other.acquire()
    assert evaluator.prune(threading.Event()) is None  # the other process is pruning
    assert store.count(events) == 2
    other.release()
    pruned = evaluator.prune(threading.Event())
    assert pruned is not None and pruned.rows["events"] == 1
    assert column(store, events, "event_id") == ["kept-lead.submitted-0"]
