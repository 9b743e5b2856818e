"""Delivering the outbox: due notifications grouped into messages, sent to their targets, and
marked sent only after the target's 2xx (the mark commits after the answer, so a crash between
the two re-sends the same dedup key, which PagerDuty and Alertmanager collapse).

Grouping: PagerDuty gets one event per alert; Slack and webhooks one message per team per
cycle; Alertmanager one POST of every due alert. Per (target, alert) only the oldest pending
notification is sent, so a resolve never overtakes its trigger. Retries: connection errors,
timeouts, 5xx and 429 back off exponentially with jitter (or as `Retry-After` says); other
4xx fail at once; a notification still undelivered at `give_up_us` is marked failed. Requests
to one target run `concurrency` at a time within its rate limit.

`Lease` makes one process at a time the dispatcher (a row in the store), so two `baton serve`
for high availability never send twice; the other takes over when the lease expires.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from collectors.store import Store, now_us
from collectors.tables import alerts, leases, notifications
from slas.alerting import AlertsConfig
from slas.alerts import Decision, decide
from slas.definitions import Definitions
from slas.delivery import RateLimiter, backoff
from slas.notices import AlertView, Message, Outcome
from slas.targets import Target, send

US = 1_000_000
ALERTMANAGER_REFRESH_S = 60.0  # Alertmanager resolves an alert not re-sent within 5 minutes


@dataclass
class Report:
    """What one delivery run did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)


class Lease:
    """A named lease in the store, held by one process until it expires unless renewed."""

    def __init__(self, store: Store, name: str, ttl_s: float, holder: str | None = None
                 ) -> None:
        self.store, self.name, self.ttl_us = store, name, int(ttl_s * US)
        self.holder = holder or f"{os.uname().nodename}:{os.getpid()}"  # one per process

    def acquire(self) -> bool:
        """Take or renew the lease; False while another holder's lease runs (a holder on this
        machine that is no longer running holds nothing: a killed process's lease is free)."""
        now = now_us()
        expires = now + self.ttl_us
        with self.store.engine.begin() as conn:
            holder = conn.execute(select(leases.c.holder).where(
                leases.c.name == self.name)).scalar()
            free = [leases.c.holder == self.holder, leases.c.expires_us < now]
            if holder is not None and _gone(holder):
                free.append(leases.c.holder == holder)
            taken = conn.execute(update(leases).where(leases.c.name == self.name, or_(*free))
                                 .values(holder=self.holder, expires_us=expires)).rowcount
            if taken:
                return True
            if holder is not None:
                return False
        try:
            with self.store.engine.begin() as conn:
                conn.execute(insert(leases).values(name=self.name, holder=self.holder,
                                                   expires_us=expires))
        except IntegrityError:  # another process inserted it first
            return False
        return True

    def release(self) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(update(leases).where(leases.c.name == self.name,
                                              leases.c.holder == self.holder)
                         .values(expires_us=0))


def _gone(holder: str) -> bool:
    """Whether a lease holder `host:pid` is a process of this machine that no longer runs."""
    host, _, pid = holder.rpartition(":")
    if host != os.uname().nodename or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class _Due:
    row: Mapping[str, Any]
    view: AlertView


class Dispatcher:
    """Sends due notifications of the outbox to the targets of `config`."""

    def __init__(self, store: Store, config: AlertsConfig | None,
                 environ: Mapping[str, str] | None = None,
                 session: Callable[[int], requests.Session] | None = None,
                 rng: random.Random | None = None, workers: int = 32) -> None:
        self.store, self.config, self.workers = store, config, workers
        self.environ = os.environ if environ is None else environ
        self.rng = rng or random.Random()
        self._session_factory = session or _session
        self._sessions: dict[str, requests.Session] = {}
        self._limiters: dict[str, RateLimiter] = {}
        self._refreshed: dict[str, float] = {}
        self._lock = threading.Lock()

    def deliver(self, deliver_for_s: float = 10.0, *, stop: threading.Event | None = None,
                lease: Lease | None = None) -> Report:
        """Send what is due, retrying until `deliver_for_s` has passed (or `stop` is set, or
        `lease` is lost); what is still undelivered stays queued."""
        report = Report()
        deadline = time.monotonic() + deliver_for_s
        while lease is None or lease.acquire():
            batch = self._due()
            if batch:
                self._send_all(batch, report)
                continue
            wait = self._next_due_s()
            left = deadline - time.monotonic()
            if wait is None or wait > left or (stop is not None and stop.is_set()):
                break
            if stop is not None:
                stop.wait(max(wait, 0.05))
            else:
                time.sleep(max(wait, 0.05))
        self.refresh_alertmanagers()
        report.pending = self._pending_count()
        return report

    # --- reading the outbox ---

    def _due(self) -> list[_Due]:
        n = notifications
        now = now_us()
        with self.store.engine.connect() as conn:
            rows = [dict(row) for row in conn.execute(select(n).where(n.c.state == "pending")
                                                      .order_by(n.c.id)).mappings()]
            ids = {row["alert_id"] for row in rows}
            episodes = {row["id"]: dict(row) for row in conn.execute(
                select(alerts).where(alerts.c.id.in_(ids))).mappings()} if ids else {}
        first: dict[tuple[str, str], Mapping[str, Any]] = {}
        for row in rows:
            first.setdefault((row["target"], row["key"]), row)
        return [_Due(row, _view(episodes[row["alert_id"]], row, self._dashboard()))
                for row in first.values() if row["due_us"] <= now and
                row["alert_id"] in episodes]

    def _next_due_s(self) -> float | None:
        n = notifications
        with self.store.engine.connect() as conn:
            due = conn.execute(select(n.c.due_us).where(n.c.state == "pending")
                               .order_by(n.c.due_us).limit(1)).scalar()
        return None if due is None else max(0.0, (due - now_us()) / US)

    def _pending_count(self) -> int:
        n = notifications
        with self.store.engine.connect() as conn:
            return len(conn.execute(select(n.c.id).where(n.c.state == "pending")).all())

    # --- sending ---

    def _send_all(self, batch: list[_Due], report: Report) -> None:
        messages = self._messages(batch)
        workers = sum(self._concurrency(target) for target in {m.target for m, _ in messages})
        with ThreadPoolExecutor(max_workers=max(1, min(workers, self.workers))) as pool:
            semaphores = {t: threading.Semaphore(self._concurrency(t))
                          for t in {m.target for m, _ in messages}}
            futures = [pool.submit(self._send_one, message, rows, semaphores[message.target])
                       for message, rows in messages]
            for future in futures:
                outcome, rows = future.result()
                self._record(outcome, rows, report)

    def _messages(self, batch: list[_Due]) -> list[tuple[Message, list[Mapping[str, Any]]]]:
        groups: dict[tuple[str, str], list[_Due]] = {}
        for due in batch:
            target = due.row["target"]
            kind = self._kind(target)
            if kind == "pagerduty" or kind is None:
                group = f"#{due.row['id']}"
            elif kind == "alertmanager":
                group = ""
            else:
                group = due.row["team"]
            groups.setdefault((target, group), []).append(due)
        return [(Message(target, dues[0].row["team"], tuple(d.view for d in dues),
                         tuple(int(d.row["id"]) for d in dues)), [d.row for d in dues])
                for (target, _group), dues in groups.items()]

    def _send_one(self, message: Message, rows: list[Mapping[str, Any]],
                  semaphore: threading.Semaphore) -> tuple[Outcome, list[Mapping[str, Any]]]:
        target = self._target(message.target)
        if target is None:
            return Outcome.failed(f"target {message.target!r} is no longer in alerts.yaml; "
                                  "the notification cannot be sent"), rows
        with semaphore:
            limiter = self._limiter(message.target)
            if not limiter.acquire(timeout=60.0):
                return Outcome.retry(f"target {message.target!r}: rate limit; will retry"), rows
            outcome = send(self._session(message.target), target, message, self.environ,
                           now_us())
        return outcome, rows

    def _record(self, outcome: Outcome, rows: list[Mapping[str, Any]], report: Report) -> None:
        n = notifications
        now = now_us()
        ids = [int(row["id"]) for row in rows]
        with self.store.engine.begin() as conn:
            if outcome.result == "sent":
                conn.execute(update(n).where(n.c.id.in_(ids)).values(
                    state="sent", sent_us=now, attempts=n.c.attempts + 1, last_error=None))
                report.sent += len(ids)
                return
            for row in rows:
                attempts = int(row["attempts"]) + 1
                wait = max(backoff(attempts, rng=self.rng), outcome.retry_after_s or 0.0)
                give_up = outcome.result == "failed" or now + wait * US > row["give_up_us"]
                error = outcome.error if outcome.result == "failed" or not give_up else (
                    f"{outcome.error}; gave up after {attempts} attempt(s)")
                conn.execute(update(n).where(n.c.id == row["id"]).values(
                    state="failed" if give_up else "pending", attempts=attempts,
                    last_error=error, due_us=row["due_us"] if give_up else now + int(wait * US)))
                if give_up:
                    report.failed += 1
                else:
                    report.retried += 1
        if outcome.error:
            report.errors.append(outcome.error)

    # --- Alertmanager: firing alerts are re-sent, or it resolves them after 5 minutes ---

    def refresh_alertmanagers(self, force: bool = False) -> None:
        """Re-post the firing alerts already sent to each Alertmanager target (at most once a
        minute per target); failures wait for the next refresh."""
        if self.config is None:
            return
        for name, target in self.config.targets.items():
            if target.kind != "alertmanager":
                continue
            last = self._refreshed.get(name)
            if not force and last is not None and time.monotonic() - last < ALERTMANAGER_REFRESH_S:
                continue
            self._refreshed[name] = time.monotonic()
            views = self._firing_sent_to(name)
            if views:
                send(self._session(name), self._target(name),  # type: ignore[arg-type]
                     Message(name, "", tuple(views)), self.environ, now_us())

    def _firing_sent_to(self, target: str) -> list[AlertView]:
        n, a = notifications, alerts
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(a).distinct().join(n, and_(
                n.c.alert_id == a.c.id, n.c.target == target, n.c.action == "trigger",
                n.c.state == "sent")).where(a.c.state == "firing")).mappings().all()
        return [_view(dict(row), {"action": "trigger"}, self._dashboard()) for row in rows]

    # --- targets ---

    def _target(self, name: str) -> Target | None:
        if self.config is None or name not in self.config.targets:
            return None
        t = self.config.targets[name]
        return Target(name=name, kind=t.kind, url=getattr(t, "url", None), url_env=t.url_env,
                      routing_key_env=getattr(t, "routing_key_env", None), timeout=t.timeout)

    def _kind(self, name: str) -> str | None:
        target = self._target(name)
        return None if target is None else target.kind

    def _concurrency(self, name: str) -> int:
        if self.config is None or name not in self.config.targets:
            return 1
        return self.config.targets[name].concurrency

    def _limiter(self, name: str) -> RateLimiter:
        with self._lock:
            if name not in self._limiters:
                rate = None
                if self.config is not None and name in self.config.targets:
                    configured = self.config.targets[name].rate
                    rate = None if configured is None else str(configured)
                self._limiters[name] = RateLimiter.for_target(self._kind(name) or "", rate)
            return self._limiters[name]

    def _session(self, name: str) -> requests.Session:
        with self._lock:
            if name not in self._sessions:
                self._sessions[name] = self._session_factory(self._concurrency(name))
            return self._sessions[name]

    def _dashboard(self) -> str | None:
        return None if self.config is None or self.config.dashboard_url is None else str(
            self.config.dashboard_url)

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()


def _session(pool: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(pool, 1), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _view(episode: Mapping[str, Any], row: Mapping[str, Any], dashboard: str | None
          ) -> AlertView:
    """The alert as this notification announces it: firing for a trigger, else resolved."""
    details = orjson.loads(episode["details"] or "{}")
    team_name = details.pop("team_name", episode["team"])
    resolving = row["action"] == "resolve"
    url = f"{dashboard.rstrip('/')}/breaches" if dashboard else None
    return AlertView(
        key=episode["key"], alertname=episode["alertname"],
        labels=orjson.loads(episode["labels"]), state="resolved" if resolving else "firing",
        since_us=int(episode["since_us"]),
        ended_us=episode["ended_us"] if resolving else None, severity=episode["severity"],
        team=episode["team"], team_name=team_name, summary=episode["summary"],
        details=details, url=url)


@dataclass(frozen=True)
class Cycle:
    """One alerting cycle: the decision at T and the delivery after it (None: another
    process holds the dispatcher lease)."""

    decision: Decision | None
    report: Report | None


def alert_cycle(store: Store, definitions: Definitions, config: AlertsConfig | None,
                at_us: int, dispatcher: Dispatcher, lease: Lease, deliver_for_s: float
                ) -> Cycle:
    """Decide every alert at T and deliver what is due, if this process holds the lease."""
    if not lease.acquire():
        return Cycle(None, None)
    decision = decide(store, definitions, config, at_us)
    return Cycle(decision, dispatcher.deliver(deliver_for_s, lease=lease))


LEASE_NAME = "alerts"


def dispatcher_lease(store: Store, config: AlertsConfig | None) -> Lease:
    """The alerting lease: long enough to outlast the slowest target's timeout."""
    slowest = max((t.timeout for t in config.targets.values()), default=10) if config else 10
    return Lease(store, LEASE_NAME, ttl_s=20 + 2 * slowest)
