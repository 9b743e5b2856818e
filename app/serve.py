"""`baton serve`: the scheduler. Collectors pull continuously (one thread per source) and the
engine evaluates every SLA every minute (APScheduler), keeping the derived tables current.

Definitions are reloaded at every evaluation, so a change saved in the editor applies at the
next tick; if the files became invalid, the errors are printed and the last valid definitions
are used. `--only collectors` / `--only evaluator` split the work across processes (several
collector processes may share a broker consumer group; run one evaluator).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import DBAPIError

from app.sla_commands import duration_option
from collectors.errors import CollectorError
from collectors.schema import format_time
from collectors.store import Store, now_us
from slas.alert_config import load_alerting
from slas.alerts import decide
from slas.dispatch import Dispatcher, dispatcher_lease
from slas.engine import evaluate
from slas.errors import DefinitionError, SlaError
from slas.rules import spans_for


def add_serve(commands: Any) -> None:
    p = commands.add_parser("serve", help="run collectors and evaluate every minute",
                            description="The scheduler: collectors, evaluation every minute.")
    p.add_argument("--only", choices=("collectors", "evaluator"),
                   help="run only the collectors or only the evaluator")
    p.add_argument("--every", default="1m", help="evaluation interval (default 1m)")
    p.set_defaults(run=run_serve)


class Evaluator:
    """Evaluates at each tick with the newest valid definitions and alerts.yaml, then decides
    the alerts (when this process holds the alerting lease)."""

    def __init__(self, store: Store, config: str) -> None:
        self.store, self.config = store, config
        # invalid at start: exit 1
        self.definitions, self.alerting = load_alerting(config)
        self.dispatcher = Dispatcher(store, self.alerting)
        self.lease = dispatcher_lease(store, self.alerting)

    def tick(self) -> None:
        """One evaluation; whatever fails is one line in the log, and the next tick runs."""
        self._reload()
        try:
            evaluation = evaluate(self.store, self.definitions, now_us(),
                                  spans=spans_for(self.definitions, self.alerting))
        except Exception as exc:  # noqa: BLE001 - the service outlives any one evaluation
            print(f"baton: evaluation failed: {_first_line(exc)}; retrying at the next tick",
                  file=sys.stderr, flush=True)
            return
        statuses = [r.status for r in evaluation.results]
        summary = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
        print(f"{format_time(evaluation.at_us)} evaluated {len(statuses)} SLAs: {summary}",
              flush=True)
        self.alerts(evaluation.at_us)

    def _reload(self) -> None:
        """The newest definitions, or the last valid ones (with one line saying why)."""
        try:
            self.definitions, self.alerting = load_alerting(self.config)
            self.dispatcher.config = self.alerting
        except DefinitionError as exc:
            first = exc.errors[0]
        except Exception as exc:  # noqa: BLE001 - a file no check foresaw: keep evaluating
            first = _first_line(exc)
        else:
            return
        print(f"baton: the definitions in {self.config} are invalid; evaluating with the last "
              f"valid definitions. First error: {first}", file=sys.stderr, flush=True)

    def alerts(self, at_us: int) -> None:
        """Decide the alerts at T (delivery is the dispatcher thread's)."""
        try:
            if not self.lease.acquire():
                return
            decision = decide(self.store, self.definitions, self.alerting, at_us)
        except (SlaError, CollectorError, DBAPIError, OSError) as exc:
            print(f"baton: alert decision failed: {_first_line(exc)}; retrying at the next "
                  "tick", file=sys.stderr, flush=True)
            return
        if decision.started or decision.resolved or decision.silenced:
            print(f"alerts: {len(decision.started)} started firing, {len(decision.resolved)} "
                  f"resolved, {len(decision.silenced)} silenced; {decision.queued} "
                  "notification(s) queued", flush=True)

    def deliver_forever(self, stop: threading.Event) -> None:
        """Deliver due notifications every second while this process holds the lease."""
        while not stop.is_set():
            try:
                if self.lease.acquire():
                    report = self.dispatcher.deliver(0, stop=stop)
                    for error in dict.fromkeys(report.errors):
                        print(f"baton: {error}", file=sys.stderr, flush=True)
            except (SlaError, CollectorError, DBAPIError, OSError) as exc:
                print(f"baton: alert delivery failed: {_first_line(exc)}; retrying",
                      file=sys.stderr, flush=True)
            stop.wait(1.0)


def _first_line(exc: BaseException) -> str:
    """The first line of an error's message, with its type when it is not one of ours."""
    text = str(exc).strip()
    if isinstance(exc, (SlaError, CollectorError, DBAPIError, OSError)) and text:
        return text.splitlines()[0]
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else repr(exc)


def run_serve(args: argparse.Namespace) -> int:
    store = Store.open(args.store)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads, collectors = ([], {}) if args.only == "evaluator" else _collectors(args, store,
                                                                                 stop)
    scheduler = None
    if args.only != "collectors":
        every = duration_option("--every", args.every, "30s or 1m")
        evaluator = Evaluator(store, args.config)
        scheduler = _scheduler(evaluator, every)
        scheduler.start()
        dispatcher = threading.Thread(target=evaluator.deliver_forever, args=(stop,),
                                      name="alerts-dispatch", daemon=True)
        dispatcher.start()
        threads = [*threads, dispatcher]
    if not threads and scheduler is None:
        print("baton: nothing to run: no pulling sources in config/sources.yaml",
              file=sys.stderr)
        return 1
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        stop.set()
    if scheduler is not None:
        scheduler.shutdown(wait=True)
        evaluator.lease.release()  # the other `baton serve`, if any, takes over at once
        evaluator.dispatcher.close()
    for thread in threads:
        thread.join(timeout=10)
    for collector in collectors.values():
        collector.close()
    return 0


def _scheduler(evaluator: Evaluator, seconds: int) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(evaluator.tick, "interval", seconds=seconds, coalesce=True,
                      max_instances=1, next_run_time=datetime.now(UTC), id="evaluate")
    return scheduler


def _collectors(args: argparse.Namespace, store: Store, stop: threading.Event
                ) -> tuple[list[threading.Thread], dict[str, Any]]:
    """The configured pulling collectors, each polling on its own thread."""
    from app.collect import build_all, sources_file, start_collectors
    from collectors.sources import load_sources

    if not sources_file(args).exists():
        return [], {}
    config = load_sources(sources_file(args))
    collectors, _ = build_all(store, dict(config.sources), quiet_push=True)
    threads = start_collectors(store, collectors, dict(config.sources), stop)
    if threads:
        print(f"collecting from {', '.join(collectors)}", flush=True)
    return threads, collectors
