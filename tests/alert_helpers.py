"""Helpers for the alert tests: a config folder whose alerts.yaml points at a recording sink,
histories that breach or burn, and one call that evaluates and decides and delivers at T."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine_helpers import MIN, T0, ev, load

from collectors.store import Store
from slas.alert_config import load_alerting
from slas.alerting import AlertsConfig
from slas.definitions import Definitions
from slas.dispatch import Cycle, Dispatcher, alert_cycle, dispatcher_lease
from slas.engine import evaluate
from slas.rules import spans_for

SLAS = """
version: baton/v1
teams:
  web: {name: Web}
  ops: {name: Ops}
  sales: {name: Sales Ops}
journeys:
  lead:
    stages:
      - {name: submitted, owner: web, on: [lead.submitted]}
      - {name: routed, owner: ops, on: [lead.routed], stall_after: 5m,
         fails_on: [lead.route.failed]}
      - {name: assigned, owner: sales, on: [lead.assigned], stall_after: 30m}
slas:
  - {name: fast, team: sales, kind: latency, journey: lead, from: submitted, to: assigned,
     threshold: 10m, objective: 90%, window: 1h}
  - {name: routed, team: sales, kind: completeness, journey: lead, from: submitted,
     to: routed, within: 10m, objective: 90%, window: 1h}
  - {name: fresh, team: sales, kind: freshness, type: [lead.submitted], max_age: 30m,
     objective: 90%, window: 1h}
"""

ALERTS = """
version: baton/v1
dashboard_url: http://localhost:8501
targets:
  hook: {{kind: webhook, url: "{url}/hook"}}
  chat: {{kind: slack, url_env: TEST_SLACK_URL}}
  pager: {{kind: pagerduty, routing_key_env: TEST_PD_KEY, url_env: TEST_PD_URL}}
routes:
{routes}
policy:
  group_wait: {group_wait}
  renotify: 4h
  give_up: 1h
  min_events: 10
{policy}
"""

DEFAULT_ROUTES = "  - {to: [hook]}"


def write_config(folder: Path, url: str, routes: str = DEFAULT_ROUTES, policy: str = "",
                 slas: str = SLAS, group_wait: str = "1s") -> Path:
    (folder / "slas").mkdir(parents=True, exist_ok=True)
    (folder / "slas" / "test.yaml").write_text(slas)
    (folder / "alerts.yaml").write_text(ALERTS.format(url=url, routes=routes, policy=policy,
                                                      group_wait=group_wait))
    return folder


def environ(url: str) -> dict[str, str]:
    return {"TEST_SLACK_URL": f"{url}/slack", "TEST_PD_KEY": "e93facc04764012d7bfb002500d5d1a6",
            "TEST_PD_URL": f"{url}/pagerduty"}


def journey(key: str, submitted: float, routed: float | None = None,
            assigned: float | None = None) -> list[dict[str, Any]]:
    out = [ev(key, "lead.submitted", submitted, 0)]
    if routed is not None:
        out.append(ev(key, "lead.routed", routed, 0))
    if assigned is not None:
        out.append(ev(key, "lead.assigned", assigned, 0))
    return out


def healthy(start: float, end: float, every: float = 2.0, prefix: str = "ok"
            ) -> list[dict[str, Any]]:
    """Leads routed in 1 minute and assigned in 3, one every `every` minutes."""
    out: list[dict[str, Any]] = []
    minute = start
    while minute < end:
        out += journey(f"{prefix}{minute:g}", minute, minute + 1, minute + 3)
        minute += every
    return out


def lost(start: float, end: float, every: float = 2.0, prefix: str = "lost"
         ) -> list[dict[str, Any]]:
    """Leads submitted and then never routed nor assigned."""
    out: list[dict[str, Any]] = []
    minute = start
    while minute < end:
        out += journey(f"{prefix}{minute:g}", minute)
        minute += every
    return out


class Alerting:
    """Evaluate and decide and deliver at T, the way `baton serve` does after each tick."""

    def __init__(self, store: Store, folder: Path, env: dict[str, str]) -> None:
        self.store, self.folder, self.env = store, folder, env
        self.reload()

    def reload(self) -> None:
        loaded = load_alerting(self.folder)
        self.definitions: Definitions = loaded[0]
        self.config: AlertsConfig | None = loaded[1]
        self.dispatcher = Dispatcher(self.store, self.config, self.env)

    def load(self, events: list[dict[str, Any]]) -> None:
        load(self.store, events)

    def at(self, minute: float, deliver_for: float = 3.0) -> Cycle:
        at_us = T0 + int(minute * MIN)
        evaluate(self.store, self.definitions, at_us,
                 spans=spans_for(self.definitions, self.config))
        return alert_cycle(self.store, self.definitions, self.config, at_us, self.dispatcher,
                           dispatcher_lease(self.store, self.config), deliver_for)
