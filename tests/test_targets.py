"""Alert targets over real HTTP: payload shapes per FORMATS.md section 6, the sent / retry /
failed classification against a recording sink, and a real Alertmanager (Debian's 0.25)."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import orjson
import pytest
import requests
from fakes.sink import Sink
from peers import Alertmanager

from collectors.schema import to_us
from slas.notices import AlertView, Message, Outcome
from slas.targets import PAGERDUTY_URL, Target, render, send
from slas.words import budget_words, burn_words, duration_words

NOW = to_us(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
MINUTE = 60_000_000
KEY = "e93facc04764012d7bfb002500d5d1a6"
SECRET_PATH = "/services/T000/B000/s3cr3t-t0k3n"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
FINGERPRINT = re.compile(r"[0-9a-f]{16}")


def alert(sla: str = "lead-routing-5m", state: str = "firing", **changes: Any) -> AlertView:
    view = AlertView(
        key=f"baton/SLABreached/{sla}", alertname="SLABreached",
        labels={"alertname": "SLABreached", "team": "sales-ops", "severity": "critical",
                "sla": sla},
        state=state, since_us=NOW - 125 * MINUTE,
        ended_us=None if state == "firing" else NOW - 20 * MINUTE,
        severity="critical", team="sales-ops", team_name="Sales Ops",
        summary=f"{sla} breached: 97.9% within 5m, target 99%",
        details={"sli": 0.979, "objective": 0.99, "budget_remaining": 0.125,
                 "burn_rate": {"1h": 14.4, "5m": 15.2}, "window": "fast",
                 "stalled_stage": "crm.assigned", "stalled_count": 12,
                 "accountable_team": "sales-ops"},
        url=f"http://localhost:8501/breaches?sla={sla}")
    return replace(view, **changes)


def message(*alerts: AlertView, target: str = "t") -> Message:
    return Message(target=target, group="sales-ops", alerts=alerts or (alert(),),
                   notification_ids=(1,))


@pytest.fixture
def targets(sink: Sink) -> dict[str, tuple[Target, dict[str, str], str]]:
    """kind -> (target, environment, the sink path it posts to)."""
    env = {"PD_KEY": KEY, "SLACK_URL": sink.url_for(SECRET_PATH),
           "HOOK_URL": sink.url_for("/hook")}
    return {
        "pagerduty": (Target("pager", "pagerduty", url=sink.url_for("/v2/enqueue"),
                             routing_key_env="PD_KEY"), env, "/v2/enqueue"),
        "slack": (Target("sales-slack", "slack", url_env="SLACK_URL"), env, SECRET_PATH),
        "alertmanager": (Target("am", "alertmanager", url=sink.url), env, "/api/v2/alerts"),
        "webhook": (Target("ops-hook", "webhook", url_env="HOOK_URL"), env, "/hook"),
    }


KINDS = ["pagerduty", "slack", "alertmanager", "webhook"]


def deliver(targets: dict[str, Any], kind: str, msg: Message | None = None,
            timeout: float | None = None) -> Outcome:
    target, env, _ = targets[kind]
    return send(requests.Session(), target, msg or message(), env, NOW, timeout)


def posted(sink: Sink, path: str) -> Any:
    (request,) = sink.received(path)
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    return request.json


# --- PagerDuty Events API v2 ---

def test_a_firing_alert_reaches_pagerduty_as_a_trigger_with_every_required_field(
        sink: Sink, targets: dict[str, Any]) -> None:
    sink.answer("/v2/enqueue", 202, {"status": "success", "message": "Event processed"})
    assert deliver(targets, "pagerduty") == Outcome("sent", 202)
    body = posted(sink, "/v2/enqueue")
    assert body["routing_key"] == KEY and body["event_action"] == "trigger"
    assert body["dedup_key"] == "baton/SLABreached/lead-routing-5m"
    payload = body["payload"]
    assert payload["summary"] == "lead-routing-5m breached: 97.9% within 5m, target 99%"
    assert (payload["source"], payload["severity"]) == ("baton", "critical")
    assert datetime.fromisoformat(payload["timestamp"]) == datetime(2026, 1, 1, 9, 55,
                                                                    tzinfo=UTC)
    assert (payload["component"], payload["group"], payload["class"]) == (
        "lead-routing-5m", "sales-ops", "SLABreached")
    assert payload["custom_details"]["burn_rate"] == {"1h": 14.4, "5m": 15.2}
    assert body["links"] == [{"href": "http://localhost:8501/breaches?sla=lead-routing-5m",
                              "text": "Open in Baton"}]


def test_a_resolved_alert_is_a_pagerduty_resolve_with_the_same_dedup_key(
        sink: Sink, targets: dict[str, Any]) -> None:
    sink.answer("/v2/enqueue", 202, {"status": "success"})
    assert deliver(targets, "pagerduty", message(alert(state="resolved"))).result == "sent"
    assert posted(sink, "/v2/enqueue") == {"routing_key": KEY, "event_action": "resolve",
                                           "dedup_key": "baton/SLABreached/lead-routing-5m"}


@pytest.mark.parametrize("ours, theirs", [("critical", "critical"), ("warning", "warning"),
                                          ("info", "info"), ("page-me", "error")])
def test_severities_map_onto_pagerdutys_four_levels(ours: str, theirs: str) -> None:
    target = Target("pager", "pagerduty", routing_key_env="PD_KEY")
    request = render(target, message(alert(severity=ours)), {"PD_KEY": KEY}, NOW)
    assert request.json_body["payload"]["severity"] == theirs


def test_without_a_url_pagerduty_events_go_to_the_events_v2_endpoint() -> None:
    target = Target("pager", "pagerduty", routing_key_env="PD_KEY")
    assert render(target, message(), {"PD_KEY": KEY}, NOW).url == PAGERDUTY_URL


def test_a_long_summary_is_cut_to_1024_characters_and_a_long_key_to_a_stable_digest() -> None:
    target = Target("pager", "pagerduty", routing_key_env="PD_KEY")
    long = alert(summary="x" * 5000, key="baton/SLABreached/" + "s" * 400)
    first = render(target, message(long), {"PD_KEY": KEY}, NOW).json_body
    again = render(target, message(replace(long, state="resolved")), {"PD_KEY": KEY},
                   NOW).json_body
    assert len(first["payload"]["summary"]) == 1024
    assert len(first["dedup_key"]) <= 255 and first["dedup_key"] == again["dedup_key"]
    other = render(target, message(replace(long, key=long.key + "t")), {"PD_KEY": KEY}, NOW)
    assert other.json_body["dedup_key"] != first["dedup_key"]


def test_details_too_big_for_pagerduty_are_left_out_to_stay_under_512_kb() -> None:
    target = Target("pager", "pagerduty", routing_key_env="PD_KEY")
    huge = alert(details={"journeys": ["j" * 100] * 10_000})
    body = render(target, message(huge), {"PD_KEY": KEY}, NOW).json_body
    assert len(orjson.dumps(body)) < 512 * 1024
    assert "512 KB" in body["payload"]["custom_details"]["note"]


def test_a_pagerduty_message_must_carry_exactly_one_alert(sink: Sink,
                                                          targets: dict[str, Any]) -> None:
    outcome = deliver(targets, "pagerduty", message(alert("a"), alert("b")))
    assert outcome.result == "failed" and "exactly one alert, not 2" in str(outcome.error)
    assert sink.received() == []


def test_a_missing_routing_key_variable_fails_with_a_sentence_naming_it(
        sink: Sink, targets: dict[str, Any]) -> None:
    target, _, _ = targets["pagerduty"]
    outcome = send(requests.Session(), target, message(), {}, NOW)
    assert outcome.result == "failed" and outcome.status is None
    assert "PD_KEY is not set" in str(outcome.error) and "'pager'" in str(outcome.error)
    assert sink.received() == []


# --- Slack incoming webhook ---

def slack_sections(body: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]


def test_one_alert_becomes_a_slack_message_that_says_what_who_since_and_how_bad(
        sink: Sink, targets: dict[str, Any]) -> None:
    assert deliver(targets, "slack") == Outcome("sent", 200)
    body = posted(sink, SECRET_PATH)
    assert body["text"] == "lead-routing-5m breached: 97.9% within 5m, target 99%"
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "context"]
    header = body["blocks"][0]["text"]
    assert header["type"] == "plain_text" and "lead-routing-5m" in header["text"]
    (section,) = slack_sections(body)
    for words in ["Firing", "Sales Ops", "2026-01-01 09:55 UTC", f"{duration_words(7500)} ago",
                  "97.9% vs objective 99%", budget_words(0.125),
                  burn_words({"1h": 14.4, "5m": 15.2}), "crm.assigned (12 journeys)",
                  "*Accountable team:* sales-ops",
                  "<http://localhost:8501/breaches?sla=lead-routing-5m|Open in Baton>"]:
        assert words in section


def test_a_resolved_alert_in_slack_says_resolved_and_how_long_it_lasted(
        sink: Sink, targets: dict[str, Any]) -> None:
    deliver(targets, "slack", message(alert(state="resolved")))
    body = posted(sink, SECRET_PATH)
    assert body["text"].startswith("Resolved: ")
    assert body["blocks"][0]["text"]["text"].startswith("Resolved")
    assert "*Resolved:* 2026-01-01 11:40 UTC, after 1h 45m" in slack_sections(body)[0]


def test_several_alerts_of_a_team_go_in_one_slack_message_firing_ones_first(
        sink: Sink, targets: dict[str, Any]) -> None:
    group = message(alert("a-sla", state="resolved"), alert("b-sla"),
                    alert("c-sla", severity="warning"))
    assert deliver(targets, "slack", group).result == "sent"
    body = posted(sink, SECRET_PATH)
    assert body["blocks"][0]["text"]["text"] == "Sales Ops: 2 firing and 1 resolved"
    order = [re.findall(r"\b(\w)-sla\b", text)[0] for text in slack_sections(body)]
    assert order == ["b", "c", "a"]


def test_120_alerts_stay_within_50_blocks_and_the_rest_is_summarised_as_and_n_more(
        sink: Sink, targets: dict[str, Any]) -> None:
    many = message(*(alert(f"sla-{i:03}") for i in range(120)))
    assert deliver(targets, "slack", many).result == "sent"
    body = posted(sink, SECRET_PATH)
    assert len(body["blocks"]) == 50
    sections = slack_sections(body)
    assert sections[-1].startswith("…and 73 more (73 firing)")
    assert "sla-119" in sections[-1]
    assert len(sections) - 1 + 73 == 120


def test_slack_limits_hold_however_long_the_texts_are() -> None:
    long = alert(summary="s" * 1024, team_name="T" * 500, labels={"sla": "n" * 400},
                 url="http://x/" + "u" * 2000, details={"stalled_stage": "z" * 3000})
    body = render(Target("s", "slack", url_env="U"), message(long, long), {"U": "http://x/h"},
                  NOW).json_body
    assert len(body["blocks"][0]["text"]["text"]) <= 150
    assert all(len(text) <= 3000 for text in slack_sections(body))
    assert len(body["text"]) <= 3000


def test_slack_control_characters_in_alert_texts_are_escaped() -> None:
    tricky = alert(summary="<!channel> a & b > c")
    body = render(Target("s", "slack", url_env="U"), message(tricky), {"U": "http://x/h"},
                  NOW).json_body
    (section,) = slack_sections(body)
    assert "&lt;!channel&gt; a &amp; b &gt; c" in section and "<!channel>" not in section
    assert body["text"] == "&lt;!channel&gt; a &amp; b &gt; c"


def test_facts_that_are_missing_or_not_numbers_are_left_out_of_the_message() -> None:
    sparse = alert(details={"sli": float("nan"), "objective": None, "budget_remaining": "n/a",
                            "burn_rate": {"1h": None}})
    (section,) = slack_sections(render(Target("s", "slack", url_env="U"), message(sparse),
                                       {"U": "http://x/h"}, NOW).json_body)
    assert "SLI" not in section and "budget" not in section and "Burn" not in section
    assert "nan" not in section


@pytest.mark.parametrize("kind", KINDS)
def test_a_link_that_is_not_an_absolute_http_url_is_left_out(targets: dict[str, Any],
                                                             kind: str) -> None:
    target, env, _ = targets[kind]
    body = render(target, message(alert(url="/breaches?sla=x")), env, NOW).json_body
    assert "/breaches" not in orjson.dumps(body).decode()


@pytest.mark.parametrize("status, said, result, hint", [
    (200, "invalid_payload", "failed", "bug in Baton"),
    (200, "no_text", "failed", "bug in Baton"),
    (400, "invalid_payload", "failed", "bug in Baton"),
    (404, "channel_not_found", "failed", "SLACK_URL"),
    (410, "channel_is_archived", "failed", "SLACK_URL"),
    (403, "action_prohibited", "failed", "SLACK_URL"),
    (500, "rollup_error", "retry", "will retry"),
], ids=lambda v: str(v))
def test_slack_answers_other_than_200_ok_are_classified(
        sink: Sink, targets: dict[str, Any], status: int, said: str, result: str,
        hint: str) -> None:
    sink.fail(SECRET_PATH, status=status, body=said)
    outcome = deliver(targets, "slack")
    assert (outcome.result, outcome.status) == (result, status)
    assert said in str(outcome.error) and hint in str(outcome.error)


# --- Alertmanager: POST /api/v2/alerts ---

def test_the_alertmanager_target_posts_an_array_of_postable_alerts(
        sink: Sink, targets: dict[str, Any]) -> None:
    sink.answer("/api/v2/alerts", 200, "")
    assert deliver(targets, "alertmanager", message(alert("a"), alert("b"))).result == "sent"
    first, second = posted(sink, "/api/v2/alerts")
    assert first["labels"] == {"alertname": "SLABreached", "team": "sales-ops",
                               "severity": "critical", "sla": "a"}
    assert second["labels"]["sla"] == "b"
    assert set(first["annotations"]) == {"summary", "description", "dashboard"}
    assert "SLI: 97.9% vs objective 99%" in first["annotations"]["description"]
    assert RFC3339.fullmatch(first["startsAt"]) and "endsAt" not in first
    assert first["generatorURL"] == "http://localhost:8501/breaches?sla=a"


def test_a_resolved_alert_tells_alertmanager_when_it_ended(
        sink: Sink, targets: dict[str, Any]) -> None:
    sink.answer("/api/v2/alerts", 200, "")
    deliver(targets, "alertmanager", message(alert(state="resolved")))
    (body,) = posted(sink, "/api/v2/alerts")
    assert datetime.fromisoformat(body["endsAt"]) == datetime(2026, 1, 1, 11, 40, tzinfo=UTC)
    assert RFC3339.fullmatch(body["endsAt"])


@pytest.mark.parametrize("base", ["http://am:9093", "http://am:9093/",
                                  "http://am:9093/api/v2/alerts"])
def test_the_alertmanager_url_is_joined_with_the_alerts_path_once(base: str) -> None:
    request = render(Target("am", "alertmanager", url=base), message(), {}, NOW)
    assert request.url == "http://am:9093/api/v2/alerts"


# --- webhook: the Alertmanager webhook v4 body ---

def test_the_webhook_body_is_an_alertmanager_v4_notification_for_the_group(
        sink: Sink, targets: dict[str, Any]) -> None:
    group = message(alert("a"), alert("b", state="resolved"))
    assert deliver(targets, "webhook", group).result == "sent"
    body = posted(sink, "/hook")
    assert (body["version"], body["truncatedAlerts"], body["status"]) == ("4", 0, "firing")
    assert (body["receiver"], body["groupLabels"]) == ("ops-hook", {"team": "sales-ops"})
    assert body["groupKey"] == '{}:{team="sales-ops"}'
    assert body["commonLabels"] == {"alertname": "SLABreached", "team": "sales-ops",
                                    "severity": "critical"}
    assert body["externalURL"] == "http://localhost:8501"
    firing, resolved = body["alerts"]
    assert (firing["status"], firing["endsAt"]) == ("firing", "0001-01-01T00:00:00Z")
    assert resolved["status"] == "resolved" and RFC3339.fullmatch(resolved["endsAt"])
    assert {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL",
            "fingerprint"} == set(firing)
    assert FINGERPRINT.fullmatch(firing["fingerprint"])
    assert firing["fingerprint"] != resolved["fingerprint"]


def test_the_webhook_fingerprint_depends_on_the_labels_only(targets: dict[str, Any]) -> None:
    target, env, _ = targets["webhook"]
    one = render(target, message(alert()), env, NOW).json_body["alerts"][0]
    reordered = alert(labels=dict(reversed(list(alert().labels.items()))), summary="other",
                      state="resolved")
    two = render(target, message(reordered), env, NOW + MINUTE).json_body["alerts"][0]
    assert one["fingerprint"] == two["fingerprint"]


def test_the_webhook_group_key_quotes_the_team_as_alertmanager_does(
        targets: dict[str, Any]) -> None:
    target, env, _ = targets["webhook"]
    msg = replace(message(), group='ops "core"')
    assert render(target, msg, env, NOW).json_body["groupKey"] == '{}:{team="ops \\"core\\""}'


def test_a_webhook_group_whose_alerts_all_resolved_is_resolved(targets: dict[str, Any]) -> None:
    target, env, _ = targets["webhook"]
    body = render(target, message(alert("a", state="resolved")), env, NOW).json_body
    assert body["status"] == "resolved"


# --- the answers, for every kind, over real HTTP ---

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(sink: Sink, targets: dict[str, Any], kind: str,
                                   status: int) -> None:
    sink.fail(status=status, body="busy")
    outcome = deliver(targets, kind)
    assert (outcome.result, outcome.status, outcome.retry_after_s) == ("retry", status, None)
    assert f"answered {status}" in str(outcome.error)


@pytest.mark.parametrize("kind", KINDS)
def test_429_is_retried_after_the_seconds_it_asks_for(sink: Sink, targets: dict[str, Any],
                                                     kind: str) -> None:
    sink.fail(status=429, retry_after="7")
    outcome = deliver(targets, kind)
    assert (outcome.result, outcome.status, outcome.retry_after_s) == ("retry", 429, 7.0)


def test_429_with_an_http_date_waits_until_that_date(sink: Sink,
                                                     targets: dict[str, Any]) -> None:
    at = datetime.fromtimestamp(NOW / 1e6 + 90, UTC)
    sink.fail(status=429, headers={"Retry-After": format_datetime(at, usegmt=True)})
    assert deliver(targets, "slack").retry_after_s == pytest.approx(90)


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_connection_is_retried_and_goes_through_once_the_peer_is_back(
        sink: Sink, targets: dict[str, Any], kind: str) -> None:
    sink.down()
    refused = deliver(targets, kind)
    assert refused.result == "retry" and refused.status is None
    assert "cannot be reached" in str(refused.error)
    sink.up()
    assert deliver(targets, kind).result == "sent"


@pytest.mark.parametrize("kind", KINDS)
def test_a_peer_that_hangs_past_the_timeout_is_retried(sink: Sink, targets: dict[str, Any],
                                                       kind: str) -> None:
    sink.hang(seconds=5)
    started = time.monotonic()
    outcome = deliver(targets, kind, timeout=0.3)
    assert time.monotonic() - started < 2
    assert outcome.result == "retry" and "did not answer within 0.3s" in str(outcome.error)


def test_a_message_without_alerts_fails_instead_of_raising(targets: dict[str, Any]) -> None:
    target, env, _ = targets["webhook"]
    empty = Message(target="ops-hook", group="sales-ops", alerts=())
    outcome = send(requests.Session(), target, empty, env, NOW)
    assert outcome.result == "failed" and "carries no alert" in str(outcome.error)


def test_the_target_timeout_may_be_a_timedelta(sink: Sink, targets: dict[str, Any]) -> None:
    sink.hang(seconds=5)
    _, env, _ = targets["webhook"]
    target = Target("ops-hook", "webhook", url_env="HOOK_URL", timeout=timedelta(seconds=0.2))
    outcome = send(requests.Session(), target, message(), env, NOW)
    assert outcome.result == "retry" and "within 0.2s" in str(outcome.error)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_fail_without_retry(sink: Sink, targets: dict[str, Any], kind: str,
                                          status: int) -> None:
    sink.fail(status=status, body={"status": "invalid event", "message": "Event object is "
                                   "invalid", "errors": ["'routing_key' is invalid"]})
    outcome = deliver(targets, kind)
    assert (outcome.result, outcome.status) == ("failed", status)
    assert "refused the notification" in str(outcome.error)


def test_pagerdutys_own_words_are_kept_in_the_error(sink: Sink, targets: dict[str, Any]) -> None:
    sink.fail("/v2/enqueue", status=400, body={"status": "invalid event", "message": "Event "
              "object is invalid", "errors": ["Length of 'routing_key' is incorrect"]})
    error = str(deliver(targets, "pagerduty").error)
    assert "Event object is invalid: Length of 'routing_key' is incorrect" in error
    assert "PD_KEY" in error


@pytest.mark.parametrize("kind", KINDS)
def test_a_redirect_is_not_followed_and_fails(sink: Sink, targets: dict[str, Any],
                                              kind: str) -> None:
    sink.fail(status=301, headers={"Location": sink.url_for("/elsewhere")})
    assert deliver(targets, kind).result == "failed"
    assert sink.received("/elsewhere") == []


@pytest.mark.parametrize("kind, variable", [("slack", "SLACK_URL"), ("webhook", "HOOK_URL")])
def test_a_missing_url_variable_fails_with_a_sentence_naming_it(
        sink: Sink, targets: dict[str, Any], kind: str, variable: str) -> None:
    target, env, _ = targets[kind]
    env = {k: v for k, v in env.items() if k != variable}
    outcome = send(requests.Session(), target, message(), env, NOW)
    assert outcome.result == "failed"
    assert f"environment variable {variable} is not set" in str(outcome.error)
    assert sink.received() == []


@pytest.mark.parametrize("url", ["hooks.slack.com/services/x", "ftp://host/x", "http://",
                                 "http://host:port/x", "http://:80/x"])
def test_a_url_that_is_not_http_fails_with_a_sentence(url: str) -> None:
    outcome = send(requests.Session(), Target("s", "slack", url_env="U"), message(),
                   {"U": url}, NOW)
    assert outcome.result == "failed" and "U is not an http(s) URL" in str(outcome.error)
    assert url not in str(outcome.error)  # the value may be a secret


def test_errors_never_show_the_webhook_path_or_the_routing_key(
        sink: Sink, targets: dict[str, Any]) -> None:
    errors = []
    for kind in ["slack", "pagerduty"]:
        sink.fail(status=503)
        errors.append(str(deliver(targets, kind).error))
        sink.fail(status=404, body="no_service")
        errors.append(str(deliver(targets, kind).error))
    sink.down()
    errors += [str(deliver(targets, kind).error) for kind in ["slack", "pagerduty"]]
    assert all("s3cr3t" not in e and KEY not in e for e in errors), errors
    assert all(sink.url in e for e in errors)


# --- the sink itself (tests/fakes/sink.py) ---

def test_the_sink_uses_scripted_answers_in_order_then_the_standing_one(sink: Sink) -> None:
    sink.answer("/a", 202, {"ok": True})
    sink.fail("/a", status=503, times=2)
    sink.fail(None, status=429, retry_after=3)
    got = [requests.post(sink.url_for(p), data=b"{}", timeout=5)
           for p in ["/a", "/b", "/a", "/a", "/b"]]
    assert [r.status_code for r in got] == [503, 429, 503, 202, 200]
    assert got[1].headers["Retry-After"] == "3" and got[3].json() == {"ok": True}
    assert [r.path for r in sink.received("/a")] == ["/a"] * 3


def test_the_sink_wait_for_blocks_until_requests_arrive_and_says_what_came(sink: Sink) -> None:
    threading.Timer(0.2, lambda: requests.post(sink.url_for("/late"), json={"n": 1},
                                               timeout=5)).start()
    (late,) = sink.wait_for("/late", count=1, timeout=5)
    assert late.json == {"n": 1} and late.headers["Content-Type"] == "application/json"
    with pytest.raises(AssertionError, match=r"1 of 2 requests to /late"):
        sink.wait_for("/late", count=2, timeout=0.2)


# --- the wording comes from slas.words ---

@pytest.mark.parametrize("seconds, words", [(0, "0s"), (42, "42s"), (90, "1m 30s"),
                                            (3600, "1h"), (6300, "1h 45m"), (594000, "6d 21h"),
                                            (594059, "6d 21h"), (86_460, "1d")])
def test_durations_are_worded_in_their_two_largest_units(seconds: int, words: str) -> None:
    assert duration_words(seconds) == words


def test_an_overspent_budget_says_none_left() -> None:
    assert budget_words(-0.5) == "none left (overspent by 50%)"


# --- a real Alertmanager ---

def test_a_real_alertmanager_shows_batons_alert_firing_then_resolved(
        alertmanager: Alertmanager) -> None:
    now = int(time.time()) * 1_000_000  # whole seconds: Alertmanager keeps milliseconds
    target = Target("alertmanager", "alertmanager", url=alertmanager.url)
    firing = alert("lead-routing-5m", since_us=now - 10 * MINUTE)
    other = alert("mql-handoff", since_us=now - 5 * MINUTE)
    session = requests.Session()
    assert send(session, target, message(firing, other), {}, now) == Outcome("sent", 200)
    shown = {a["labels"]["sla"]: a for a in alertmanager.alerts()}
    assert set(shown) == {"lead-routing-5m", "mql-handoff"}
    mine = shown["lead-routing-5m"]
    assert mine["status"]["state"] == "active"
    assert mine["labels"] == {"alertname": "SLABreached", "team": "sales-ops",
                              "severity": "critical", "sla": "lead-routing-5m"}
    assert mine["annotations"]["summary"] == firing.summary
    # No endsAt while firing: Alertmanager resolves it after resolve_timeout (5m) unless re-sent.
    ends_in = datetime.fromisoformat(mine["endsAt"]).timestamp() - now / 1e6
    assert 240 < ends_in <= 305
    assert datetime.fromisoformat(mine["startsAt"]).timestamp() == firing.since_us / 1e6
    resolved = replace(firing, state="resolved", ended_us=now - 1_000_000)
    assert send(session, target, message(resolved), {}, now).result == "sent"
    still = alertmanager.alerts(filter=['alertname="SLABreached"'])
    assert [a["labels"]["sla"] for a in still] == ["mql-handoff"]
