"""Generate the JSON Schema and the reference page of the `baton/v1` format from the models.

    python -m slas.docgen     # writes slas/baton-v1.schema.json and docs/sla-reference.md

A test keeps both committed files in step with the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from slas.spec import (
    LONGEST,
    OBJECTIVE_PLACES,
    SHORTEST_WINDOW,
    CompletenessSla,
    FreshnessSla,
    Journey,
    LatencySla,
    SpecFile,
    Stage,
    Team,
    format_duration,
)

ROOT = Path(__file__).parents[1]
SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("File", SpecFile), ("Team (`teams.<key>`)", Team), ("Journey (`journeys.<name>`)", Journey),
    ("Stage (`journeys.<name>.stages[]`)", Stage), ("Latency SLA (`kind: latency`)", LatencySla),
    ("Completeness SLA (`kind: completeness`)", CompletenessSla),
    ("Freshness SLA (`kind: freshness`)", FreshnessSla),
]


def json_schema() -> dict[str, Any]:
    schema = SpecFile.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Baton SLA definitions (baton/v1)"
    return schema


def reference_page() -> str:
    lines = ["# SLA definitions reference (`baton/v1`)", "",
             "Generated from `slas/spec.py` by `python -m slas.docgen`; do not edit by hand.",
             f"Durations: `30s`, `5m`, `2h`, `7d`, from `1s` to `{format_duration(LONGEST)}` "
             f"(a window: at least `{format_duration(SHORTEST_WINDOW)}`). Objectives: "
             "`99.9%` or `0.999`, above 0% and below 100%, with at most "
             f"{OBJECTIVE_PLACES} decimals as a percentage (`99.999999%`). "
             "`where` values: strings, true/false, finite numbers within 64 bits.",
             "Editors: point YAML language servers at `slas/baton-v1.schema.json`.", ""]
    for title, model in SECTIONS:
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
    if field.default_factory is not None:
        return f"`{field.default_factory()!r}`"
    return "" if field.default is None else f"`{field.default}`"


def main() -> None:
    (ROOT / "slas" / "baton-v1.schema.json").write_text(
        json.dumps(json_schema(), indent=2) + "\n")
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "sla-reference.md").write_text(reference_page())
    print("wrote slas/baton-v1.schema.json and docs/sla-reference.md")


if __name__ == "__main__":
    main()
