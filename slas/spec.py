"""The SLA definitions format `baton/v1`: frozen pydantic models, one per YAML construct.

These models check each value on its own (types, durations, objectives, unknown fields);
`slas.definitions` adds the checks across fields and files. Every field has a description:
the JSON Schema (`slas/baton-v1.schema.json`) and the reference page (`docs/sla-reference.md`)
are generated from them by `python -m slas.docgen`.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

VERSION = "baton/v1"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"(\d+)([smhd])")
NAME = r"^[a-z0-9][a-z0-9._-]*$"
ENVELOPE_KEYS = ("correlationid", "subject", "consentscope", "source", "traceparent")


def parse_duration(value: Any) -> int:
    """`30s`, `5m`, `2h`, `7d` -> seconds."""
    if isinstance(value, str) and (match := DURATION.fullmatch(value.strip())):
        seconds = int(match[1]) * UNITS[match[2]]
        if seconds > 0:
            return seconds
    raise ValueError("a duration is a whole number and a unit: 30s, 5m, 2h or 7d")


def format_objective(value: Decimal) -> str:
    """Decimal('0.999') -> '99.9%'."""
    text = f"{value * 100:f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _event_types(value: Any) -> Any:
    names = (value,) if isinstance(value, str) else value
    if isinstance(names, list | tuple) and not names:
        raise ValueError("name at least one event type, e.g. type: com.acme.product.activated")
    return names


def format_duration(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % UNITS[unit] == 0:
            return f"{seconds // UNITS[unit]}{unit}"
    return f"{seconds}s"


def parse_objective(value: Any) -> Decimal:
    """`99.9%` or `0.999` -> Decimal('0.999'), exactly; strictly between 0 and 1."""
    try:
        if isinstance(value, str) and value.strip().endswith("%"):
            number = Decimal(value.strip()[:-1]) / 100
        elif isinstance(value, int | float | str) and not isinstance(value, bool):
            number = Decimal(str(value))
        else:
            raise InvalidOperation
    except InvalidOperation:
        raise ValueError("an objective is a percentage such as 99.9% or a ratio such "
                         "as 0.999") from None
    if not 0 < number < 1:
        raise ValueError("an objective must be above 0% and below 100% (100% leaves no "
                         "error budget)")
    return number


Duration = Annotated[int, BeforeValidator(parse_duration), WithJsonSchema(
    {"type": "string", "pattern": r"^[0-9]+[smhd]$", "examples": ["30s", "5m", "2h", "7d"]})]
Objective = Annotated[Decimal, BeforeValidator(parse_objective), WithJsonSchema(
    {"anyOf": [{"type": "string", "pattern": r"^[0-9.]+%$"},
               {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}],
     "examples": ["99.9%", 0.999]})]
Scalar = str | int | float | bool
Names = Annotated[tuple[str, ...], BeforeValidator(lambda v: (v,) if isinstance(v, str) else v)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Team(Frozen):
    name: str = Field(description="The team's display name, shown on scorecards.")
    description: str | None = Field(None, description="What the team owns, in a sentence.")


class Stage(Frozen):
    name: str = Field(description="Stage name, unique within its journey (e.g. crm.assigned).")
    owner: str = Field(description="The team (a key of `teams`) accountable for reaching "
                                   "this stage.")
    on: Names = Field(min_length=1, description="Event types that mark this stage; the first "
                                                "such event of a journey counts.")
    stall_after: Duration | None = Field(None, description="A journey waiting for this stage "
                                         "longer than this is stalled (default 15m).")


class Journey(Frozen):
    key: Literal[ENVELOPE_KEYS] = Field(  # type: ignore[valid-type]
        "correlationid", description="Envelope attribute holding the journey key.")
    stages: tuple[Stage, ...] = Field(min_length=2, description="The stages, in order.")


class SlaBase(Frozen):
    name: str = Field(pattern=NAME, description="Unique SLA name across all files "
                                                "(lowercase, digits, . _ -).")
    description: str | None = Field(None, description="The promise, in plain words.")
    team: str = Field(description="The team (a key of `teams`) that owns this SLA.")
    objective: Objective = Field(description="Share of good events to reach: 99.9% or 0.999.")
    warn: Objective | None = Field(None, description="Optional stricter objective: status "
                                   "`warning` while the SLI is below it.")
    window: Duration = Field(description="Rolling window the SLI is computed over (e.g. 7d).")
    severity: Literal["critical", "warning", "info"] = Field(
        "critical", description="Severity of breaches of this SLA.")


class JourneySla(SlaBase):
    journey: str = Field(description="The journey (a key of `journeys`) measured.")
    from_: str = Field(alias="from", description="Stage where the clock starts.")
    to: str = Field(description="Stage where the clock stops.")
    where: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict, description="Journey attributes to match (equality; a list "
        "means any of).")


class LatencySla(JourneySla):
    kind: Literal["latency"] = Field(description="Latency: `to` reached within `threshold` "
                                                 "of `from`.")
    threshold: Duration = Field(description="Longest good time from `from` to `to`.")


class CompletenessSla(JourneySla):
    kind: Literal["completeness"] = Field(description="Completeness: every journey that "
                                          "reached `from` reaches `to` within `within`.")
    within: Duration = Field(description="Time allowed to reach `to`.")


class FreshnessSla(SlaBase):
    kind: Literal["freshness"] = Field(description="Freshness: matching events keep "
                                       "arriving.")
    type: Annotated[tuple[str, ...], BeforeValidator(_event_types)] = Field(
        description="Event type(s) that count (one or a list).")
    source: Names | None = Field(None, description="Only events from these source(s).")
    max_age: Duration = Field(description="Oldest the newest matching event may be.")


Sla = Annotated[LatencySla | CompletenessSla | FreshnessSla, Field(discriminator="kind")]
KINDS = frozenset({"latency", "completeness", "freshness"})


class SpecFile(Frozen):
    """One file of `config/slas/`. Every file is merged; names are unique across files."""

    version: Literal["baton/v1"] = Field(description="Format version; must be baton/v1.")
    teams: dict[str, Team] = Field(default_factory=dict, description="Teams, by key.")
    journeys: dict[str, Journey] = Field(default_factory=dict, description="Journeys, by "
                                         "name.")
    slas: tuple[Sla, ...] = Field(default=(), description="The SLAs.")
