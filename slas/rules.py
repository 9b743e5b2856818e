"""The alert rules: which alerts fire at T, from the signals gathered there. Pure: no store,
no clock. Rule names are the `alertname` label (DESIGN.md, Alerts):

- `SLABreached`     the SLA's status is `breached`; severity: the SLA's `severity`.
- `ErrorBudgetBurn` multi-window, multi-burn-rate: `fast` (critical) when some fast window's
                    burn rate is at least its factor over both its long and short span,
                    `slow` (warning) likewise; each span needs `min_events` outcomes; `slow`
                    is inhibited while `fast` fires for the same SLA.
- `JourneysStalled` at least `stalled_min` journeys stalled at one stage, to the team owing
                    the next stage.
- `DeliveryFailing` a collector failed `failures` polls in a row, or journeys failed a stage
                    `failures` times without reaching it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from slas.alerting import (
    DEFAULT_POLICY,
    AlertsConfig,
    BurnWindow,
    SlaPolicy,
    policy_for,
    spans_needed,
)
from slas.definitions import Definitions
from slas.judge import Result, burn_rate
from slas.measure import SPANS, US
from slas.signals import FailedDeliveries, FailingSource, Signals
from slas.spec import Sla, format_duration
from slas.stalls import StallReport
from slas.words import duration_words, percent, sentence, times

SEVERITY_OF_SPEED = {"fast": "critical", "slow": "warning"}


@dataclass(frozen=True)
class Firing:
    """One alert that fires at T, identified by its labels (and so its key)."""

    key: str
    alertname: str
    labels: Mapping[str, str]
    team: str
    severity: str
    summary: str
    sla: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def spans_for(definitions: Definitions, config: AlertsConfig | None) -> dict[str, int]:
    """The burn-rate spans an evaluation must measure (name -> microseconds): the default
    spans and every window the SLAs' alert policies use."""
    needed = {format_duration(s): s * US for s in spans_needed(definitions, config)}
    return {**SPANS, **needed}


def dedup_key(alertname: str, subject: str, window: str | None = None) -> str:
    """`baton/<alertname>/<sla-or-journey:stage>[/<window>]`: the same alert, the same key."""
    return f"baton/{alertname}/{subject}" + (f"/{window}" if window else "")


def firing(definitions: Definitions, config: AlertsConfig | None, signals: Signals
           ) -> list[Firing]:
    """Every alert firing at the signals' time, in a stable order."""
    policy = config.policy if config is not None else DEFAULT_POLICY
    out: list[Firing] = []
    for sla in definitions.slas:
        result = signals.results.get(sla.name)
        if result is None:
            continue
        own = policy_for(sla, config)
        if "SLABreached" in own.rules and result.status == "breached":
            out.append(_breached(sla, result, signals.breaches.get(sla.name)))
        if "ErrorBudgetBurn" in own.rules:
            out += _burning(sla, result, own)
    if "JourneysStalled" in policy.rules:
        for report in signals.stalls.values():
            out += _stalled(definitions, report, policy.stalled_min)
    if "DeliveryFailing" in policy.rules:
        out += [_source_failing(source) for source in signals.sources]
        out += [_deliveries_failing(definitions, failed, policy.failures)
                for failed in signals.failed]
    return out


def _sla_labels(sla: Sla, alertname: str, severity: str, **extra: str) -> dict[str, str]:
    return {"alertname": alertname, "sla": sla.name, "team": sla.team, "severity": severity,
            **extra}


def _result_details(result: Result) -> dict[str, Any]:
    return {"sli": result.sli, "objective": result.objective,
            "budget_remaining": result.budget_remaining, "good": result.good,
            "bad": result.bad, "status": result.status}


def _breached(sla: Sla, result: Result, breach: Mapping[str, Any] | None) -> Firing:
    details = _result_details(result)
    if breach is not None and breach.get("stalled_stage"):
        details.update(stalled_stage=breach["stalled_stage"],
                       accountable_team=breach["stalled_owner"],
                       stalled_count=breach["stalled_count"])
    return Firing(dedup_key("SLABreached", sla.name), "SLABreached",
                  _sla_labels(sla, "SLABreached", sla.severity), sla.team, sla.severity,
                  f"{sla.name} breached: {sentence(sla, result.sli)}", sla.name, details)


def burning_window(result: Result, objective: Fraction, window: BurnWindow, min_events: int
                   ) -> dict[str, float] | None:
    """The burn rates over the window's long and short spans when both reach its factor
    with at least `min_events` outcomes each; None otherwise (or when a span is unmeasured)."""
    rates: dict[str, float] = {}
    for span_s in (window.long_s, window.short_s):
        name = format_duration(span_s)
        if name not in result.spans:
            return None
        good, bad = result.spans[name]
        rate = burn_rate(good, bad, objective)
        if good + bad < min_events or rate is None or rate < window.factor:
            return None
        rates[name] = float(rate)
    return rates


def _burning(sla: Sla, result: Result, policy: SlaPolicy) -> list[Firing]:
    objective = Fraction(sla.objective)
    for speed in ("fast", "slow"):  # slow is inhibited while fast fires
        for window in policy.burn[speed]:
            rates = burning_window(result, objective, window, policy.min_events)
            if rates is None:
                continue
            severity = SEVERITY_OF_SPEED[speed]
            long_name = format_duration(window.long_s)
            summary = (f"{sla.name} is burning its error budget {times(rates[long_name])} "
                       f"the sustainable rate over {long_name} "
                       f"({times(rates[format_duration(window.short_s)])} over "
                       f"{format_duration(window.short_s)}; alert at {times(float(window.factor))}"
                       f"); SLI {percent(result.sli)}, target {percent(result.objective)}")
            details = {**_result_details(result), "burn_rate": rates, "window": speed,
                       "factor": float(window.factor)}
            return [Firing(dedup_key("ErrorBudgetBurn", sla.name, speed), "ErrorBudgetBurn",
                           _sla_labels(sla, "ErrorBudgetBurn", severity, window=speed),
                           sla.team, severity, summary, sla.name, details)]
    return []


def _stalled(definitions: Definitions, report: StallReport, minimum: int) -> list[Firing]:
    stages = definitions.journeys[report.journey].stages
    names = [s.name for s in stages]
    out = []
    for stage, count in report.by_stage.items():
        if count < minimum:
            continue
        following = stages[names.index(stage) + 1]
        waits = [s.stalled_for_s for s in report.stalled if s.last_stage == stage]
        team_name = _team_name(definitions, following.owner)
        after = definitions.stall_after(report.journey, names.index(stage) + 1)
        summary = (f"{count} {report.journey}s stalled at {stage} for over "
                   f"{format_duration(after)} (longest {duration_words(max(waits))}); "
                   f"{following.name} is owed by {team_name}")
        out.append(Firing(
            dedup_key("JourneysStalled", f"{report.journey}:{stage}"), "JourneysStalled",
            {"alertname": "JourneysStalled", "journey": report.journey, "stage": stage,
             "team": following.owner, "severity": "warning"},
            following.owner, "warning", summary, None,
            {"stalled_stage": stage, "accountable_team": following.owner,
             "stalled_count": count, "next_stage": following.name,
             "longest_stalled_s": max(waits)}))
    return out


def _source_failing(source: FailingSource) -> Firing:
    error = (source.last_error or "no error text").splitlines()[0][:300]
    summary = f"source {source.name} failed {source.errors} times in a row: {error}"
    return Firing(dedup_key("DeliveryFailing", source.name), "DeliveryFailing",
                  {"alertname": "DeliveryFailing", "source": source.name, "team": "",
                   "severity": "critical"}, "", "critical", summary, None,
                  {"source": source.name, "errors": source.errors, "last_error": error})


def _deliveries_failing(definitions: Definitions, failed: FailedDeliveries, failures: int
                        ) -> Firing:
    stage = next(s for s in definitions.journeys[failed.journey].stages
                 if s.name == failed.stage)
    summary = (f"{failed.journeys} {failed.journey}(s) failed {failed.stage} {failures} or "
               f"more times without reaching it ({failed.attempts} failed attempts); owned "
               f"by {_team_name(definitions, stage.owner)}")
    return Firing(dedup_key("DeliveryFailing", f"{failed.journey}:{failed.stage}"),
                  "DeliveryFailing",
                  {"alertname": "DeliveryFailing", "journey": failed.journey,
                   "stage": failed.stage, "team": stage.owner, "severity": "critical"},
                  stage.owner, "critical", summary, None,
                  {"stalled_stage": failed.stage, "accountable_team": stage.owner,
                   "journeys": failed.journeys, "attempts": failed.attempts})


def _team_name(definitions: Definitions, team: str) -> str:
    found = definitions.teams.get(team)
    return found.name if found is not None else team
