"""Alerts on-call can trust: rules on real evaluations, routing, lifecycle (once, resolve,
renotify, flapping, silences, escalation, grouping) and delivery to real HTTP servers on
loopback that record what they receive and fail when told — on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from alert_helpers import (
    Alerting,
    environ,
    healthy,
    journey,
    lost,
    write_config,
)
from engine_helpers import MIN, T0

from collectors.store import now_us
from slas.alerts import as_json, latest_episodes
from slas.engine import Evaluation, save
from slas.judge import judge, rollup
from slas.measure import Counts
from slas.silences import add_silence, end_silence, list_silences

BREACHED_ONLY = "  rules: [SLABreached]"


def keys(cycle, what="started"):
    return sorted(getattr(cycle.decision, what))


def stored(alerting: Alerting, minute: float, counts: dict[str, tuple[int, int]]) -> None:
    """Store an evaluation at T saying what `counts` say (good, bad per SLA), through the
    engine's own judge and save: the lifecycle reads nothing else."""
    defs = alerting.definitions
    results = [judge(defs.sla(name), Counts(good, bad, {"1h": (good, bad)}))
               for name, (good, bad) in counts.items()]
    save(alerting.store, defs, Evaluation(T0 + int(minute * MIN), results,
                                          rollup(list(defs.teams), results)))


def decide_at(alerting: Alerting, minute: float, deliver_for: float = 3.0):
    from slas.dispatch import alert_cycle, dispatcher_lease

    return alert_cycle(alerting.store, alerting.definitions, alerting.config,
                       T0 + int(minute * MIN), alerting.dispatcher,
                       dispatcher_lease(alerting.store, alerting.config), deliver_for)


@pytest.fixture
def alerting(store, sink, tmp_path, request):
    marker = request.node.get_closest_marker("alerts")
    options = marker.kwargs if marker else {}
    folder = write_config(tmp_path / "config", sink.url, **options)
    return Alerting(store, folder, environ(sink.url))


@pytest.mark.alerts(policy=BREACHED_ONLY)
def test_a_breach_pages_once_and_resolves_once(alerting, sink):
    alerting.load(healthy(0, 30) + lost(30, 60))
    first = alerting.at(60)
    assert keys(first) == ["baton/SLABreached/fast", "baton/SLABreached/routed"]
    [message] = sink.received("/hook")  # one team, one cycle: one webhook body
    body = message.json
    assert body["version"] == "4" and body["status"] == "firing"
    assert sorted(a["labels"]["sla"] for a in body["alerts"]) == ["fast", "routed"]
    assert all(a["labels"]["team"] == "sales" for a in body["alerts"])

    again = alerting.at(60)
    assert again.decision.queued == 0 and again.report.sent == 0
    assert len(sink.received("/hook")) == 1

    alerting.load(healthy(60, 121, prefix="later"))
    recovered = alerting.at(121)
    assert keys(recovered, "resolved") == ["baton/SLABreached/fast", "baton/SLABreached/routed"]
    hooks = sink.received("/hook")
    assert len(hooks) == 2 and hooks[1].json["status"] == "resolved"
    assert {a["status"] for a in hooks[1].json["alerts"]} == {"resolved"}
    alerting.at(121)
    alerting.at(125)
    assert len(sink.received("/hook")) == 2


@pytest.mark.alerts(policy=BREACHED_ONLY)
def test_re_evaluating_an_earlier_time_changes_no_alert(alerting, sink):
    stored(alerting, 10, {"fast": (50, 50)})
    stored(alerting, 20, {"fast": (99, 1)})
    assert keys(decide_at(alerting, 10)) == ["baton/SLABreached/fast"]
    assert keys(decide_at(alerting, 20), "resolved") == ["baton/SLABreached/fast"]
    older = decide_at(alerting, 10)
    assert older.decision.skipped and older.decision.queued == 0
    assert [m.json["status"] for m in sink.received("/hook")] == ["firing", "resolved"]


@pytest.mark.alerts(policy=BREACHED_ONLY)
def test_a_flapping_sla_within_renotify_sends_no_storm(alerting, sink):
    for minute in range(1, 41):
        stored(alerting, minute, {"fast": (80, 20) if minute % 2 else (99, 1)})
        decide_at(alerting, minute, deliver_for=0.5)
    assert [m.json["status"] for m in sink.received("/hook")] == ["firing", "resolved"]
    episodes = [e for e in latest_episodes(alerting.store) if e["sla"] == "fast"]
    assert episodes[0]["state"] == "resolved"  # minute 40 is fine

    # after renotify (4h) it is announced again while it fires
    stored(alerting, 4 * 60 + 5, {"fast": (80, 20)})
    decide_at(alerting, 4 * 60 + 5)
    assert [m.json["status"] for m in sink.received("/hook")] == ["firing", "resolved",
                                                                   "firing"]


@pytest.mark.alerts(policy=BREACHED_ONLY)
def test_a_still_firing_alert_is_sent_again_after_renotify_and_not_before(alerting, sink):
    for minute in (0, 60, 3 * 60, 4 * 60 - 1, 4 * 60, 4 * 60 + 30):
        stored(alerting, minute, {"fast": (50, 50)})
        decide_at(alerting, minute, deliver_for=0.5)
    [episode] = [e for e in latest_episodes(alerting.store) if e["sla"] == "fast"]
    assert [n["reason"] for n in episode["notifications"]] == ["firing", "repeat"]
    assert len(sink.received("/hook")) == 2


@pytest.mark.alerts(policy=BREACHED_ONLY)
def test_a_silence_records_the_alert_but_sends_nothing_until_it_ends(alerting, sink):
    silence = add_silence(alerting.store, {"sla": ["fast"]}, now_us() + 3600 * 10**6,
                          "CRM migration", "alice")
    stored(alerting, 10, {"fast": (50, 50), "routed": (50, 50)})
    cycle = decide_at(alerting, 10)
    assert keys(cycle, "silenced") == ["baton/SLABreached/fast"]
    assert keys(cycle) == ["baton/SLABreached/routed"]
    [message] = sink.received("/hook")
    assert [a["labels"]["sla"] for a in message.json["alerts"]] == ["routed"]
    states = {e["sla"]: e for e in latest_episodes(alerting.store)}
    assert states["fast"]["state"] == "silenced" and states["fast"]["notifications"] == []
    assert as_json(states["fast"])["state"] == "silenced"
    [listed] = list_silences(alerting.store)
    assert (listed.reason, listed.created_by, listed.matchers) == (
        "CRM migration", "alice", {"sla": ("fast",)})

    end_silence(alerting.store, silence.id, "bob")
    stored(alerting, 11, {"fast": (50, 50), "routed": (50, 50)})
    decide_at(alerting, 11)
    hooks = sink.received("/hook")
    assert len(hooks) == 2 and [a["labels"]["sla"] for a in hooks[1].json["alerts"]] == ["fast"]
    assert list_silences(alerting.store)[0].ended_by == "bob"


@pytest.mark.alerts(policy=BREACHED_ONLY)
def test_a_target_down_for_a_while_gets_the_page_afterwards_exactly_once(alerting, sink):
    sink.down()
    stored(alerting, 10, {"fast": (50, 50)})
    first = decide_at(alerting, 10, deliver_for=1.5)
    assert first.report.sent == 0 and first.report.pending == 1
    [episode] = latest_episodes(alerting.store)
    [pending] = episode["notifications"]
    assert pending["state"] == "pending" and pending["attempts"] >= 1
    assert "cannot be reached" in pending["last_error"]
    sink.up()
    report = alerting.dispatcher.deliver(10)
    assert report.sent == 1
    alerting.dispatcher.deliver(1)
    assert len(sink.received("/hook")) == 1


@pytest.mark.alerts(policy=BREACHED_ONLY)
def test_a_400_is_not_retried_and_the_failure_is_shown(alerting, sink):
    sink.answer("/hook", status=400, body="bad request")
    stored(alerting, 10, {"fast": (50, 50)})
    cycle = decide_at(alerting, 10, deliver_for=2)
    assert cycle.report.failed == 1 and len(sink.received("/hook")) == 1
    [episode] = latest_episodes(alerting.store)
    [failed] = as_json(episode)["notifications"]
    assert failed["state"] == "failed" and failed["attempts"] == 1
    assert "400" in failed["last_error"]


@pytest.mark.alerts(policy=BREACHED_ONLY)
def test_500_and_429_are_retried_with_backoff_honouring_retry_after(alerting, sink):
    sink.fail("/hook", status=500)
    sink.fail("/hook", status=429, retry_after="2")
    stored(alerting, 10, {"fast": (50, 50)})
    cycle = decide_at(alerting, 10, deliver_for=8)
    assert cycle.report.sent == 1
    first, second, third = sink.received("/hook")
    assert third.at - second.at >= 2.0  # Retry-After: 2
    assert first.json == third.json


@pytest.mark.alerts(policy=BREACHED_ONLY)
def test_a_notification_not_delivered_by_give_up_is_failed(alerting, sink):
    from slas.alerts import decide

    sink.down()
    stored(alerting, 10, {"fast": (50, 50)})
    decide(alerting.store, alerting.definitions, alerting.config, T0 + 10 * MIN,
           now=now_us() - 2 * 3600 * 10**6)  # written two hours ago: give_up (1h) has passed
    report = alerting.dispatcher.deliver(1)
    assert report.failed == 1
    [episode] = latest_episodes(alerting.store)
    assert episode["notifications"][0]["state"] == "failed"
    assert "gave up" in episode["notifications"][0]["last_error"]


@pytest.mark.alerts(policy=BREACHED_ONLY, routes="""\
  - {team: sales, to: [chat]}""")
def test_three_slas_of_one_team_breaching_in_one_cycle_are_one_slack_message(alerting, sink):
    stored(alerting, 10, {"fast": (50, 50), "routed": (40, 60), "fresh": (10, 50)})
    cycle = decide_at(alerting, 10)
    assert len(cycle.decision.started) == 3 and cycle.report.sent == 3
    [message] = sink.received("/slack")
    blocks = message.json["blocks"]
    assert "3 firing" in blocks[0]["text"]["text"]
    assert sum(1 for b in blocks if b["type"] == "section") == 3


@pytest.mark.alerts(policy=BREACHED_ONLY, routes="""\
  - {team: sales, severity: [critical], to: [pager], escalate: {after: 15m, to: [hook]}}""")
def test_a_page_not_resolved_in_time_escalates_and_both_get_the_resolve(alerting, sink):
    for minute in (0, 10, 16):
        stored(alerting, minute, {"fast": (50, 50)})
        decide_at(alerting, minute, deliver_for=1)
    [page] = sink.received("/pagerduty")
    assert page.json["event_action"] == "trigger"
    assert page.json["dedup_key"] == "baton/SLABreached/fast"
    [escalated] = sink.received("/hook")
    assert escalated.json["status"] == "firing"
    stored(alerting, 20, {"fast": (99, 1)})
    decide_at(alerting, 20)
    pages = sink.received("/pagerduty")
    assert [p.json["event_action"] for p in pages] == ["trigger", "resolve"]
    assert pages[1].json["dedup_key"] == "baton/SLABreached/fast"
    assert [m.json["status"] for m in sink.received("/hook")] == ["firing", "resolved"]


@pytest.mark.alerts(policy="  rules: [JourneysStalled]\n  stalled_min: 3")
def test_leads_stalled_at_a_stage_alert_the_team_owing_the_next_one(alerting, sink):
    alerting.load(healthy(0, 40) + lost(30, 40))
    cycle = alerting.at(50)  # lost leads 30..38 wait over 5m for `routed`
    assert keys(cycle) == ["baton/JourneysStalled/lead:submitted"]
    [message] = sink.received("/hook")
    [alert] = message.json["alerts"]
    assert alert["labels"] == {"alertname": "JourneysStalled", "journey": "lead",
                               "stage": "submitted", "team": "ops", "severity": "warning"}
    assert alert["annotations"]["summary"].startswith("5 leads stalled at submitted")
    alerting.load([e for m in range(30, 40, 2) for e in journey(f"lost{m}", m, 45, 46)])
    assert keys(alerting.at(50.5), "resolved") == ["baton/JourneysStalled/lead:submitted"]


@pytest.mark.alerts(policy=BREACHED_ONLY)
def test_alerts_json_has_the_contract_shape(alerting, sink):
    stored(alerting, 10, {"fast": (50, 50)})
    decide_at(alerting, 10)
    [episode] = latest_episodes(alerting.store)
    shown = as_json(episode)
    assert {"key", "alertname", "sla", "team", "severity", "state", "since",
            "notifications"} <= set(shown)
    assert shown["state"] == "firing" and shown["since"] == "2026-01-01T00:10:00Z"
    [n] = shown["notifications"]
    assert set(n) == {"target", "action", "state", "attempts", "last_error", "sent_at"}
    assert (n["target"], n["action"], n["state"], n["attempts"]) == ("hook", "trigger",
                                                                     "sent", 1)


def test_pending_deliveries_wait_group_wait_for_company(store, sink, tmp_path):
    folder = write_config(tmp_path / "c", sink.url, policy=BREACHED_ONLY, group_wait="2s")
    alerting = Alerting(store, folder, environ(sink.url))
    at_minute = (now_us() - T0) / MIN  # now: group_wait counts from the decision
    stored(alerting, at_minute, {"fast": (50, 50)})
    started = time.monotonic()
    cycle = decide_at(alerting, at_minute, deliver_for=0.5)
    assert cycle.report.sent == 0 and cycle.report.pending == 1
    alerting.dispatcher.deliver(5)
    [message] = sink.received("/hook")
    assert message.at - started >= 1.5


@pytest.mark.alerts(policy="  rules: [DeliveryFailing]\n  failures: 3")
def test_a_lead_failing_its_delivery_a_third_time_alerts_the_stage_owner(alerting, sink):
    """The blueprint's promise: retries, and alerting after the third failure."""
    from engine_helpers import ev

    attempts = [ev("L1", "lead.route.failed", 10 + i, i) for i in range(2)]
    alerting.load(journey("L1", 10) + attempts + journey("L2", 10)
                  + [ev("L2", "lead.route.failed", 11, 0)])
    assert alerting.at(15).decision.started == []  # two failures: retrying
    alerting.load([ev("L1", "lead.route.failed", 16, 2)])
    cycle = alerting.at(17)
    assert keys(cycle) == ["baton/DeliveryFailing/lead:routed"]
    [alert] = sink.received("/hook")[0].json["alerts"]
    assert alert["labels"] == {"alertname": "DeliveryFailing", "journey": "lead",
                               "stage": "routed", "team": "ops", "severity": "critical"}
    assert alert["annotations"]["summary"].startswith("1 lead(s) failed routed 3 or more times")
    alerting.load([ev("L1", "lead.routed", 18, 0)])  # the fourth try got through
    assert keys(alerting.at(19), "resolved") == ["baton/DeliveryFailing/lead:routed"]
