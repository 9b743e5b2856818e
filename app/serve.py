"""`baton serve`: the scheduler. Collectors pull continuously (one thread per source) and the
engine evaluates every SLA every minute (APScheduler), keeping the derived tables current.

Definitions are reloaded at every evaluation, so a change saved in the editor applies at the
next tick; if the files became invalid, the errors are printed and the last valid definitions
are used. `--only collectors` / `--only evaluator` split the work across processes (several
collector processes may share a broker consumer group; run one evaluator). `--http` adds the
HTTP face (app/web.py); the process itself is wired and stopped by app/service.py.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import DBAPIError

from app import logs
from app.settings import Settings, load_settings
from app.sla_commands import duration_option
from collectors.errors import CollectorError
from collectors.retention import JourneyShape, Pruned, prune
from collectors.schema import format_time
from collectors.statistics import refresh_statistics
from collectors.store import Store, now_us
from slas.alert_config import load_alerting
from slas.alerts import decide
from slas.dispatch import Dispatcher, Lease, dispatcher_lease
from slas.engine import Evaluation, evaluate
from slas.errors import DefinitionError, SlaError
from slas.population import live_keys
from slas.rules import spans_for
from slas.runs import Run, record_run
from slas.stalls import StallReport, find_stalls

FAILURES = (SlaError, CollectorError, DBAPIError, OSError)  # e.g. the store is down
RETENTION_EVERY_S = 3600


def add_serve(commands: Any) -> None:
    p = commands.add_parser("serve", help="run collectors and evaluate every minute",
                            description="The scheduler: collectors, evaluation every minute, "
                            "alert delivery, retention; SIGTERM or Ctrl-C stops it cleanly.")
    p.add_argument("--only", choices=("collectors", "evaluator"),
                   help="run only the collectors or only the evaluator")
    p.add_argument("--every", default="1m", help="evaluation interval (default 1m)")
    p.add_argument("--http", metavar="HOST:PORT",
                   help="serve /healthz, /metrics (and the receiver's routes when push "
                   "sources are configured) on this address, e.g. 127.0.0.1:9464")
    p.add_argument("--log-format", choices=logs.FORMATS, default="text",
                   help="text (default) or json: one object per line")
    p.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from app.service import Service

    logs.configure(args.log_format)
    try:
        every = duration_option("--every", args.every, "30s or 1m")
        service = Service.from_args(args, every)
    except (CollectorError, SlaError) as exc:  # in the chosen format, like every other line
        logs.error("serve.failed", str(exc))
        return 1
    return service.run()


class Evaluator:
    """Evaluates at each tick with the newest valid definitions and alerts.yaml, then decides
    the alerts (when this process holds the alerting lease). `lock` is held for a whole tick:
    retention batches wait for it, and stopping waits for the tick in progress."""

    def __init__(self, store: Store, config: str, interval_s: float = 60.0) -> None:
        self.store, self.config, self.interval_s = store, config, interval_s
        # invalid at start: exit 1
        self.definitions, self.alerting = load_alerting(config)
        self.settings = self._settings()
        self.dispatcher = Dispatcher(store, self.alerting)
        self.lease = dispatcher_lease(store, self.alerting)
        self.retention_lease = Lease(store, "retention", ttl_s=RETENTION_EVERY_S)
        self.lock = threading.Lock()

    def tick(self) -> None:
        """One evaluation; whatever fails is one line in the log, and the next tick runs."""
        with self.lock:
            started, wall = time.monotonic(), now_us()
            self._reload()
            try:
                evaluation, stalls = self._evaluate()
                duration = time.monotonic() - started
                record_run(self.store, self.definitions, Run(
                    evaluation.at_us, wall, duration, len(evaluation.results)), stalls)
            except Exception as exc:  # noqa: BLE001 - the service outlives any one evaluation
                logs.error("evaluation.failed", f"evaluation failed: {_first_line(exc)}; "
                           "retrying at the next tick", error=_first_line(exc))
                return
            self._report(evaluation, duration)
            self.alerts(evaluation.at_us, stalls)
            self._statistics()  # for the next tick's refresh of the tables this one grew

    def _statistics(self) -> None:
        """Keep PostgreSQL's planner statistics current as the store grows (where
        autovacuum is off or behind); a failure is a warning, the evaluation goes on."""
        try:
            analyzed = refresh_statistics(self.store)
        except FAILURES as exc:
            logs.warning("store.analyze_failed", f"could not refresh planner statistics: "
                         f"{_first_line(exc)}", error=_first_line(exc))
            return
        if analyzed:
            logs.info("store.analyzed", f"refreshed planner statistics of "
                      f"{', '.join(analyzed)}", tables=analyzed)

    def _reload(self) -> None:
        """The newest definitions, or the last valid ones (with one line saying why)."""
        try:
            self.definitions, self.alerting = load_alerting(self.config)
            self.dispatcher.config = self.alerting
        except DefinitionError as exc:
            first, count = exc.errors[0], len(exc.errors)
        except Exception as exc:  # noqa: BLE001 - a file no check foresaw: keep evaluating
            first, count = _first_line(exc), 1
        else:
            return
        logs.warning("definitions.invalid", f"the definitions in {self.config} are invalid; "
                     f"evaluating with the last valid definitions. First error: {first}",
                     errors=count)

    def _evaluate(self) -> tuple[Evaluation, dict[str, StallReport]]:
        evaluation = evaluate(self.store, self.definitions, now_us(),
                              spans=spans_for(self.definitions, self.alerting))
        stalls = {name: find_stalls(self.store, self.definitions, name, evaluation.at_us,
                                    refresh=False) for name in self.definitions.journeys}
        return evaluation, stalls

    def _report(self, evaluation: Evaluation, duration: float) -> None:
        statuses = [r.status for r in evaluation.results]
        counts = {s: statuses.count(s) for s in sorted(set(statuses))}
        summary = ", ".join(f"{n} {s}" for s, n in counts.items())
        logs.info("evaluated", f"{format_time(evaluation.at_us)} evaluated {len(statuses)} "
                  f"SLAs: {summary}", at=format_time(evaluation.at_us), slas=len(statuses),
                  counts=counts, duration_s=round(duration, 3))
        if duration > self.interval_s:
            logs.warning("evaluation.slow", f"the evaluation took {duration:.1f}s, longer "
                         f"than the {self.interval_s:g}s interval; the next one starts when "
                         "it is done (runs are never stacked)", duration_s=round(duration, 3),
                         interval_s=self.interval_s)

    def alerts(self, at_us: int, stalls: Mapping[str, StallReport] | None = None) -> None:
        """Decide the alerts at T (delivery is the dispatcher thread's)."""
        try:
            if not self.lease.acquire():
                return
            decision = decide(self.store, self.definitions, self.alerting, at_us,
                              stalls=stalls)
        except FAILURES as exc:
            logs.error("alerts.failed", f"alert decision failed: {_first_line(exc)}; "
                       "retrying at the next tick", error=_first_line(exc))
            return
        if decision.started or decision.resolved or decision.silenced:
            logs.info("alerts.decided", f"alerts: {len(decision.started)} started firing, "
                      f"{len(decision.resolved)} resolved, {len(decision.silenced)} "
                      f"silenced; {decision.queued} notification(s) queued",
                      started=len(decision.started), resolved=len(decision.resolved),
                      silenced=len(decision.silenced), queued=decision.queued)

    def deliver_forever(self, stop: threading.Event) -> None:
        """Deliver due notifications every second while this process holds the lease."""
        while not stop.is_set():
            try:
                if self.lease.acquire():
                    report = self.dispatcher.deliver(0, stop=stop)
                    for error in dict.fromkeys(report.errors):
                        logs.warning("delivery.error", error)
            except FAILURES as exc:
                logs.error("delivery.failed", f"alert delivery failed: {_first_line(exc)}; "
                           "retrying", error=_first_line(exc))
            stop.wait(1.0)

    def prune(self, stop: threading.Event) -> Pruned | None:
        """Delete what is older than config/baton.yaml's retention (one process at a time),
        a batch at a time between evaluations."""
        self.settings = self._settings()
        try:
            if not self.retention_lease.acquire():
                return None
            pruned = prune(self.store, self.settings.retention.cutoffs(now_us()),
                           self.journey_shapes(), lock=lambda: self.lock, stop=stop,
                           pause_s=0.005)
            self.retention_lease.release()
        except FAILURES as exc:
            logs.error("retention.failed", f"retention failed: {_first_line(exc)}; retrying "
                       "at the next run", error=_first_line(exc))
            return None
        if pruned.total:
            rows = ", ".join(f"{n} {table}" for table, n in sorted(pruned.rows.items()))
            logs.info("retention.pruned", f"retention: deleted {rows} in {pruned.batches} "
                      f"batches, {pruned.seconds:.1f}s", counts=pruned.rows,
                      batches=pruned.batches, duration_s=round(pruned.seconds, 3))
        return pruned

    def journey_shapes(self) -> dict[str, JourneyShape]:
        """Each journey's stages and the keys of the SLA populations drawn from it."""
        populations = live_keys(self.definitions)
        return {name: JourneyShape(tuple(s.name for s in journey.stages),
                                   tuple(key for key, slas in populations.items()
                                         if slas[0].journey == name))
                for name, journey in self.definitions.journeys.items()}

    def _settings(self) -> Settings:
        """config/baton.yaml checked against the definitions; the last valid one if broken."""
        try:
            return load_settings(self.config, self.definitions, self.alerting)
        except DefinitionError as exc:
            if not hasattr(self, "settings"):
                raise
            logs.warning("settings.invalid", f"{len(exc.errors)} error(s) in baton.yaml; "
                         f"keeping the last valid settings. First: {exc.errors[0]}",
                         errors=len(exc.errors))
            return self.settings


def _first_line(exc: BaseException) -> str:
    """The first line of an error's message, with its type when it is not one of ours."""
    text = str(exc).strip()
    if isinstance(exc, FAILURES) and text:
        return text.splitlines()[0]
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else repr(exc)
