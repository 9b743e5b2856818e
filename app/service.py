"""The `baton serve` process: its parts, how they start, and how they stop.

Parts, by `--only`: the pulling collectors (one thread each), the evaluator (an APScheduler
job every `--every`, plus retention every hour and alert delivery on its own thread), and,
with `--http`, the HTTP face. The scheduler never piles runs up: `max_instances=1`,
`coalesce` (missed runs become one) and a misfire grace of one interval.

Stopping (SIGTERM or SIGINT): `/healthz` turns 503 at once; collectors finish the batch in
hand (commit, then acknowledge: nothing uncommitted is acknowledged) and stop; the
evaluation in progress finishes; the HTTP server lets requests in flight complete. All of
it within STOP_BUDGET_S, then exit 0. Whatever is still running then (an evaluation far
longer than the budget, a CRM request stuck in its timeout) is abandoned: its transaction
was never committed, its batch never acknowledged, so the next start does it again.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import make_url

from app import logs
from app.serve import RETENTION_EVERY_S, Evaluator
from app.web import Health, HttpServer, create_app, parse_listen, store_check
from collectors.runner import Collector, Poll
from collectors.sources import PUSH_KINDS, SourcesConfig
from collectors.store import Store, WriteCounts

OUTCOMES = ("accepted", "duplicate", "rejected", "skipped")  # a record is one of them
STOP_BUDGET_S = 9.0  # SIGTERM to exit: within 10 s, whatever is running


def pool_options(url: str, sources: int, receiver: bool) -> dict[str, int]:
    """PostgreSQL pool sizes for one process: a connection per source (a collector thread at
    most each), one each for the evaluator, the dispatcher, retention and a scrape, and room
    for pushes in bursts.
    N processes open at most N x (pool_size + max_overflow) connections (docs/service.md)."""
    if make_url(url).get_backend_name() != "postgresql":
        return {}
    return {"pool_size": sources + 4, "max_overflow": 8 if receiver else 2}


class _Counted:
    """A collector that remembers what it stored since it was last asked (for the log)."""

    def __init__(self, inner: Collector) -> None:
        self.inner, self.name, self.kind = inner, inner.name, inner.kind
        self.counts, self._lock = WriteCounts(), threading.Lock()

    def poll(self) -> Poll:
        result = self.inner.poll()
        with self._lock:
            self.counts += result.counts
        return result

    def take(self) -> WriteCounts:
        with self._lock:
            counts, self.counts = self.counts, WriteCounts()
        return counts

    def close(self) -> None:
        self.inner.close()


@dataclass
class Service:
    """One `baton serve` process."""

    store: Store
    every_s: int
    evaluator: Evaluator | None = None
    collectors: dict[str, _Counted] = field(default_factory=dict)
    sources: SourcesConfig | None = None
    http: HttpServer | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    health: Health = field(default_factory=Health)
    receiving: bool = False
    scheduler: BackgroundScheduler = field(
        default_factory=lambda: BackgroundScheduler(timezone=UTC))

    @classmethod
    def from_args(cls, args: argparse.Namespace, every_s: int) -> Service:
        """Everything built and checked (bad config, a port in use: one sentence, exit 1),
        nothing started yet."""
        from app.collect import build_all, sources_file
        from collectors.sources import load_sources

        listen = parse_listen(args.http) if args.http else None
        sources = None
        if args.only != "evaluator" and sources_file(args).exists():
            sources = load_sources(sources_file(args))
        receiver = listen is not None and args.only != "evaluator" and _has_push(sources)
        count = 0 if sources is None else len(sources.sources)
        store = Store.open(args.store, migrate=True, **pool_options(args.store, count, receiver))
        service = cls(store, every_s, sources=sources)
        if args.only != "collectors":
            service.evaluator = Evaluator(store, args.config, float(every_s))
        if sources is not None:
            built, _ = build_all(store, dict(sources.sources), quiet_push=True,
                                 report=_collector_error)
            service.collectors = {name: _Counted(c) for name, c in built.items()}
        if listen is not None:
            service.http = HttpServer(service.app(receiver), *listen)
        return service

    def app(self, receiver: bool) -> Any:
        from collectors.receiver import create_app as receiver_app

        self.health.checks["store"] = store_check(self.store)
        self.health.checks["scheduler"] = lambda: None if self.scheduler.running else (
            "the scheduler is not running")
        self.health.checks["threads"] = self._dead_threads
        if receiver:
            assert self.sources is not None
            self.receiving = True
            if not self.sources.push_tokens():
                logs.warning("receiver.no_tokens", "no push source has its token variable "
                             "set; every push will get 401 (set the sources' token_env)")
            return create_app(self.store, self.health, receiver_app(self.store, self.sources))
        return create_app(self.store, self.health)

    def _dead_threads(self) -> str | None:
        dead = [t.name for t in self.threads if not t.is_alive()]
        return f"stopped unexpectedly: {', '.join(dead)}" if dead else None

    # --- running ---

    def run(self) -> int:
        if self.evaluator is None and not self.collectors and not self.receiving:
            logs.error("serve.nothing", "nothing to run: no pulling sources in "
                       "config/sources.yaml (and no push source for --http to receive)")
            return 1
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        self.start()
        while not self.stop.wait(0.5):
            pass
        return self.shutdown()

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if not self.stop.is_set():
            logs.info("serve.stopping", f"{signal.Signals(signum).name}: stopping (finishing "
                      "the batch and the evaluation in progress)",
                      signal=signal.Signals(signum).name)
        self.health.stopping = True
        self.stop.set()

    def start(self) -> None:
        from app.collect import start_collectors

        if self.collectors and self.sources is not None:
            self.threads += start_collectors(self.store, dict(self.collectors),
                                             dict(self.sources.sources), self.stop,
                                             report=_collector_error)
        self._jobs()
        self.scheduler.start()
        if self.evaluator is not None:
            dispatcher = threading.Thread(target=self.evaluator.deliver_forever,
                                          args=(self.stop,), name="alerts-dispatch",
                                          daemon=True)
            dispatcher.start()
            self.threads.append(dispatcher)
        if self.http is not None:
            self.http.start()
        parts = [*(["collectors: " + ", ".join(self.collectors)] if self.collectors else []),
                 *([f"evaluator every {self.every_s}s"] if self.evaluator else []),
                 *([f"http on {self.http.host}:{self.http.port}"] if self.http else [])]
        logs.info("serve.started", "baton serve: " + "; ".join(parts),
                  collectors=list(self.collectors), evaluator=self.evaluator is not None,
                  every_s=self.every_s, http=None if self.http is None
                  else f"{self.http.host}:{self.http.port}")

    def _jobs(self) -> None:
        now = datetime.now(UTC)
        job: dict[str, Any] = {"coalesce": True, "max_instances": 1,
                               "misfire_grace_time": self.every_s}
        if self.evaluator is not None:
            self.scheduler.add_job(self.evaluator.tick, "interval", seconds=self.every_s,
                                   next_run_time=now, id="evaluate", **job)
            self.scheduler.add_job(self.evaluator.prune, "interval", args=(self.stop,),
                                   seconds=RETENTION_EVERY_S, id="retention",
                                   next_run_time=now + timedelta(seconds=60), **job)
        if self.collectors:
            self.scheduler.add_job(self.log_collected, "interval", seconds=self.every_s,
                                   id="collected", **job)

    def log_collected(self) -> None:
        """One line per source that stored anything since the last line."""
        for name, collector in self.collectors.items():
            counts = collector.take()
            if counts != WriteCounts():
                by_outcome = {outcome: getattr(counts, outcome) for outcome in OUTCOMES}
                logs.info("collected", f"{name}: " + ", ".join(
                    f"{outcome} {n}" for outcome, n in by_outcome.items()), source=name,
                    counts=by_outcome)

    # --- stopping ---

    def shutdown(self) -> int:
        deadline = time.monotonic() + STOP_BUDGET_S
        self.health.stopping = True
        self.stop.set()
        self.scheduler.shutdown(wait=False)  # no new runs; the one in progress goes on
        if self.http is not None:
            self.http.stop(timeout=_left(deadline, 4.0))
        running = self._wait(deadline)
        if self.evaluator is not None and not running:
            self.evaluator.lease.release()  # the other `baton serve`, if any, takes over now
            self.evaluator.dispatcher.close()
        for name, collector in self.collectors.items():
            if f"collect-{name}" not in running:
                collector.close()
        self.log_collected()
        if running:
            logs.warning("serve.abandoned", f"stopped after {STOP_BUDGET_S:g}s with "
                         f"{', '.join(running)} still running; nothing of it was committed "
                         "or acknowledged", running=running)
            _exit_now()
        logs.info("serve.stopped", "baton serve stopped")
        return 0

    def _wait(self, deadline: float) -> list[str]:
        """Wait for the threads (they see `stop` within a poll) and the evaluation in
        progress until the deadline; what still runs then."""
        running = []
        for thread in self.threads:
            thread.join(_left(deadline))
            if thread.is_alive():
                running.append(thread.name)
        if self.evaluator is not None:
            if self.evaluator.lock.acquire(timeout=_left(deadline)):
                self.evaluator.lock.release()
            else:
                running.append("the evaluation")
        return running


def _left(deadline: float, most: float | None = None) -> float:
    left = max(0.0, deadline - time.monotonic())
    return left if most is None else min(left, most)


def _exit_now(code: int = 0) -> None:
    """Leave without waiting for abandoned threads (the interpreter would join the
    scheduler's worker); the store's transactions of those threads roll back."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _collector_error(source: str, message: str) -> None:
    logs.error("collector.error", message, source=source)


def _has_push(sources: SourcesConfig | None) -> bool:
    return sources is not None and any(
        s.kind in PUSH_KINDS and getattr(s, "token_env", None) for s in sources.sources.values())

