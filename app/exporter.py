"""`/metrics`: Baton's state as Prometheus metrics, read from the store at every scrape.

A custom collector rather than gauges set after each evaluation: every `baton serve` process
(an evaluator, or a collectors-only one) then answers with the same stored truth, an SLA
removed from the definitions disappears with the next evaluation instead of lingering as a
stale label set, and a scrape shows exactly what `baton evaluate --json` stored. Nothing is
computed here: the SLA figures are the newest evaluation's `sla_results` rows, the stalls
are the evaluator's own per-stage counts (`stall_counts`), the rest are counts of rows.

Names follow Prometheus' conventions: base units (`_seconds`), `_ratio` for 0-1 values,
`_total` only on counters; labels `sla`, `team`, `kind` on every SLA metric.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select

from collectors.store import Store
from collectors.tables import (
    alerts,
    evaluation_runs,
    notifications,
    sla_results,
    source_status,
    stall_counts,
)

US = 1_000_000
SLA_LABELS = ["sla", "team", "kind"]
STATUSES = ("ok", "warning", "at_risk", "breached", "no_data")
QUANTILES = (("0.5", "p50_s"), ("0.95", "p95_s"), ("0.99", "p99_s"))
OUTCOMES = ("accepted", "duplicate", "rejected")


class StoreCollector(Collector):
    """Reads the store at each scrape (a failure raises, and the scrape fails)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def describe(self) -> list[Metric]:
        return []  # registering must not query the store

    def collect(self) -> Iterator[Metric]:
        with self.store.engine.connect() as conn:
            families = [*sla_metrics(_latest_results(conn)), *stall_metrics(conn),
                        *health_metrics(conn), _build_info()]
        yield from families


def _latest_results(conn: Connection) -> list[Mapping[str, Any]]:
    """The rows of the newest stored evaluation."""
    newest = conn.execute(select(func.max(sla_results.c.evaluated_at_us))).scalar()
    if newest is None:
        return []
    return [dict(row) for row in conn.execute(select(sla_results).where(
        sla_results.c.evaluated_at_us == newest).order_by(sla_results.c.sla)).mappings()]


def sla_metrics(rows: Iterable[Mapping[str, Any]]) -> list[Metric]:
    """The SLA gauges of stored results; an undefined value (no data yet) has no sample."""
    def gauge(name: str, doc: str, extra: list[str] | None = None) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, labels=SLA_LABELS + (extra or []))

    sli = gauge("baton_sla_sli_ratio", "Good outcomes / all outcomes in the SLA's window.")
    objective = gauge("baton_sla_objective_ratio", "The SLA's objective (0-1).")
    budget = gauge("baton_sla_error_budget_remaining_ratio",
                   "1 - bad / allowed bad in the window (negative when overspent).")
    burn = gauge("baton_sla_burn_rate", "Error budget burn rate over the span "
                 "(1 = spending exactly the budget).", ["window"])
    outcomes = gauge("baton_sla_events", "Outcomes in the SLA's window, by outcome.",
                     ["outcome"])
    status = gauge("baton_sla_status", "1 for the SLA's current status, 0 for the others.",
                   ["status"])
    window = gauge("baton_sla_window_seconds", "The SLA's window.")
    latency = gauge("baton_sla_latency_seconds", "Latency percentiles of the window's "
                    "journeys that reached `to` (latency SLAs).", ["quantile"])
    spans = gauge("baton_sla_span_events", "Outcomes that became known within the last "
                  "`window` (the burn-rate spans the alert rules read), by outcome.",
                  ["window", "outcome"])
    for row in rows:
        labels = [row["sla"], row["team"], row["kind"]]
        _add(sli, labels, row["sli"])
        _add(objective, labels, row["objective"])
        _add(budget, labels, row["budget_remaining"])
        _add(burn, labels + ["1h"], row["burn_1h"])
        _add(burn, labels + ["6h"], row["burn_6h"])
        _add(outcomes, labels + ["good"], row["good"])
        _add(outcomes, labels + ["bad"], row["bad"])
        for name in STATUSES:
            status.add_metric(labels + [name], 1.0 if row["status"] == name else 0.0)
        _add(window, labels, row["window_s"])
        for quantile, column in QUANTILES:
            _add(latency, labels + [quantile], row[column])
        for span, (good, bad) in orjson.loads(row["spans"] or "{}").items():
            spans.add_metric(labels + [span, "good"], good)
            spans.add_metric(labels + [span, "bad"], bad)
    return [sli, objective, budget, burn, outcomes, status, window, latency, spans]


def _add(family: GaugeMetricFamily, labels: list[str], value: float | None) -> None:
    if value is not None:
        family.add_metric(labels, float(value))


def stall_metrics(conn: Connection) -> list[Metric]:
    """Journeys stalled per stage at the newest scheduled evaluation; `team` owes the next
    stage."""
    stalled = GaugeMetricFamily("baton_journeys_stalled", "Journeys stalled at a stage "
                                "(the last one they reached) at the newest evaluation.",
                                labels=["journey", "stage", "team"])
    s = stall_counts
    newest = conn.execute(select(func.max(s.c.evaluated_at_us))).scalar()
    if newest is not None:
        for row in conn.execute(select(s).where(s.c.evaluated_at_us == newest)
                                .order_by(s.c.journey, s.c.stage)).mappings():
            stalled.add_metric([row["journey"], row["stage"], row["owner"]], row["stalled"])
    return [stalled]


def health_metrics(conn: Connection) -> list[Metric]:
    """Baton's own health: evaluations, sources, alerts and the outbox."""
    last = GaugeMetricFamily("baton_last_evaluation_timestamp_seconds",
                             "T of the newest stored evaluation (Unix time).")
    newest = conn.execute(select(func.max(sla_results.c.evaluated_at_us))).scalar()
    if newest is not None:
        last.add_metric([], newest / US)
    duration = GaugeMetricFamily("baton_evaluation_duration_seconds",
                                 "How long the newest scheduled evaluation took.")
    run = conn.execute(select(evaluation_runs.c.duration_s).order_by(
        evaluation_runs.c.evaluated_at_us.desc()).limit(1)).scalar()
    if run is not None:
        duration.add_metric([], run)
    firing = GaugeMetricFamily("baton_alerts_firing", "Alerts firing now (not silenced).",
                               value=_count(conn, alerts, alerts.c.state == "firing",
                                            alerts.c.ended_us.is_(None)))
    pending = GaugeMetricFamily("baton_outbox_pending", "Notifications waiting to be sent.",
                                value=_count(conn, notifications,
                                             notifications.c.state == "pending"))
    return [last, duration, *source_metrics(conn), firing, pending]


def _count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar()
               or 0)


def source_metrics(conn: Connection) -> list[Metric]:
    """Per source: records taken in (by outcome), lag, last success, errors in a row."""
    events = CounterMetricFamily("baton_source_events", "Records a source delivered, by "
                                 "outcome.", labels=["source", "outcome"])
    lag = GaugeMetricFamily("baton_source_lag_seconds", "Age of the source's newest event "
                            "when it was last polled or pushed.", labels=["source"])
    success = GaugeMetricFamily("baton_source_last_success_timestamp_seconds",
                                "When the source last delivered without error (Unix time).",
                                labels=["source"])
    errors = GaugeMetricFamily("baton_source_consecutive_errors",
                               "Failed polls since the last successful one.", labels=["source"])
    for row in conn.execute(select(source_status).order_by(source_status.c.source)).mappings():
        name = row["source"]
        for outcome in OUTCOMES:
            events.add_metric([name, outcome], float(row[outcome] or 0))
        _add(lag, [name], row["lag_s"])
        _add(success, [name], None if row["last_success_us"] is None
             else row["last_success_us"] / US)
        errors.add_metric([name], float(row["consecutive_errors"] or 0))
    return [events, lag, success, errors]


def _build_info() -> Metric:
    try:
        installed = version("baton")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout without install
        installed = "unknown"
    info = GaugeMetricFamily("baton_build_info", "Baton's version (always 1).",
                             labels=["version"])
    info.add_metric([installed], 1.0)
    return info
