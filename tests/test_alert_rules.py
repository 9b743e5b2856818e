"""Burn-rate alerts on crafted histories (real events, real evaluations), the low-traffic guard,
`slow` inhibited by `fast`, per-SLA overrides, and a real Alertmanager receiving Baton's
alerts — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alert_helpers import Alerting, environ, journey, write_config

SLAS = """
version: baton/v1
teams:
  sales: {name: Sales Ops}
  web: {name: Web}
journeys:
  lead:
    stages:
      - {name: submitted, owner: web, on: [lead.submitted]}
      - {name: assigned, owner: sales, on: [lead.assigned], stall_after: 1d}
slas:
  - {name: routing, team: sales, kind: latency, journey: lead, from: submitted, to: assigned,
     threshold: 10m, objective: 99%, window: 1d}
  - {name: quiet, team: sales, kind: latency, journey: lead, from: submitted, to: assigned,
     threshold: 10m, objective: 99%, window: 1d, where: {quiet: true}}
"""

POLICY = """\
  rules: [ErrorBudgetBurn]
  burn:
    fast: [{long: 1h, short: 5m, factor: 14.4}]
    slow: [{long: 2h, short: 10m, factor: 1}]
"""


def traffic(start: float, end: float, per_minute: int, *, assigned_after: float | None,
            prefix: str, quiet: bool = False) -> list[dict]:
    """`per_minute` leads a minute; assigned `assigned_after` minutes later (None: never)."""
    out = []
    for m in range(int(start), int(end)):
        for i in range(per_minute):
            key = f"{prefix}-{m}-{i}"
            at = m + i / per_minute
            events = journey(key, at, None, None if assigned_after is None
                             else at + assigned_after)
            if quiet:
                events[0] = {**events[0], "data": {"quiet": True}}
            out += events
    return out


@pytest.fixture
def burning(store, sink, tmp_path):
    folder = write_config(tmp_path / "config", sink.url, policy=POLICY, slas=SLAS)
    return Alerting(store, folder, environ(sink.url))


def firing_keys(alerting: Alerting) -> list[str]:
    from slas.alerts import latest_episodes

    return sorted(e["key"] for e in latest_episodes(alerting.store) if e["state"] == "firing")


def test_a_fast_burn_pages_within_minutes_of_an_outage_long_before_the_sla_breaks(burning):
    # three leads a minute for a day, all routed in 2 minutes; then none from minute 1440 on
    burning.load(traffic(0, 1440, 3, assigned_after=2, prefix="ok")
                 + traffic(1440, 1475, 3, assigned_after=None, prefix="lost"))
    before = burning.at(1445)  # deadlines of the lost leads not yet passed
    assert before.decision.started == []
    early = burning.at(1452)  # 2 minutes after the first deadline: the 5m span is all bad
    assert early.decision.started == []  # ...but the 1h burn is only about 3
    paged = burning.at(1462)  # 12 minutes after the first deadline
    assert paged.decision.started == ["baton/ErrorBudgetBurn/routing/fast"]
    assert firing_keys(burning) == ["baton/ErrorBudgetBurn/routing/fast"]  # slow: inhibited
    result = burning.definitions.sla("routing")
    from slas.signals import gather

    signals = gather(burning.store, burning.definitions, paged.decision.at_us, failures=3)
    assert signals.results[result.name].status != "breached"  # the daily SLA still holds


def test_a_sustained_small_burn_warns_slow_and_a_sharp_one_pages_fast_inhibiting_slow(
        burning):
    one_in_twenty = [e for e in traffic(1440, 1560, 3, assigned_after=2, prefix="leak")
                     if not (e["type"] == "lead.assigned" and hash(e["id"]) % 20 == 0)]
    burning.load(traffic(0, 1440, 3, assigned_after=2, prefix="ok") + one_in_twenty
                 + traffic(1560, 1580, 3, assigned_after=None, prefix="lost")
                 + traffic(1580, 1800, 3, assigned_after=2, prefix="back"))
    burning.at(1565)  # 5% of leads lost for two hours: a burn rate of about 5
    assert firing_keys(burning) == ["baton/ErrorBudgetBurn/routing/slow"]
    burning.at(1592)  # every lead lost for 20 minutes
    assert firing_keys(burning) == ["baton/ErrorBudgetBurn/routing/fast"]
    burning.at(1700)  # recovered: both short windows are clean
    assert firing_keys(burning) == []


def test_a_low_traffic_sla_with_one_bad_journey_pages_nobody(burning):
    """A lead every 30 minutes, all routed in 2; one at 282 never is. At 295 its deadline
    has passed: the 5m span is 100% bad (a burn rate of 100x) over one outcome."""
    quiet = [e for m in range(0, 300, 30) for e in journey(f"q{m}", m, None, m + 2)]
    burning.load([{**e, "data": {"quiet": True}} if e["type"] == "lead.submitted" else e
                  for e in quiet + journey("q-late", 282)])
    cycle = burning.at(295)
    assert cycle.decision.started == []
    from slas.signals import gather

    result = gather(burning.store, burning.definitions, cycle.decision.at_us,
                    failures=3).results["quiet"]
    assert result.spans["5m"] == (0, 1) and sum(result.spans["1h"]) < 10


def test_an_sla_can_turn_its_alerts_off_or_change_min_events(store, sink, tmp_path):
    slas = SLAS.replace("window: 1d, where: {quiet: true}}",
                        "window: 1d, where: {quiet: true}, alerts: {min_events: 1}}")
    slas = slas.replace("objective: 99%, window: 1d}\n  - {name: quiet",
                        "objective: 99%, window: 1d, alerts: off}\n  - {name: quiet")
    folder = write_config(tmp_path / "config", sink.url, policy=POLICY, slas=slas)
    alerting = Alerting(store, folder, environ(sink.url))
    alerting.load(traffic(0, 120, 3, assigned_after=None, prefix="lost")
                  + [{**e, "data": {"quiet": True}} if e["type"] == "lead.submitted" else e
                     for e in journey("q-late", 102)])
    cycle = alerting.at(115)
    assert cycle.decision.started == ["baton/ErrorBudgetBurn/quiet/fast"]


def test_a_real_alertmanager_shows_the_alert_firing_then_resolved(store, sink, tmp_path,
                                                                   alertmanager):
    routes = "  - {to: [am]}"
    folder = write_config(tmp_path / "config", sink.url, routes=routes,
                          policy="  rules: [SLABreached]")
    text = (folder / "alerts.yaml").read_text().replace(
        "targets:\n", f"targets:\n  am: {{kind: alertmanager, url: \"{alertmanager.url}\"}}\n")
    (folder / "alerts.yaml").write_text(text)
    from alert_helpers import healthy, lost

    alerting = Alerting(store, folder, environ(sink.url))
    alerting.load(healthy(0, 30) + lost(30, 60))
    alerting.at(60)
    active = {a["labels"]["sla"]: a for a in alertmanager.alerts()}
    assert set(active) == {"fast", "routed"}
    assert active["fast"]["labels"]["alertname"] == "SLABreached"
    assert active["fast"]["labels"]["team"] == "sales"
    assert active["fast"]["status"]["state"] == "active"
    alerting.load(healthy(60, 121, prefix="later"))
    alerting.at(121)
    assert alertmanager.alerts() == []
