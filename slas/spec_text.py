"""The inverse of loading: validated `baton/v1` models back to plain data and YAML text.

`definitions_text(defs)` writes one file that `slas.definitions.load_texts` reads back into
equal models: durations as `5m`, objectives as `99.9%` (or the exact ratio when a percentage
would round), defaults left out, `alerts: off` for an SLA that raises no rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import yaml

from slas.spec import (
    VERSION,
    BurnWindow,
    CompletenessSla,
    FreshnessSla,
    Journey,
    LatencySla,
    Sla,
    SlaAlerts,
    Stage,
    Team,
    format_duration,
    format_objective,
    parse_objective,
)


def objective_text(value: Decimal) -> str:
    """`99.9%`, or the ratio itself (`0.12345678901234567890123`) when the percentage would
    not read back as exactly the same number."""
    text = format_objective(value)
    return text if parse_objective(text) == value else f"{value:f}"


def team_data(team: Team) -> dict[str, Any]:
    data: dict[str, Any] = {"name": team.name}
    if team.description is not None:
        data["description"] = team.description
    return data


def stage_data(stage: Stage) -> dict[str, Any]:
    data: dict[str, Any] = {"name": stage.name, "owner": stage.owner, "on": list(stage.on)}
    if stage.stall_after is not None:
        data["stall_after"] = format_duration(stage.stall_after)
    if stage.fails_on:
        data["fails_on"] = list(stage.fails_on)
    return data


def journey_data(journey: Journey) -> dict[str, Any]:
    return {"key": journey.key, "stages": [stage_data(s) for s in journey.stages]}


def burn_window_data(window: BurnWindow) -> dict[str, Any]:
    return {"long": format_duration(window.long_s), "short": format_duration(window.short_s),
            "factor": f"{window.factor:f}"}


def alerts_data(alerts: SlaAlerts) -> dict[str, Any]:
    """An SLA's `alerts:` mapping (only the fields it overrides)."""
    data: dict[str, Any] = {}
    if alerts.rules is not None:
        data["rules"] = list(alerts.rules)
    if alerts.min_events is not None:
        data["min_events"] = alerts.min_events
    if alerts.burn is not None:
        burn = {speed: [burn_window_data(w) for w in windows]
                for speed in ("fast", "slow")
                if (windows := getattr(alerts.burn, speed)) is not None}
        data["burn"] = burn
    return data


def sla_data(sla: Sla) -> dict[str, Any]:
    """One SLA as its file would hold it, fields in the reference's order."""
    data: dict[str, Any] = {"name": sla.name}
    if sla.description is not None:
        data["description"] = sla.description
    data.update(team=sla.team, kind=sla.kind)
    data.update(_kind_data(sla))
    data["objective"] = objective_text(sla.objective)
    if sla.warn is not None:
        data["warn"] = objective_text(sla.warn)
    data["window"] = format_duration(sla.window)
    if sla.severity != "critical":
        data["severity"] = sla.severity
    if sla.alerts is not None:
        data["alerts"] = alerts_data(sla.alerts) or {}
    return data


def _kind_data(sla: Sla) -> dict[str, Any]:
    if isinstance(sla, FreshnessSla):
        data: dict[str, Any] = {"type": list(sla.type)}
        if sla.source is not None:
            data["source"] = list(sla.source)
        data["max_age"] = format_duration(sla.max_age)
        return data
    data = {"journey": sla.journey, "from": sla.from_, "to": sla.to}
    if isinstance(sla, LatencySla):
        data["threshold"] = format_duration(sla.threshold)
    elif isinstance(sla, CompletenessSla):
        data["within"] = format_duration(sla.within)
    if sla.where:
        data["where"] = {key: list(value) if isinstance(value, list | tuple) else value
                         for key, value in sla.where.items()}
    return data


def definitions_text(teams: Mapping[str, Team], journeys: Mapping[str, Journey],
                     slas: tuple[Sla, ...] | list[Sla], header: str = "") -> str:
    """One `baton/v1` file holding the given teams, journeys and SLAs."""
    data: dict[str, Any] = {"version": VERSION}
    if teams:
        data["teams"] = {key: team_data(team) for key, team in teams.items()}
    if journeys:
        data["journeys"] = {name: journey_data(j) for name, j in journeys.items()}
    if slas:
        data["slas"] = [sla_data(sla) for sla in slas]
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + text
