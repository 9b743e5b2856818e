"""The OpenSLO v1 format: its field tables as frozen pydantic models, and reading a stream.

Written from the specification (OpenSLO/OpenSLO README.md, "Object Types") and the rules of
the reference validator (OpenSLO/go-sdk `pkg/openslo/v1`): required fields, enums, ranges,
name and annotation-key patterns, one time window, one alert condition, unknown fields
refused. No maintained JSON Schema or Python validator exists (the repository's schema was
removed in 2024; the `oslo` tool is Go), so these models are what Baton checks OpenSLO
documents against, in both directions (see docs/openslo.md).

`read_stream(text, file)` returns every object of a multi-document YAML stream (a document
may also be a list of objects, as the go-sdk examples are) with its line; `parse_object`
validates one, or says in one sentence why it is not OpenSLO v1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)

from collectors.yamlfile import FastLoader, YamlSyntaxError, load_documents
from slas.errors import SlaError

API_VERSION = "openslo/v1"
KINDS = ("Service", "DataSource", "SLI", "SLO", "AlertPolicy", "AlertCondition",
         "AlertNotificationTarget")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
LABEL_KEY = re.compile(r"[a-zA-Z0-9]([-._a-zA-Z0-9]{0,61}[a-zA-Z0-9])?")
ANNOTATION_KEY = re.compile(r"([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}"
                            r"[a-z0-9])?)*/)?[a-zA-Z0-9]([-._a-zA-Z0-9]{0,61}[a-zA-Z0-9])?")
DURATION = re.compile(r"([1-9][0-9]*)([mhdwMQY])")
MAX_DESCRIPTION, MAX_DISPLAY_NAME = 1050, 63


class OpenSloError(SlaError):
    """An OpenSLO file Baton cannot read at all (not YAML, no documents)."""


def _pattern(regex: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value
    return AfterValidator(check)


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as America/New_York"
                         ) from None
    return value


Name = Annotated[str, _pattern(DNS_LABEL, "a DNS label (RFC 1123: up to 63 lowercase "
                                          "letters, digits or '-', alphanumeric at both ends)")]
DurationShorthand = Annotated[str, _pattern(DURATION, "a duration shorthand: a positive "
                                                      "whole number and m, h, d, w, M, Q or Y")]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION)]
LabelKey = Annotated[str, _pattern(LABEL_KEY, "a label key")]
AnnotationKey = Annotated[str, Field(max_length=253 + 1 + 63),
                          _pattern(ANNOTATION_KEY, "an annotation key ([prefix/]name)")]
Operator = Literal["lte", "gte", "lt", "gt"]


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Metadata(Strict):
    name: Name
    displayName: Annotated[str, Field(max_length=MAX_DISPLAY_NAME)] | None = None
    labels: dict[LabelKey, str | list[str]] | None = None
    annotations: dict[AnnotationKey, str] | None = None


class MetricSource(Strict):
    metricSourceRef: Name | None = None
    type: str | None = None
    spec: Annotated[dict[str, Any], Field(min_length=1)]

    @model_validator(mode="after")
    def _typed(self) -> MetricSource:
        if self.metricSourceRef is None and not self.type:
            raise ValueError("a metricSource names its `type` unless it refers to a "
                             "DataSource with `metricSourceRef`")
        return self


class MetricSpec(Strict):
    metricSource: MetricSource


class RatioMetric(Strict):
    counter: bool | None = None
    good: MetricSpec | None = None
    bad: MetricSpec | None = None
    total: MetricSpec | None = None
    rawType: Literal["success", "failure"] | None = None
    raw: MetricSpec | None = None

    @model_validator(mode="after")
    def _one_form(self) -> RatioMetric:
        if self.raw is not None:
            if self.total or self.good or self.bad or self.rawType is None:
                raise ValueError("`raw` needs `rawType` and goes without good, bad and total")
        elif self.total is None or (self.good is None) == (self.bad is None):
            raise ValueError("a ratioMetric has `total` with exactly one of `good` and "
                             "`bad`, or `raw` with `rawType`")
        return self


class SliSpec(Strict):
    description: Description | None = None
    thresholdMetric: MetricSpec | None = None
    ratioMetric: RatioMetric | None = None

    @model_validator(mode="after")
    def _one_metric(self) -> SliSpec:
        if (self.thresholdMetric is None) == (self.ratioMetric is None):
            raise ValueError("an SLI has exactly one of thresholdMetric and ratioMetric")
        return self


class InlineSli(Strict):
    metadata: Metadata
    spec: SliSpec


class Calendar(Strict):
    startTime: Annotated[str, _pattern(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"),
                                       "a time such as 2022-01-01 12:00:00")]
    timeZone: Annotated[str, AfterValidator(_time_zone)]


class TimeWindow(Strict):
    duration: DurationShorthand
    isRolling: bool = False
    calendar: Calendar | None = None

    @model_validator(mode="after")
    def _rolling_or_calendar(self) -> TimeWindow:
        if self.isRolling == (self.calendar is not None):
            raise ValueError("a time window is rolling (isRolling: true) or calendar-aligned "
                             "(a calendar, isRolling: false), not both nor neither")
        return self


class Objective(Strict):
    displayName: str | None = None
    op: Operator | None = None
    value: float | None = None
    target: Annotated[float, Field(ge=0, lt=1)] | None = None
    targetPercent: Annotated[float, Field(ge=0, lt=100)] | None = None
    timeSliceTarget: Annotated[float, Field(gt=0, le=1)] | None = None
    timeSliceWindow: DurationShorthand | Annotated[int, Field(gt=0)] | None = None
    indicator: InlineSli | None = None
    indicatorRef: Name | None = None
    compositeWeight: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Objective:
        if (self.target is None) == (self.targetPercent is None):
            raise ValueError("an objective has exactly one of target and targetPercent")
        return self


class ConditionRef(Strict):
    conditionRef: Name


class TargetRef(Strict):
    targetRef: Name


class BurnRate(Strict):
    kind: Literal["burnrate"] = "burnrate"
    op: Operator
    threshold: float
    lookbackWindow: DurationShorthand
    alertAfter: DurationShorthand | None = None


class AlertConditionSpec(Strict):
    description: Description | None = None
    severity: Annotated[str, Field(min_length=1)]
    condition: BurnRate


class AlertNotificationTargetSpec(Strict):
    description: Description | None = None
    target: Annotated[str, Field(min_length=1)]


class InlineCondition(Strict):
    kind: Literal["AlertCondition"]
    metadata: Metadata
    spec: AlertConditionSpec


class InlineTarget(Strict):
    kind: Literal["AlertNotificationTarget"]
    metadata: Metadata
    spec: AlertNotificationTargetSpec


class AlertPolicySpec(Strict):
    description: Description | None = None
    alertWhenNoData: bool | None = None
    alertWhenResolved: bool | None = None
    alertWhenBreaching: bool | None = None
    conditions: Annotated[list[ConditionRef | InlineCondition], Field(min_length=1,
                                                                      max_length=1)]
    notificationTargets: Annotated[list[TargetRef | InlineTarget], Field(min_length=1)]


class AlertPolicyRef(Strict):
    alertPolicyRef: Name


class InlineAlertPolicy(Strict):
    kind: Literal["AlertPolicy"]
    metadata: Metadata
    spec: AlertPolicySpec


class SloSpec(Strict):
    description: Description | None = None
    service: Annotated[str, Field(min_length=1)]
    indicator: InlineSli | None = None
    indicatorRef: Name | None = None
    timeWindow: Annotated[list[TimeWindow], Field(min_length=1, max_length=1)] | None = None
    budgetingMethod: Literal["Occurrences", "Timeslices", "RatioTimeslices"]
    objectives: Annotated[list[Objective], Field(min_length=1)]
    alertPolicies: list[AlertPolicyRef | InlineAlertPolicy] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SloSpec:
        composite = any(o.indicator or o.indicatorRef for o in self.objectives)
        if composite == (self.indicator is not None or self.indicatorRef is not None):
            raise ValueError("an SLO has `indicator` or `indicatorRef` in its spec, or (a "
                             "composite SLO) in each objective, one of the two")
        if self.indicator is not None and self.indicatorRef is not None:
            raise ValueError("an SLO has `indicator` or `indicatorRef`, not both")
        for objective in self.objectives:
            _check_objective(self, objective)
        return self


def _check_objective(spec: SloSpec, objective: Objective) -> None:
    slices = spec.budgetingMethod != "Occurrences"
    if slices and objective.timeSliceWindow is None:
        raise ValueError(f"{spec.budgetingMethod} objectives need a timeSliceWindow")
    if spec.budgetingMethod == "Timeslices" and objective.timeSliceTarget is None:
        raise ValueError("Timeslices objectives need a timeSliceTarget")
    sli = spec.indicator.spec if spec.indicator is not None else None
    # The README lets objectives of a ratioMetric carry `op` (its own examples do; the
    # go-sdk refuses it): allowed here, meaningless there.
    if sli is not None and sli.thresholdMetric is not None and (
            objective.op is None or objective.value is None):
        raise ValueError("objectives of a thresholdMetric need `op` and `value`")


class ServiceSpec(Strict):
    description: Description | None = None


class DataSourceSpec(Strict):
    description: Description | None = None
    type: Annotated[str, Field(min_length=1)]
    connectionDetails: Any = Field(...)


def _object(kind: str, spec: type[BaseModel]) -> type[BaseModel]:
    fields: dict[str, Any] = {"apiVersion": (Literal["openslo/v1"], ...),
                              "kind": (Literal[kind], ...), "metadata": (Metadata, ...),
                              "spec": (spec, ...)}
    return create_model(kind, __base__=Strict, **fields)


SPECS: dict[str, type[BaseModel]] = {
    "Service": ServiceSpec, "DataSource": DataSourceSpec, "SLI": SliSpec, "SLO": SloSpec,
    "AlertPolicy": AlertPolicySpec, "AlertCondition": AlertConditionSpec,
    "AlertNotificationTarget": AlertNotificationTargetSpec}
OBJECTS = {kind: TypeAdapter(_object(kind, spec)) for kind, spec in SPECS.items()}


@dataclass(frozen=True)
class Raw:
    """One object of a stream as written, and where: `data` is whatever the YAML held."""

    data: Any
    line: int

    @property
    def label(self) -> str:
        """`SLO 'lead-routing-5m'`, or `the document at line 12` when it has no name."""
        data = self.data if isinstance(self.data, dict) else {}
        metadata = data.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        kind = data.get("kind") if isinstance(data.get("kind"), str) else "object"
        return f"{kind} {name!r}" if isinstance(name, str) else f"the {kind} at line {self.line}"


@dataclass(frozen=True)
class Parsed:
    """One valid OpenSLO v1 object: its kind, its validated model, its data as written."""

    kind: str
    name: str
    model: Any
    data: dict[str, Any]
    line: int

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.model.metadata.annotations or {})


class StreamLoader(FastLoader):
    """Baton's YAML 1.2 booleans, and times kept as text (`startTime: 2022-01-01 12:00:00`)."""


StreamLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in FastLoader.yaml_implicit_resolvers.items()}


def read_stream(text: str, file: str) -> list[Raw]:
    """Every object in the stream, in order, with its line; OpenSloError if it is not YAML
    (read by Baton's one YAML reader: aliases, numbers and nesting bounded)."""
    try:
        read = load_documents(text, file, StreamLoader)
    except YamlSyntaxError as exc:
        raise OpenSloError(f"{exc}; give a file of OpenSLO v1 documents") from None
    objects: list[Raw] = []
    for document, node in read:
        if isinstance(document, list) and isinstance(node, yaml.SequenceNode):
            objects += [Raw(item, child.start_mark.line + 1)
                        for item, child in zip(document, node.value, strict=True)]
        elif document is not None:
            objects.append(Raw(document, node.start_mark.line + 1))
    return objects


def parse_object(raw: Raw) -> Parsed | str:
    """The validated object, or one sentence saying why it is not OpenSLO v1."""
    data = raw.data
    if not isinstance(data, dict) or "apiVersion" not in data or "kind" not in data:
        return (f"{raw.label} is not an OpenSLO object: it needs apiVersion: {API_VERSION}, "
                f"a kind ({', '.join(KINDS)}), metadata and spec")
    if data["apiVersion"] != API_VERSION:
        return (f"{raw.label} has apiVersion {data['apiVersion']!r}; Baton reads "
                f"{API_VERSION} only")
    if data["kind"] not in OBJECTS:
        return f"{raw.label} has kind {data['kind']!r}; OpenSLO v1 kinds are {', '.join(KINDS)}"
    try:
        model = OBJECTS[data["kind"]].validate_python(data)
    except ValidationError as exc:
        return f"{raw.label} is not valid OpenSLO v1: {problems(exc)}"
    return Parsed(data["kind"], data["metadata"]["name"], model, data, raw.line)


def problems(exc: ValidationError) -> str:
    """`spec.budgetingMethod: field required; spec.objectives[0]: ...` (at most five)."""
    parts = []
    for error in exc.errors()[:5]:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]
                        if not (isinstance(p, str) and "[" in p))
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where.lstrip('.') or '(top level)'}: {message[:1].lower()}{message[1:]}")
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
