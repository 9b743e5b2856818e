"""The SLA definitions format `baton/v1`: frozen pydantic models, one per YAML construct.

These models check each value on its own (types, durations, objectives, unknown fields);
`slas.definitions` adds the checks across fields and files. Every field has a description:
the JSON Schema (`slas/baton-v1.schema.json`) and the reference page (`docs/sla-reference.md`)
are generated from them by `python -m slas.docgen`.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import CoreSchema

VERSION = "baton/v1"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"([0-9]+)([smhd])")
NAME = r"^[a-z0-9][a-z0-9._-]*$"
ENVELOPE_KEYS = ("correlationid", "subject", "consentscope", "source", "traceparent")
# Bounds of every number in the format, stated in the reference page: a window past 400 days
# is no rolling SLA (and 10^10 days overflowed SQLite's integers); a window holds at least
# one freshness slice; objectives have at most 20 decimals as a ratio (more than a float
# holds, for exact round trips): an exponent such as 1e-999999 made exact judging hang.
LONGEST = 400 * 86400
SHORTEST_WINDOW = 60
OBJECTIVE_PLACES = 20  # as a ratio; two fewer as a percentage
INT64 = 2**63
OBJECTIVE_FORMS = "a percentage such as 99.9% or a ratio such as 0.999"


def parse_duration(value: Any, shortest: int = 1, longest: int = LONGEST) -> int:
    """`30s`, `5m`, `2h`, `7d` -> seconds, from `shortest` to `longest` (400d)."""
    if isinstance(value, str) and (match := DURATION.fullmatch(value.strip())):
        seconds = int(match[1][-12:]) * UNITS[match[2]]  # more digits: out of range anyway
        if shortest <= seconds <= longest and len(match[1].lstrip("0")) <= 12:
            return seconds
        raise ValueError(f"a duration here is from {format_duration(shortest)} to "
                         f"{format_duration(longest)}")
    raise ValueError("a duration is a whole number and a unit: 30s, 5m, 2h or 7d")


def parse_window(value: Any) -> int:
    """A window: a duration of at least one minute (one freshness slice)."""
    return parse_duration(value, SHORTEST_WINDOW)


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
    """`99.9%` or `0.999` -> Decimal('0.999'), exactly; strictly between 0 and 1, with at
    most OBJECTIVE_PLACES decimals as a ratio."""
    percent = isinstance(value, str) and value.strip().endswith("%")
    if percent:
        number = _decimal(value.strip()[:-1])
    elif isinstance(value, int | float | str) and not isinstance(value, bool):
        number = _decimal(str(value))
    else:
        raise ValueError(f"an objective is {OBJECTIVE_FORMS}")
    scale = 100 if percent else 1
    if not number.is_finite():
        raise ValueError(f"an objective is a finite number: {OBJECTIVE_FORMS}")
    if not 0 < number < scale:
        raise ValueError("an objective must be above 0% and below 100% (100% leaves no "
                         "error budget)")
    if _places(number) > OBJECTIVE_PLACES - (2 if percent else 0):
        raise ValueError(f"an objective has at most {OBJECTIVE_PLACES} decimals as a ratio "
                         f"({OBJECTIVE_PLACES - 2} as a percentage)")
    return number / scale  # exact: a handful of digits


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"an objective is {OBJECTIVE_FORMS}") from None


def _places(number: Decimal) -> int:
    """Decimals of `number`, trailing zeros aside (read off its digits: no rounding)."""
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + min(trailing, max(0, -exponent))))


def _where_value(value: Any) -> Any:
    """`where` values are compared as JSON: finite numbers within 64 bits, as events hold."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("a where value is a finite number, a string or true/false")
        if isinstance(item, int) and not isinstance(item, bool) and not -INT64 <= item < INT64:
            raise ValueError("a where number fits in 64 bits (at most 19 digits)")
    return value


Duration = Annotated[int, BeforeValidator(parse_duration), WithJsonSchema(
    {"type": "string", "pattern": r"^[0-9]+[smhd]$", "examples": ["30s", "5m", "2h", "7d"]})]
Window = Annotated[int, BeforeValidator(parse_window), WithJsonSchema(
    {"type": "string", "pattern": r"^[0-9]+[smhd]$", "examples": ["1h", "1d", "7d", "30d"]})]
Objective = Annotated[Decimal, BeforeValidator(parse_objective), WithJsonSchema(
    {"anyOf": [{"type": "string", "pattern": r"^[0-9]{1,2}(\.[0-9]{1,18})?%$"},
               {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}],
     "examples": ["99.9%", 0.999]})]
Scalar = str | int | float | bool
WhereValue = Annotated[Scalar | list[Scalar], AfterValidator(_where_value)]
Severity = Literal["critical", "warning", "info"]


class OneOrList:
    """JSON Schema of a field written as one value or a list of them (`on: a` or `on: [a, b]`):
    the model holds a tuple, the file may hold either. `min_items`: of the list."""

    def __init__(self, min_items: int = 0) -> None:
        self.min_items = min_items

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler
                                     ) -> dict[str, Any]:
        array = handler(schema)
        if self.min_items:
            array["minItems"] = self.min_items
        return {"anyOf": [array.get("items", {}), array]}


Names = Annotated[tuple[str, ...], BeforeValidator(lambda v: (v,) if isinstance(v, str) else v),
                  OneOrList()]


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
    fails_on: Names = Field((), description="Event types that record a failed attempt at "
                            "this stage (e.g. gateway.request.failed): shown as failed "
                            "attempts in a lead's timeline; they never mark a stage.")


class Journey(Frozen):
    key: Literal[ENVELOPE_KEYS] = Field(  # type: ignore[valid-type]
        "correlationid", description="Envelope attribute holding the journey key.")
    stages: tuple[Stage, ...] = Field(min_length=2, description="The stages, in order.")


# --- Alerts: the rules' names and the per-SLA `alerts:` override (config/alerts.yaml holds
# the policy it overrides, see slas/alerting.py; both use these models).
RULES = ("SLABreached", "ErrorBudgetBurn", "JourneysStalled", "DeliveryFailing")
SLA_RULES = ("SLABreached", "ErrorBudgetBurn")  # the others are raised per stage, per source
MAX_BURN_FACTOR = Decimal(1000)


def between(low: int, high: int) -> AfterValidator:
    """A duration bound, said in the units the file uses: `must be between 1m and 7d`."""
    def check(seconds: int) -> int:
        if not low <= seconds <= high:
            raise ValueError(f"must be between {format_duration(low)} and "
                             f"{format_duration(high)}")
        return seconds
    return AfterValidator(check)


def _rule(value: Any) -> Any:
    if isinstance(value, str) and value not in RULES:
        raise ValueError(f"unknown rule; the rules are {', '.join(RULES)}")
    return value


def _sla_rule(value: Any) -> Any:
    if isinstance(value, str) and value not in SLA_RULES:
        what = "unknown rule" if value not in RULES else (
            "not a rule of an SLA (JourneysStalled is raised per journey stage, "
            "DeliveryFailing per source)")
        raise ValueError(f"{what}; an SLA chooses among {', '.join(SLA_RULES)}")
    return value


def parse_factor(value: Any) -> Decimal:
    """A burn-rate factor (`14.4`) -> Decimal('14.4'), exactly; above 0, at most 1000."""
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidOperation
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("a burn-rate factor is a number such as 14.4") from None
    if not number.is_finite() or not 0 < number <= MAX_BURN_FACTOR:
        raise ValueError(f"a burn-rate factor must be above 0 and at most {MAX_BURN_FACTOR}")
    return number


Rule = Annotated[str, BeforeValidator(_rule), WithJsonSchema({"enum": list(RULES)})]
SlaRule = Annotated[str, BeforeValidator(_sla_rule), WithJsonSchema({"enum": list(SLA_RULES)})]
Factor = Annotated[Decimal, BeforeValidator(parse_factor), WithJsonSchema(
    {"type": "number", "exclusiveMinimum": 0, "maximum": 1000, "examples": [14.4, 6, 1]})]
BurnSpan = Annotated[Duration, between(60, 30 * UNITS["d"])]


class BurnWindow(Frozen):
    """One multi-window burn-rate condition: the burn rate is at least `factor` over both
    the long and the short window (Google SRE workbook, chapter 5)."""

    long_s: BurnSpan = Field(alias="long", description="The long window (e.g. 1h): the "
                             "burn must be sustained this long (1m to 30d).")
    short_s: BurnSpan = Field(alias="short", description="The short window (e.g. 5m), "
                              "shorter than `long`: the alert resolves soon after the burn "
                              "stops.")
    factor: Factor = Field(description="Burn rate to reach over both windows: 1 spends the "
                           "error budget exactly over the SLA's window, 14.4 spends 2% of a "
                           "30-day budget in an hour.")

    @model_validator(mode="after")
    def _short_is_shorter(self) -> BurnWindow:
        if self.short_s >= self.long_s:
            raise ValueError(f"the short window ({format_duration(self.short_s)}) must be "
                             f"shorter than the long window ({format_duration(self.long_s)})")
        return self

    def __str__(self) -> str:
        return (f"{format_duration(self.long_s)}/{format_duration(self.short_s)} "
                f"x{self.factor}")


class BurnOverride(Frozen):
    fast: tuple[BurnWindow, ...] | None = Field(None, description="Windows of the `fast` "
                                                "burn alert (severity critical); [] turns it "
                                                "off. Default: the policy's.")
    slow: tuple[BurnWindow, ...] | None = Field(None, description="Windows of the `slow` "
                                                "burn alert (severity warning); [] turns it "
                                                "off. Default: the policy's.")


class SlaAlerts(Frozen):
    """An SLA's own alerting, over the policy of config/alerts.yaml: fields given override
    the policy, the others follow it. `alerts: off` (or `false`) is `{rules: []}`."""

    rules: tuple[SlaRule, ...] | None = Field(None, description="The rules this SLA raises "
                                              "(SLABreached, ErrorBudgetBurn); [] for none. "
                                              "Default: the policy's.")
    min_events: int | None = Field(None, ge=1, le=1_000_000, description="A burn-rate window "
                                   "with fewer outcomes than this never fires. Default: the "
                                   "policy's.")
    burn: BurnOverride | None = Field(None, description="ErrorBudgetBurn windows; `fast` and "
                                      "`slow` each default to the policy's.")


def _alerts_switch(value: Any) -> Any:
    if value is False or value == "off":
        return {"rules": []}
    if value is not None and not isinstance(value, dict):
        raise ValueError("alerts is `off` (or false), or a mapping of rules, min_events and "
                         "burn; leave it out to follow the policy of config/alerts.yaml")
    return value


class _OffOrMapping:
    """JSON Schema of `alerts`: the words `off`/`false` as well as the mapping."""

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler
                                     ) -> dict[str, Any]:
        inner = handler(schema)
        options = inner.pop("anyOf") if "anyOf" in inner else [inner]
        return {"anyOf": [{"const": "off"}, {"const": False}, *options]}


AlertsSwitch = Annotated[SlaAlerts | None, BeforeValidator(_alerts_switch), _OffOrMapping()]


class SlaBase(Frozen):
    name: str = Field(pattern=NAME, description="Unique SLA name across all files "
                                                "(lowercase, digits, . _ -).")
    description: str | None = Field(None, description="The promise, in plain words.")
    team: str = Field(description="The team (a key of `teams`) that owns this SLA.")
    objective: Objective = Field(description="Share of good events to reach: 99.9% or 0.999.")
    warn: Objective | None = Field(None, description="Optional stricter objective: status "
                                   "`warning` while the SLI is below it.")
    window: Window = Field(description="Rolling window the SLI is computed over (e.g. 7d); "
                           "from 1m to 400d.")
    severity: Severity = Field(
        "critical", description="Severity of breaches of this SLA.")
    alerts: AlertsSwitch = Field(None, description="This SLA's alerting: `off`, or a mapping "
                                 "(rules, min_events, burn) overriding the policy of "
                                 "config/alerts.yaml. Default: the policy.")


class JourneySla(SlaBase):
    journey: str = Field(description="The journey (a key of `journeys`) measured.")
    from_: str = Field(alias="from", description="Stage where the clock starts.")
    to: str = Field(description="Stage where the clock stops.")
    where: dict[str, WhereValue] = Field(
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
    type: Annotated[tuple[str, ...], BeforeValidator(_event_types), OneOrList()] = Field(
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
