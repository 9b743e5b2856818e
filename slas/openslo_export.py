"""`baton openslo export`: the documents of a selection of SLAs (slas.openslo maps each
object), and config/alerts.yaml as OpenSLO v1 alerting documents, as far as v1 can express it.

Per SLA and rule it raises (its effective policy, `slas.alerting.policy_for`):
- `SLABreached` -> an AlertCondition `burnrate gt 1` over the SLA's window (the SLI is below
  the objective exactly when the budget burns faster than 1x over the window), severity the
  SLA's.
- `ErrorBudgetBurn` -> one AlertCondition per burn window, `burnrate gte FACTOR` over the long
  window; v1 has a single lookback window, so the short one is in `baton.dev/short-window`.
- an AlertPolicy per (SLA, condition) naming the AlertNotificationTargets of every route of
  alerts.yaml that the alert's labels match. An alert no route sends anywhere has no
  policy (v1 requires a target). Escalations, group_wait, renotify, give_up, silences and the
  JourneysStalled and DeliveryFailing rules (not about one SLO) have no v1 field.

Every document carries `baton.dev/source: config/alerts.yaml`: import recognises Baton's own
alerting documents by it and leaves them out (their settings stay in config/alerts.yaml).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from slas.alerting import AlertsConfig, SlaPolicy, policy_for, routes_for
from slas.definitions import Definitions
from slas.errors import EvaluationError
from slas.openslo import (
    PREFIX,
    data_source_document,
    dns_label,
    document,
    service_document,
    shorthand,
    slo_document,
)
from slas.rules import SEVERITY_OF_SPEED
from slas.spec import UNITS, BurnWindow, Sla, format_duration

SOURCE = {PREFIX + "source": "config/alerts.yaml"}
TARGET_WORDS = {"pagerduty": "PagerDuty Events API v2", "slack": "Slack incoming webhook",
                "alertmanager": "Prometheus Alertmanager (API v2)",
                "webhook": "HTTP webhook (Alertmanager webhook v4 body)"}


@dataclass
class Alerting:
    """The alerting documents (targets, conditions, policies), each SLA's policy names, and
    a sentence for each alert v1 cannot hold."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    policies: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Condition:
    rule: str
    speed: str | None
    document: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.document["metadata"]["name"])

    @property
    def severity(self) -> str:
        return str(self.document["spec"]["severity"])


def alert_documents(slas: Sequence[Sla], config: AlertsConfig | None) -> Alerting:
    """The alerting of `slas` under `config` (nothing without an alerts.yaml: no targets)."""
    out = Alerting()
    if config is None:
        return out
    targets: dict[str, dict[str, Any]] = {}
    conditions: dict[str, dict[str, Any]] = {}
    policies: list[dict[str, Any]] = []
    for sla in slas:
        unique = {c.name: c for c in _conditions(sla, policy_for(sla, config), out.notes)}
        for condition in unique.values():  # a window written twice alerts once
            labels = {"alertname": condition.rule, "sla": sla.name, "team": sla.team,
                      "severity": condition.severity}
            names = list(dict.fromkeys(name for route in routes_for(config, labels)
                                       for name in route.to))
            if not names:
                continue
            conditions.setdefault(condition.name, condition.document)
            for name in names:
                targets.setdefault(name, _target(name, config))
            policy = _policy(sla, condition, names)
            policies.append(policy)
            out.policies.setdefault(sla.name, []).append(policy["metadata"]["name"])
    out.documents = [*targets.values(), *conditions.values(), *policies]
    return out


def _conditions(sla: Sla, policy: SlaPolicy, notes: list[str]) -> list[Condition]:
    found = []
    if "SLABreached" in policy.rules:
        lookback = shorthand(sla.window)
        assert lookback is not None  # an SLA whose window is not whole minutes is not exported
        found.append(Condition("SLABreached", None, _condition(
            f"breached-over-{lookback}-{sla.severity}", sla.severity, "gt", 1.0, lookback,
            "SLABreached: the SLI is below the objective over the SLA's window (the error "
            "budget burns faster than 1x over it)", {})))
    if "ErrorBudgetBurn" in policy.rules:
        for speed in ("fast", "slow"):
            for burn in policy.burn[speed]:
                condition = _burn(sla, speed, burn, notes)
                if condition is not None:
                    found.append(condition)
    return found


def _burn(sla: Sla, speed: str, window: BurnWindow, notes: list[str]) -> Condition | None:
    long, short = shorthand(window.long_s), format_duration(window.short_s)
    if long is None:
        notes.append(f"SLA {sla.name!r}: its {speed} burn window {window} has no "
                     "AlertCondition, as OpenSLO's lookbackWindow counts whole minutes")
        return None
    factor = f"{window.factor:f}"
    name = f"{speed}-burn-{factor.replace('.', '-')}x-{long}-{short}"
    text = (f"ErrorBudgetBurn ({speed}): the burn rate is at least {factor} over {long} and "
            f"over {short} (the short window is in {PREFIX}short-window: OpenSLO v1 has one "
            "lookback window)")
    return Condition("ErrorBudgetBurn", speed, _condition(
        name, SEVERITY_OF_SPEED[speed], "gte", float(window.factor), long, text,
        {PREFIX + "short-window": short}))


def _condition(name: str, severity: str, op: str, threshold: float, lookback: str,
               text: str, notes: dict[str, str]) -> dict[str, Any]:
    rule = "SLABreached" if name.startswith("breached") else "ErrorBudgetBurn"
    spec = {"description": text, "severity": severity,
            "condition": {"kind": "burnrate", "op": op, "threshold": threshold,
                          "lookbackWindow": lookback}}
    return document("AlertCondition", name, spec,
                    annotations={**SOURCE, PREFIX + "rule": rule, **notes})


def _policy(sla: Sla, condition: Condition, targets: list[str]) -> dict[str, Any]:
    notes = {**SOURCE, PREFIX + "rule": condition.rule, PREFIX + "sla": sla.name}
    if condition.speed is not None:
        notes[PREFIX + "window"] = condition.speed
    what = condition.rule + (f" ({condition.speed})" if condition.speed else "")
    spec = {"description": f"{what} of SLA {sla.name}, routed by config/alerts.yaml"[:1050],
            "alertWhenBreaching": True, "alertWhenResolved": True, "alertWhenNoData": False,
            "conditions": [{"conditionRef": condition.name}],
            "notificationTargets": [{"targetRef": dns_label(name)} for name in targets]}
    return document("AlertPolicy", f"{sla.name}-{condition.name}", spec, annotations=notes)


def _target(name: str, config: AlertsConfig) -> dict[str, Any]:
    target = config.targets[name]
    secret = getattr(target, "routing_key_env", None) or target.url_env
    where = f"; its {'key' if target.kind == 'pagerduty' else 'URL'} is in ${secret}" \
        if secret else ""
    spec = {"description": f"{TARGET_WORDS[target.kind]}{where}", "target": target.kind}
    return document("AlertNotificationTarget", name, spec, annotations=SOURCE)


@dataclass(frozen=True)
class Export:
    """The documents, in order, and one sentence for each SLA or alert left out."""

    documents: list[dict[str, Any]]
    refused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def selected(definitions: Definitions, names: Iterable[str]) -> Definitions:
    """The named SLAs with the teams and journeys they need (every one when none named)."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return definitions
    known = {sla.name for sla in definitions.slas}
    if missing := [name for name in wanted if name not in known]:
        raise EvaluationError(f"no SLA named {', '.join(map(repr, missing))}; defined SLAs: "
                              f"{', '.join(sorted(known)) or 'none'}")
    slas = tuple(sla for sla in definitions.slas if sla.name in wanted)
    journeys = {name: j for name, j in definitions.journeys.items()
                if any(getattr(sla, "journey", None) == name for sla in slas)}
    teams_needed = {sla.team for sla in slas} | {
        stage.owner for journey in journeys.values() for stage in journey.stages}
    teams = {key: t for key, t in definitions.teams.items() if key in teams_needed}
    return Definitions(teams, journeys, slas)


def export_documents(definitions: Definitions, alerts: AlertsConfig | None = None,
                     only: Iterable[str] = ()) -> Export:
    """Every team, journey and SLA (or the `only` SLAs and what they need) as OpenSLO v1,
    with the alerting of config/alerts.yaml as far as v1 can express it."""
    chosen = selected(definitions, only)
    refused = [_unexportable(sla) for sla in chosen.slas if shorthand(sla.window) is None]
    slas = [sla for sla in chosen.slas if shorthand(sla.window) is not None]
    alerting = alert_documents(slas, alerts)
    docs = [service_document(key, team) for key, team in chosen.teams.items()]
    docs += [data_source_document(name, j) for name, j in chosen.journeys.items()]
    docs += alerting.documents
    docs += [slo_document(sla, alerting.policies.get(sla.name, ())) for sla in slas]
    return Export(docs, refused, alerting.notes)


def _unexportable(sla: Sla) -> str:
    minutes = -(-sla.window // UNITS["m"])
    return (f"SLA {sla.name!r}: its window ({format_duration(sla.window)}) is not a whole "
            f"number of minutes, the finest unit of OpenSLO durations; write it as e.g. "
            f"{minutes}m to export it")


class _Dumper(yaml.SafeDumper):
    """Writes a value shared by two places twice, never as a YAML alias (`*id001`)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def documents_text(documents: Iterable[Mapping[str, Any]]) -> str:
    """A multi-document YAML stream, one `---` per object."""
    return "".join(yaml.dump(dict(doc), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                             explicit_start=True, width=4096) for doc in documents)
