"""Generate the JSON Schemas and the reference pages of the `baton/v1` formats from the models.

    python -m slas.docgen     # writes slas/baton-v1.schema.json, docs/sla-reference.md,
                              # slas/baton-alerts-v1.schema.json, docs/alerts-reference.md

A test keeps the committed files in step with the models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from slas.alerting import (
    AlertmanagerTarget,
    AlertsConfig,
    Burn,
    Escalation,
    PagerDutyTarget,
    Policy,
    Route,
    SlackTarget,
    WebhookTarget,
)
from slas.spec import (
    LONGEST,
    OBJECTIVE_PLACES,
    SHORTEST_WINDOW,
    BurnOverride,
    BurnWindow,
    CompletenessSla,
    FreshnessSla,
    Journey,
    LatencySla,
    SlaAlerts,
    SpecFile,
    Stage,
    Team,
    format_duration,
)

ROOT = Path(__file__).parents[1]


@dataclass(frozen=True)
class Format:
    """One documented file format: its root model, schema file, page and sections."""

    root: type[BaseModel]
    title: str
    schema: str
    page: str
    intro: tuple[str, ...]
    sections: tuple[tuple[str, type[BaseModel]], ...]


WINDOW = ("Burn window (`{long, short, factor}`)", BurnWindow)
SLAS = Format(
    SpecFile, "Baton SLA definitions (baton/v1)", "slas/baton-v1.schema.json",
    "docs/sla-reference.md",
    ("# SLA definitions reference (`baton/v1`)", "",
     "Generated from `slas/spec.py` by `python -m slas.docgen`; do not edit by hand.",
     f"Durations: `30s`, `5m`, `2h`, `7d`, from `1s` to `{format_duration(LONGEST)}` (a "
     f"window: at least `{format_duration(SHORTEST_WINDOW)}`). Objectives: `99.9%` or "
     f"`0.999`, above 0% and below 100%, with at most {OBJECTIVE_PLACES} decimals as a ratio "
     f"({OBJECTIVE_PLACES - 2} as a percentage). `where` values: strings, true/false, finite "
     "numbers within 64 bits.",
     "Editors: point YAML language servers at `slas/baton-v1.schema.json`."),
    (("File", SpecFile), ("Team (`teams.<key>`)", Team), ("Journey (`journeys.<name>`)", Journey),
     ("Stage (`journeys.<name>.stages[]`)", Stage), ("Latency SLA (`kind: latency`)", LatencySla),
     ("Completeness SLA (`kind: completeness`)", CompletenessSla),
     ("Freshness SLA (`kind: freshness`)", FreshnessSla),
     ("Alerts override (`slas[].alerts`; or `alerts: off`)", SlaAlerts),
     ("Burn override (`slas[].alerts.burn`)", BurnOverride), WINDOW))
ALERTS = Format(
    AlertsConfig, "Baton alerts configuration (baton/v1)", "slas/baton-alerts-v1.schema.json",
    "docs/alerts-reference.md",
    ("# Alerts configuration reference (`config/alerts.yaml`, `baton/v1`)", "",
     "Generated from `slas/alerting.py` by `python -m slas.docgen`; do not edit by hand.",
     "Durations: `30s`, `5m`, `2h`, `7d`. A filter or target list is one name or a list.",
     "Secrets are never written in the file: name the environment variable (`*_env`).",
     "An SLA may override `policy` in its definition: see docs/sla-reference.md.",
     "Editors: point YAML language servers at `slas/baton-alerts-v1.schema.json`."),
    (("File", AlertsConfig), ("PagerDuty target (`kind: pagerduty`)", PagerDutyTarget),
     ("Slack target (`kind: slack`)", SlackTarget),
     ("Alertmanager target (`kind: alertmanager`)", AlertmanagerTarget),
     ("Webhook target (`kind: webhook`)", WebhookTarget), ("Route (`routes[]`)", Route),
     ("Escalation (`routes[].escalate`)", Escalation), ("Policy (`policy`)", Policy),
     ("Burn windows (`policy.burn`)", Burn), WINDOW))
FORMATS = (SLAS, ALERTS)


def json_schema(fmt: Format = SLAS) -> dict[str, Any]:
    schema = fmt.root.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = fmt.title
    return schema


def reference_page(fmt: Format = SLAS) -> str:
    lines = [*fmt.intro, ""]
    for title, model in fmt.sections:
        lines += [f"## {title}", "", "| field | required | default | description |",
                  "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            shown = field.alias or name
            required = "yes" if field.is_required() else "no"
            default = "" if field.is_required() else _default(field)
            lines.append(f"| `{shown}` | {required} | {default} | {field.description} |")
        lines.append("")
    return "\n".join(lines)


def _default(field: Any) -> str:
    default = field.default_factory() if field.default_factory is not None else field.default
    if default is None or isinstance(default, BaseModel):
        return ""  # a model is a section of its own, with its defaults
    return f"`{_inline(default)}`"


def _inline(value: Any) -> str:
    """A default as it is written in YAML (flow style): `[SLABreached, ErrorBudgetBurn]`."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_inline(item)}" for key, item in value.items()) + "}"
    return str(value)


def main() -> None:
    (ROOT / "docs").mkdir(exist_ok=True)
    for fmt in FORMATS:
        (ROOT / fmt.schema).write_text(json.dumps(json_schema(fmt), indent=2) + "\n")
        (ROOT / fmt.page).write_text(reference_page(fmt))
        print(f"wrote {fmt.schema} and {fmt.page}")


if __name__ == "__main__":
    main()
