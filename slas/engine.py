"""Evaluation: refresh the stage table, measure every SLA at T, judge, store, open/close breaches.

    evaluation = evaluate(store, definitions, at_us)

The clock is a parameter: evaluating with `at_us` in the past replays history and gives the
answer a live evaluation at that moment would have given (events after T are not seen).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, insert

from collectors.schema import format_time
from collectors.store import Store, now_us
from collectors.tables import sla_results, team_results
from slas import breaches, stages
from slas.definitions import Definitions
from slas.judge import Result, TeamStatus, judge, rollup
from slas.measure import SPANS, Spans, measure


@dataclass(frozen=True)
class Evaluation:
    at_us: int
    results: list[Result]
    teams: list[TeamStatus]

    def as_json(self) -> dict[str, Any]:
        return {"evaluated_at": format_time(self.at_us),
                "slas": [r.as_json() for r in self.results],
                "teams": [t.as_json() for t in self.teams]}


def evaluate(store: Store, definitions: Definitions, at_us: int, *, persist: bool = True,
             refresh: bool = True, percentiles: bool = True,
             spans: Spans = SPANS) -> Evaluation:
    """Evaluate every SLA at `at_us`; store the results and update breaches if `persist`.
    `percentiles=False` (only without `persist`) skips latency percentiles (None); `spans`
    names the burn-rate spans to measure (name -> microseconds; the alert rules' windows)."""
    assert percentiles or not persist, "stored results always carry their percentiles"
    if refresh:
        stages.refresh(store, definitions)
    with store.engine.connect() as conn:
        results = [judge(sla, measure(conn, definitions, sla, at_us, percentiles, spans))
                   for sla in definitions.slas]
    evaluation = Evaluation(at_us, results, rollup(list(definitions.teams), results))
    if persist:
        save(store, definitions, evaluation)
        breaches.update(store, definitions, evaluation.at_us, results)
    return evaluation


def save(store: Store, definitions: Definitions, evaluation: Evaluation) -> None:
    """Store each result as a point of its SLA's time series, and each team's roll-up
    (replacing a re-evaluation of the same T)."""
    computed = now_us()
    rows = [_row(result, definitions.sla(result.name).window, evaluation.at_us, computed)
            for result in evaluation.results]
    teams = [{"team": t.team, "evaluated_at_us": evaluation.at_us, "status": t.status,
              "slas_ok": t.slas_ok, "slas_total": t.slas_total, "worst_sla": t.worst_sla,
              "budget_remaining": t.budget_remaining} for t in evaluation.teams]
    with store.engine.begin() as conn:
        conn.execute(delete(sla_results).where(
            sla_results.c.evaluated_at_us == evaluation.at_us,
            sla_results.c.sla.in_([r.name for r in evaluation.results])))
        conn.execute(delete(team_results).where(
            team_results.c.evaluated_at_us == evaluation.at_us,
            team_results.c.team.in_([t.team for t in evaluation.teams])))
        if rows:
            conn.execute(insert(sla_results), rows)
        if teams:
            conn.execute(insert(team_results), teams)


def _row(result: Result, window_s: int, at_us: int, computed_us: int) -> dict[str, Any]:
    return {"sla": result.name, "evaluated_at_us": at_us, "team": result.team,
            "kind": result.kind, "window_s": window_s,
            "objective": result.objective, "good": result.good, "bad": result.bad,
            "total": result.total, "sli": result.sli,
            "budget_remaining": result.budget_remaining,
            "burn_1h": result.burn_rate.get("1h"), "burn_6h": result.burn_rate.get("6h"),
            "status": result.status, "p50_s": result.p50_s, "p95_s": result.p95_s,
            "p99_s": result.p99_s, "computed_us": computed_us,
            "spans": orjson.dumps(result.spans).decode()}
