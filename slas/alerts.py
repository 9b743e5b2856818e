"""The alert lifecycle: from what fires at T to alert episodes and the notification outbox.

`decide(store, definitions, config, at_us)` runs the rules on the signals at T and, in one
transaction, opens an episode for every alert that starts firing (or `silenced`, when a silence
matches it), resolves the episodes whose alert no longer fires, and writes to the outbox what
must be sent (`slas.dispatch` sends it):

- a trigger to every target of every matching route when an alert starts firing, due after
  `group_wait` (or with the team's batch already waiting for that target);
- a repeat after `renotify` while it keeps firing; an alert that fires again within `renotify`
  of its last trigger (a flapping SLA) is announced again only once `renotify` has passed;
- an escalation trigger to a route's `escalate.to` when a page still fires `after` its start;
- a resolve to every target that was sent (or may have been sent) its trigger; a trigger
  never attempted is withdrawn instead, so nothing is announced at all.

Alert time is evaluation time (T): deciding the same T again writes nothing, and an older T
than already decided is ignored. Delivery times (`due_us`, `give_up_us`) are wall-clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from collectors.schema import format_time
from collectors.store import Store, now_us
from collectors.tables import alerts, notifications
from slas.alerting import DEFAULT_POLICY, AlertsConfig, Policy, Route, routes_for
from slas.definitions import Definitions
from slas.rules import Firing, firing
from slas.signals import gather
from slas.silences import Silence, active_silences
from slas.stalls import StallReport

US = 1_000_000


@dataclass(frozen=True)
class Decision:
    """What one decision changed."""

    at_us: int
    started: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    silenced: list[str] = field(default_factory=list)
    queued: int = 0
    skipped: str | None = None  # why nothing was decided (an older T than already decided)


def decide(store: Store, definitions: Definitions, config: AlertsConfig | None, at_us: int,
           *, now: int | None = None, stalls: Mapping[str, StallReport] | None = None
           ) -> Decision:
    """Decide every alert's state at T from the stored evaluations; queue what changed.
    `stalls`: the stall reports at T, when the caller has found them already."""
    wall = now_us() if now is None else now
    policy_failures = config.policy.failures if config is not None else 3
    signals = gather(store, definitions, at_us, failures=policy_failures, reports=stalls)
    fired = {f.key: f for f in firing(definitions, config, signals)}
    with store.engine.begin() as conn:
        decided = conn.execute(select(func.max(alerts.c.evaluated_us))).scalar()
        if decided is not None and at_us < decided:
            return Decision(at_us, skipped=f"alerts are already decided up to a later "
                                           f"evaluation ({decided})")
        return _Decider(conn, definitions, config, at_us, wall).run(fired)


class _Decider:
    """One decision's transaction."""

    def __init__(self, conn: Connection, definitions: Definitions,
                 config: AlertsConfig | None, at_us: int, wall_us: int) -> None:
        self.conn, self.definitions, self.config = conn, definitions, config
        self.at, self.wall = at_us, wall_us
        self.silences = active_silences(conn, wall_us)
        self.queued = 0

    def run(self, fired: Mapping[str, Firing]) -> Decision:
        active: dict[str, dict[str, Any]] = {row["key"]: dict(row) for row in self.conn.execute(
            select(alerts).where(alerts.c.ended_us.is_(None))).mappings()}
        started: list[str] = []
        silenced: list[str] = []
        for key, alert in fired.items():
            silence = _silence_for(self.silences, alert.labels)
            known = active.get(key)
            if known is None:
                episode = self._open(alert, silence)
                (silenced if silence else started).append(key)
            else:
                episode = self._update(known, alert, silence)
            if silence is None:
                self._announce(episode)
            else:
                self._withdraw(episode["id"])
        resolved = [key for key in active if key not in fired]
        for key in resolved:
            self._resolve(active[key])
        return Decision(self.at, started, resolved, silenced, self.queued)

    # --- episodes ---

    def _open(self, alert: Firing, silence: Silence | None) -> dict[str, Any]:
        values = {"key": alert.key, "alertname": alert.alertname, "team": alert.team,
                  "severity": alert.severity, "sla": alert.sla, "since_us": self.at,
                  "evaluated_us": self.at, "escalated": False, **self._state(alert, silence)}
        key = self.conn.execute(insert(alerts).values(**values)).inserted_primary_key
        assert key is not None
        return {**values, "id": int(key[0]), "ended_us": None}

    def _update(self, episode: Mapping[str, Any], alert: Firing, silence: Silence | None
                ) -> dict[str, Any]:
        values = {"evaluated_us": self.at, **self._state(alert, silence)}
        self.conn.execute(update(alerts).where(alerts.c.id == episode["id"]).values(**values))
        return {**episode, **values}

    def _state(self, alert: Firing, silence: Silence | None) -> dict[str, Any]:
        team = self.definitions.teams.get(alert.team)
        details = {**alert.details, "team_name": team.name if team else alert.team}
        return {"labels": orjson.dumps(dict(alert.labels)).decode(),
                "summary": alert.summary, "details": orjson.dumps(details).decode(),
                "state": "firing" if silence is None else "silenced",
                "silence_id": None if silence is None else silence.id}

    def _resolve(self, episode: Mapping[str, Any]) -> None:
        self.conn.execute(update(alerts).where(alerts.c.id == episode["id"]).values(
            state="resolved", ended_us=self.at, evaluated_us=self.at, silence_id=None))
        told = self._withdraw(episode["id"])
        for target in sorted(told):
            self._queue(episode, target, "resolve", "resolved")

    # --- notifications ---

    def _announce(self, episode: Mapping[str, Any]) -> None:
        """Triggers owed to each target of the episode: the first, a repeat after renotify,
        or an escalation."""
        routes = self._routes(episode)
        targets = {(t, "firing") for route in routes for t in route.to}
        escalations = {(t, "escalation") for route in routes if route.escalate is not None
                       and self.at - episode["since_us"] >= route.escalate.after * US
                       for t in route.escalate.to}
        if escalations and not episode["escalated"]:
            self.conn.execute(update(alerts).where(alerts.c.id == episode["id"])
                              .values(escalated=True))
        renotify = self._policy().renotify * US
        for target, reason in sorted(targets | escalations):
            last = self._last_trigger(episode["key"], target)
            if last is None:
                self._queue(episode, target, "trigger", reason)
            elif self.at - last["at_us"] >= renotify:
                repeat = last["alert_id"] == episode["id"]
                self._queue(episode, target, "trigger", "repeat" if repeat else reason)

    def _withdraw(self, alert_id: int) -> set[str]:
        """Drop the episode's triggers never attempted; the targets that were (or may have
        been) told of it."""
        n = notifications
        self.conn.execute(delete(n).where(n.c.alert_id == alert_id, n.c.action == "trigger",
                                          n.c.state == "pending", n.c.attempts == 0))
        rows = self.conn.execute(select(n.c.target).where(
            n.c.alert_id == alert_id, n.c.action == "trigger",
            (n.c.state == "sent") | (n.c.attempts > 0)).distinct())
        return {row[0] for row in rows}

    def _last_trigger(self, key: str, target: str) -> Mapping[str, Any] | None:
        n = notifications
        row = self.conn.execute(select(n.c.at_us, n.c.alert_id).where(
            n.c.key == key, n.c.target == target, n.c.action == "trigger")
            .order_by(n.c.at_us.desc(), n.c.id.desc()).limit(1)).mappings().first()
        return None if row is None else dict(row)

    def _queue(self, episode: Mapping[str, Any], target: str, action: str, reason: str
               ) -> None:
        policy = self._policy()
        due = self._due(target, episode["team"], self.at + policy.group_wait * US)
        self.conn.execute(insert(notifications).values(
            alert_id=episode["id"], key=episode["key"], target=target, team=episode["team"],
            action=action, reason=reason, state="pending", at_us=self.at,
            created_us=self.wall, due_us=due, give_up_us=self.wall + policy.give_up * US,
            attempts=0))
        self.queued += 1

    def _due(self, target: str, team: str, due: int) -> int:
        """Join the team's batch already waiting for this target, if it leaves sooner."""
        n = notifications
        waiting = self.conn.execute(select(func.min(n.c.due_us)).where(
            n.c.target == target, n.c.team == team, n.c.state == "pending",
            n.c.attempts == 0, n.c.due_us > self.wall)).scalar()
        return min(due, int(waiting)) if waiting is not None else due

    def _routes(self, episode: Mapping[str, Any]) -> list[Route]:
        if self.config is None:
            return []
        return [r for r in routes_for(self.config, orjson.loads(episode["labels"]))
                if all(t in self.config.targets for t in r.to)]

    def _policy(self) -> Policy:
        return self.config.policy if self.config is not None else DEFAULT_POLICY


def _silence_for(silences: Iterable[Silence], labels: Mapping[str, str]) -> Silence | None:
    return next((s for s in silences if s.matches(labels)), None)


def latest_episodes(store: Store, limit: int = 500) -> list[dict[str, Any]]:
    """The newest episode of every alert, each with its notifications: what `baton alerts`
    and the Breaches page show (active first, then newest)."""
    a, n = alerts, notifications
    newest = select(a.c.key, func.max(a.c.since_us).label("since")).group_by(a.c.key).subquery()
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(
            select(a).join(newest, (a.c.key == newest.c.key) & (a.c.since_us == newest.c.since))
            .order_by(a.c.ended_us.is_not(None), a.c.since_us.desc()).limit(limit)).mappings()]
        ids = [row["id"] for row in rows]
        sent = conn.execute(select(n).where(n.c.alert_id.in_(ids)).order_by(n.c.id)
                            ).mappings().all() if ids else []
    by_alert: dict[int, list[dict[str, Any]]] = {}
    for found in sent:
        by_alert.setdefault(found["alert_id"], []).append(dict(found))
    for row in rows:
        row["notifications"] = by_alert.get(row["id"], [])
        row["labels"] = orjson.loads(row["labels"])
        row["details"] = orjson.loads(row["details"] or "{}")
    return rows


def as_json(episode: Mapping[str, Any]) -> dict[str, Any]:
    """One alert in the shape of `baton alerts --json` (DESIGN.md)."""
    labels = episode["labels"]
    return {"key": episode["key"], "alertname": episode["alertname"], "sla": episode["sla"],
            "team": episode["team"], "severity": episode["severity"],
            "state": episode["state"], "since": format_time(episode["since_us"]),
            "ended": None if episode["ended_us"] is None else format_time(episode["ended_us"]),
            "journey": labels.get("journey"), "stage": labels.get("stage"),
            "source": labels.get("source"), "window": labels.get("window"),
            "summary": episode["summary"],
            "notifications": [{"target": n["target"], "action": n["action"],
                               "state": n["state"], "attempts": n["attempts"],
                               "last_error": n["last_error"],
                               "sent_at": None if n["sent_us"] is None
                               else format_time(n["sent_us"])}
                              for n in episode["notifications"]]}
