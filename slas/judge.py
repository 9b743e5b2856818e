"""Judging: pure functions from counts, objective and time to an SLA result. No SQL here.

Exact arithmetic (fractions) decides the status, so a SLI of exactly the objective is met;
floats are only what is shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from slas.measure import REPORTED_SPANS, Counts
from slas.spec import LatencySla, Sla, format_duration

AT_RISK_BUDGET = Fraction(1, 4)
AT_RISK_BURN = Fraction("14.4")
STATUS_ORDER = ("breached", "at_risk", "warning", "ok", "no_data")


@dataclass(frozen=True)
class Result:
    """One SLA evaluated at one time: the fields of `baton evaluate --json`."""

    name: str
    team: str
    kind: str
    window: str
    objective: float
    good: int
    bad: int
    total: int
    sli: float | None
    budget_remaining: float | None
    burn_rate: dict[str, float | None]
    status: str
    p50_s: float | None = None
    p95_s: float | None = None
    p99_s: float | None = None
    spans: Mapping[str, tuple[int, int]] = field(default_factory=dict, compare=False)
    """Good and bad outcomes known within each measured burn-rate span (what alert rules
    read); `burn_rate` reports the contract's 1h and 6h."""

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (
            "name", "team", "kind", "window", "objective", "good", "bad", "total", "sli",
            "budget_remaining", "burn_rate", "status", "p50_s", "p95_s", "p99_s")}


@dataclass(frozen=True)
class TeamStatus:
    """A team's roll-up: its worst SLA's status, how many of its SLAs meet their objective,
    its worst SLA (by status, then least budget left) and the least budget left."""

    team: str
    status: str
    slas_ok: int
    slas_total: int
    worst_sla: str | None = None
    budget_remaining: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {"team": self.team, "status": self.status, "slas_ok": self.slas_ok,
                "slas_total": self.slas_total}


def judge(sla: Sla, counts: Counts) -> Result:
    objective = Fraction(sla.objective)
    total = counts.good + counts.bad
    sli = Fraction(counts.good, total) if total else None
    budget = 1 - Fraction(counts.bad) / ((1 - objective) * total) if total else None
    burns = {name: burn_rate(*counts.spans[name], objective) if name in counts.spans else None
             for name in REPORTED_SPANS}
    p50, p95, p99 = counts.percentiles if isinstance(sla, LatencySla) else (None, None, None)
    return Result(
        name=sla.name, team=sla.team, kind=sla.kind, window=format_duration(sla.window),
        objective=float(objective), good=counts.good, bad=counts.bad, total=total,
        sli=_float(sli), budget_remaining=_float(budget),
        burn_rate={name: _float(value) for name, value in burns.items()},
        status=status(sla, sli, budget, burns.get("1h")), p50_s=p50, p95_s=p95, p99_s=p99,
        spans=dict(counts.spans))


def burn_rate(good: int, bad: int, objective: Fraction) -> Fraction | None:
    """(bad / total) / (1 - objective) over a span; None when the span has no events."""
    total = good + bad
    return Fraction(bad, total) / (1 - objective) if total else None


def status(sla: Sla, sli: Fraction | None, budget: Fraction | None,
           burn_1h: Fraction | None) -> str:
    if sli is None or budget is None:
        return "no_data"
    if sli < Fraction(sla.objective):
        return "breached"
    if budget < AT_RISK_BUDGET or (burn_1h is not None and burn_1h > AT_RISK_BURN):
        return "at_risk"
    if sla.warn is not None and sli < Fraction(sla.warn):
        return "warning"
    return "ok"


def meets_objective(result: Result) -> bool:
    return result.status in ("ok", "warning", "at_risk")


def rollup(teams: list[str], results: list[Result]) -> list[TeamStatus]:
    """Per team: the worst status of its SLAs and how many meet their objective."""
    out = []
    for team in teams:
        mine = worst_first([r for r in results if r.team == team])
        budgets = [r.budget_remaining for r in mine if r.budget_remaining is not None]
        out.append(TeamStatus(team, mine[0].status if mine else "no_data",
                              sum(map(meets_objective, mine)), len(mine),
                              mine[0].name if mine else None, min(budgets, default=None)))
    return out


def worst_first(results: list[Result]) -> list[Result]:
    """Results from the worst status down; within a status, least budget left first."""
    return sorted(results, key=lambda r: (STATUS_ORDER.index(r.status),
                                          math.inf if r.budget_remaining is None
                                          else r.budget_remaining, r.name))


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)

