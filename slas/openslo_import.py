"""OpenSLO v1 documents back into `baton/v1` SLA definitions (`baton openslo import`).

    Service                  -> a team (any Service: its name, displayName, description)
    DataSource of type Baton -> a journey (connectionDetails: key and stages)
    SLO                      -> an SLA, read from its native fields (name, description,
                                service, objectives, timeWindow) and its `baton.dev/`
                                annotations; its SLI must be the one Baton measures for
                                that SLA (as `baton openslo export` writes it)
    AlertPolicy, AlertCondition, AlertNotificationTarget exported by Baton (annotated
    `baton.dev/source: config/alerts.yaml`) are left out: those settings stay in alerts.yaml.

Everything else is refused with one sentence naming the file, line, document and field and
why, e.g. an SLI that counts with a Prometheus query, a calendar window, a composite SLO.
Every refusal is reported in one pass; what maps is still written (and validated with the
real loader, `slas.definitions.load_texts`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from slas.definitions import load_texts
from slas.errors import DefinitionError
from slas.openslo import (
    BATON,
    PREFIX,
    budgeting_method,
    indicator_spec,
    objectives,
    target_number,
)
from slas.openslo_v1 import (
    OpenSloError,
    Parsed,
    SliSpec,
    parse_object,
    problems,
    read_stream,
)
from slas.spec import KINDS, VERSION, FreshnessSla, Journey, Sla, Team, parse_objective
from slas.spec_text import definitions_text, journey_data, team_data

ALERTING = ("AlertPolicy", "AlertCondition", "AlertNotificationTarget")
OWN_ALERTING = "config/alerts.yaml"
DOCS = "see docs/openslo.md"
KIND_FIELDS = {"latency": ("journey", "from", "to", "threshold", "where"),
               "completeness": ("journey", "from", "to", "within", "where"),
               "freshness": ("type", "source", "max_age")}
JSON_FIELDS = frozenset({"where", "type", "source", "alerts"})
NATIVE = {"name": "metadata.name", "description": "spec.description", "team": "spec.service",
          "objective": "spec.objectives", "warn": "spec.objectives",
          "window": "spec.timeWindow[0].duration", "kind": f"annotation {PREFIX}kind"}
LOADER_LINE = re.compile(r"^[^\n]*?:\d+: slas\[0\]\.?([^:]*): (.*)$")
WEEK_DAYS = 7


@dataclass
class Imported:
    """The baton/v1 text of what maps ('' when nothing does), and one sentence per refusal."""

    text: str
    refused: list[str] = field(default_factory=list)
    teams: dict[str, Team] = field(default_factory=dict)
    journeys: dict[str, Journey] = field(default_factory=dict)
    slas: list[Sla] = field(default_factory=list)


class Refused(Exception):
    """One document cannot be mapped; the message says why (without file and line)."""


def annotation_key(field_name: str) -> str:
    return PREFIX + field_name.replace("_", "-")


@dataclass
class _Context:
    file: str
    out: Imported
    services: dict[str, str] = field(default_factory=dict)  # Service name -> team key
    sources: dict[str, Parsed] = field(default_factory=dict)  # DataSource name -> object
    source_of: dict[str, str] = field(default_factory=dict)  # journey -> DataSource name
    slis: dict[str, Parsed] = field(default_factory=dict)
    used_slis: set[str] = field(default_factory=set)

    def refuse(self, parsed: Parsed | int, message: str) -> None:
        line = parsed if isinstance(parsed, int) else parsed.line
        self.out.refused.append(f"{self.file}:{line}: {message}")


def import_text(text: str, file: str) -> Imported:
    """Map every object of an OpenSLO v1 stream; OpenSloError when the file holds none."""
    raws = read_stream(text, file)
    if not raws:
        raise OpenSloError(f"{file} holds no OpenSLO documents; give a file of openslo/v1 "
                           "objects, such as `baton openslo export` writes")
    ctx = _Context(file, Imported(""))
    by_kind: dict[str, list[Parsed]] = {}
    for parsed in _unique(ctx, raws):
        by_kind.setdefault(parsed.kind, []).append(parsed)
    for parsed in by_kind.get("Service", []):
        _service(ctx, parsed)
    for parsed in by_kind.get("DataSource", []):
        _data_source(ctx, parsed)
    ctx.slis = {p.name: p for p in by_kind.get("SLI", [])}
    for parsed in by_kind.get("SLO", []):
        _guarded(ctx, parsed, _slo)
    for parsed in ctx.slis.values():
        if parsed.name not in ctx.used_slis:
            ctx.refuse(parsed, _unused_sli(parsed, ctx))
    for kind in ALERTING:
        for parsed in by_kind.get(kind, []):
            if parsed.annotations.get(PREFIX + "source") != OWN_ALERTING:
                ctx.refuse(parsed, f"{kind} {parsed.name!r}: Baton's alerting is set in "
                           "config/alerts.yaml (targets, routes, policy) and an SLA's "
                           "`alerts:`, not read from OpenSLO; write it there (see "
                           "docs/alerts-reference.md)")
    out = ctx.out
    if out.teams or out.journeys or out.slas:
        out.text = definitions_text(out.teams, out.journeys, out.slas, header=(
            f"Imported from {file} by `baton openslo import` ({DOCS})."))
        load_texts({"import.yaml": out.text})  # the real loader: what is printed is valid
    return out


def _unique(ctx: _Context, raws: list[Any]) -> Iterator[Parsed]:
    seen: dict[tuple[str, str], int] = {}
    for raw in raws:
        parsed = parse_object(raw)
        if isinstance(parsed, str):
            ctx.refuse(raw.line, parsed)
            continue
        first = seen.setdefault((parsed.kind, parsed.name), parsed.line)
        if first != parsed.line:
            ctx.refuse(parsed, f"{parsed.kind} {parsed.name!r} is defined twice (first at "
                       f"line {first}); names are unique per kind")
            continue
        yield parsed


def _guarded(ctx: _Context, parsed: Parsed, mapper: Any) -> None:
    try:
        mapper(ctx, parsed)
    except Refused as exc:
        ctx.refuse(parsed, f"{parsed.kind} {parsed.name!r}: {exc}")


def _baton_name(parsed: Parsed) -> str:
    return parsed.annotations.get(PREFIX + "name", parsed.name)


def _service(ctx: _Context, parsed: Parsed) -> None:
    notes, model = parsed.annotations, parsed.model
    key = _baton_name(parsed)
    name = notes.get(PREFIX + "display-name", model.metadata.displayName)
    description = notes.get(PREFIX + "description", model.spec.description)
    ctx.services[parsed.name] = key
    ctx.out.teams[key] = Team(name=key if name is None else name, description=description)


def _data_source(ctx: _Context, parsed: Parsed) -> None:
    kind = parsed.model.spec.type
    if kind.lower() != BATON.lower():
        ctx.refuse(parsed, f"DataSource {parsed.name!r} is of type {kind}: Baton measures "
                   f"the journeys of events it collects (DataSources of type {BATON}), not "
                   f"{kind} metrics ({DOCS})")
        return
    name = _baton_name(parsed)
    try:
        journey = Journey.model_validate(parsed.model.spec.connectionDetails)
    except ValidationError as exc:
        ctx.refuse(parsed, f"DataSource {parsed.name!r}: spec.connectionDetails is not a "
                   f"Baton journey: {problems(exc)}")
        return
    teams = {key: team_data(team) for key, team in ctx.out.teams.items()}
    owners = {s.owner: {"name": s.owner} for s in journey.stages if s.owner not in teams}
    try:  # the journey's own checks (stage names, event types); owners may be implicit
        load_texts({"journey": yaml.safe_dump({"version": VERSION, "teams": {
            **teams, **owners}, "journeys": {name: journey_data(journey)}})})
    except DefinitionError as exc:
        message = exc.errors[0].split(": ", 1)[1]
        ctx.refuse(parsed, f"DataSource {parsed.name!r}: spec.connectionDetails: {message}")
        return
    for owner in owners:
        ctx.out.teams.setdefault(owner, Team(name=owner, description=None))
    ctx.out.journeys[name] = journey
    ctx.sources[parsed.name] = parsed
    ctx.source_of[name] = parsed.name


def _slo(ctx: _Context, parsed: Parsed) -> None:
    spec = parsed.model.spec
    sli, sli_data, sli_where = _indicator(ctx, parsed)
    if (foreign := _foreign(sli, sli_where, ctx)) is not None:
        raise Refused(f"its SLI {foreign}, which Baton cannot measure; Baton measures "
                      f"journeys of events ({DOCS})")
    notes = parsed.annotations
    kind = notes.get(PREFIX + "kind")
    if kind not in KINDS:
        raise Refused(f"it has no {PREFIX}kind annotation naming a Baton SLA kind "
                      f"({', '.join(sorted(KINDS))}), so it is not an SLA `baton openslo "
                      f"export` wrote; Baton reads back only those ({DOCS})")
    team = ctx.services.get(spec.service, spec.service)
    data: dict[str, Any] = {"name": _baton_name(parsed)}
    description = notes.get(PREFIX + "description", spec.description)
    if description is not None:
        data["description"] = description
    data.update(team=team, kind=kind, **_kind_fields(kind, notes), **_targets(parsed),
                window=_window(parsed))
    if PREFIX + "severity" in notes:
        data["severity"] = notes[PREFIX + "severity"]
    if PREFIX + "alerts" in notes:
        data["alerts"] = _json(notes, "alerts")
    sla = _validated(ctx, data)
    _check_derived(ctx, parsed, sla, sli_data, sli_where)
    ctx.out.teams.setdefault(team, Team(name=team, description=None))
    ctx.out.slas.append(sla)


def _indicator(ctx: _Context, parsed: Parsed) -> tuple[SliSpec, Any, str]:
    spec = parsed.model.spec
    if spec.indicator is not None:
        return spec.indicator.spec, parsed.data["spec"]["indicator"]["spec"], \
            "spec.indicator.spec"
    if spec.indicatorRef is None:
        raise Refused("it is a composite SLO (an indicator per objective); a Baton SLA "
                      "measures one journey or one stream of events")
    sli = ctx.slis.get(spec.indicatorRef)
    if sli is None:
        raise Refused(f"spec.indicatorRef names SLI {spec.indicatorRef!r}, which is not in "
                      "the file; add it, or write the SLI inline as `indicator`")
    ctx.used_slis.add(sli.name)
    return sli.model.spec, sli.data["spec"], f"SLI {sli.name!r} spec"


def _metric_sources(sli: SliSpec) -> Iterator[tuple[str, Any]]:
    if sli.thresholdMetric is not None:
        yield "thresholdMetric", sli.thresholdMetric.metricSource
    if sli.ratioMetric is not None:
        for part in ("good", "bad", "total", "raw"):
            if (metric := getattr(sli.ratioMetric, part)) is not None:
                yield f"ratioMetric.{part}", metric.metricSource


def _foreign(sli: SliSpec, where: str, ctx: _Context) -> str | None:
    """How an SLI measures, when it is not with Baton's own metric sources; else None."""
    for path, source in _metric_sources(sli):
        ref = source.metricSourceRef
        kind = source.type or (ctx.sources[ref].model.spec.type if ref in ctx.sources else None)
        at = f"{where}.{path}.metricSource"
        if kind is None:
            return f"reads DataSource {ref!r} ({at}), which is not in the file or not Baton's"
        if kind.lower() != BATON.lower():
            what = "query" if "query" in source.spec else "metric"
            article = "an" if kind[:1].lower() in "aeiou" else "a"
            return f"counts with {article} {kind} {what} ({at})"
    return None


def _unused_sli(parsed: Parsed, ctx: _Context) -> str:
    foreign = _foreign(parsed.model.spec, "spec", ctx)
    if foreign is not None:
        return (f"SLI {parsed.name!r} {foreign}, which Baton cannot measure; Baton measures "
                f"journeys of events ({DOCS})")
    return (f"SLI {parsed.name!r} is used by no SLO in the file; Baton imports an SLI only "
            "with the SLO that measures with it")


def _kind_fields(kind: str, notes: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in KIND_FIELDS[kind]:
        key = annotation_key(name)
        if key in notes:
            data[name] = _json(notes, name) if name in JSON_FIELDS else notes[key]
        elif name not in ("where", "source"):
            raise Refused(f"it has no {key} annotation, which a {kind} SLA needs")
    return data


def _json(notes: dict[str, str], name: str) -> Any:
    key = annotation_key(name)
    try:
        return json.loads(notes[key])
    except ValueError:
        raise Refused(f"annotation {key} is not JSON ({notes[key]!r}); write it as Baton "
                      "exports it, e.g. " + ('{"qualified": true}' if name == "where" else
                                             '["com.acme.lead.created"]')) from None


def _targets(parsed: Parsed) -> dict[str, str]:
    """`objective` and `warn` (the stricter of two objectives), as exact text."""
    listed = parsed.model.spec.objectives
    if len(listed) > 2:
        raise Refused(f"it has {len(listed)} objectives; a Baton SLA has an objective and "
                      "at most one stricter `warn`")
    values = sorted((o.target, repr(o.target)) if o.target is not None else
                     (o.targetPercent / 100, f"{o.targetPercent!r}%") for o in listed)
    out = {}
    for name, (number, text) in zip(("objective", "warn"), values, strict=False):
        exact = parsed.annotations.get(annotation_key(name))
        if exact is not None:
            if not _same(exact, number):
                raise Refused(f"annotation {annotation_key(name)} ({exact}) disagrees with "
                              f"its objective's target ({text}); change both or remove the "
                              "annotation")
            text = exact
        out[name] = text
    return out


def _same(text: str, number: float) -> bool:
    try:
        return target_number(parse_objective(text)) == number
    except ValueError:
        return False


def _window(parsed: Parsed) -> str:
    windows = parsed.model.spec.timeWindow
    if not windows:
        raise Refused("it has no timeWindow; a Baton SLA has a rolling window, e.g. "
                      "timeWindow: [{duration: 7d, isRolling: true}]")
    window = windows[0]
    if window.calendar is not None:
        raise Refused(f"its timeWindow is calendar-aligned ({window.duration} from "
                      f"{window.calendar.startTime} {window.calendar.timeZone}); Baton's "
                      "windows are rolling, e.g. {duration: 28d, isRolling: true}")
    count, unit = int(window.duration[:-1]), window.duration[-1]
    if unit in "MQY":
        raise Refused(f"spec.timeWindow[0].duration {window.duration} counts months, "
                      "quarters or years, which have no fixed length; Baton's rolling "
                      "windows are exact, e.g. 30d")
    return f"{count * WEEK_DAYS}d" if unit == "w" else window.duration


def _validated(ctx: _Context, data: dict[str, Any]) -> Sla:
    """The SLA, checked by the real loader against the teams and journeys mapped so far."""
    teams = {key: team_data(team) for key, team in ctx.out.teams.items()}
    teams.setdefault(data["team"], {"name": data["team"]})
    text = yaml.safe_dump({"version": VERSION, "teams": teams, "journeys": {
        name: journey_data(j) for name, j in ctx.out.journeys.items()}, "slas": [data]})
    try:
        return load_texts({"slo": text}).slas[0]
    except DefinitionError as exc:
        raise Refused("; ".join(_origin(line) for line in exc.errors)) from None


def _origin(line: str) -> str:
    """A loader error about the SLA, said in terms of where the SLO holds that field."""
    match = LOADER_LINE.match(line)
    if match is None:
        return line.split(": ", 1)[-1]
    path, message = match[1], match[2]
    head, _, rest = path.partition(".")
    head = re.sub(r"\[\d+\]$", "", head)
    where = NATIVE.get(head, f"annotation {annotation_key(head)}")
    return f"{where}{(' ' + rest) if rest else ''}: {message}"


def _check_derived(ctx: _Context, parsed: Parsed, sla: Sla, sli_data: Any,
                   sli_where: str) -> None:
    """The parts of the SLO Baton derives from the SLA must be what it would write."""
    ref = None if isinstance(sla, FreshnessSla) else ctx.source_of.get(sla.journey)
    expected = indicator_spec(sla, ref)
    if (diff := _difference(sli_data, expected, "")) is not None:
        raise Refused(f"{sli_where}{diff} is not what Baton measures for the SLA its "
                      f"{PREFIX} annotations describe; Baton reads those annotations, so "
                      "change them, not the SLI")
    method = parsed.model.spec.budgetingMethod
    if method != budgeting_method(sla):
        raise Refused(f"spec.budgetingMethod is {method}; a {sla.kind} SLA is measured "
                      f"with {budgeting_method(sla)}")
    wanted = {k: v for k, v in objectives(sla)[0].items() if k not in ("displayName", "target")}
    for index, written in enumerate(parsed.data["spec"]["objectives"]):
        extra = {k: v for k, v in written.items()
                 if k not in ("displayName", "target", "targetPercent")}
        if extra != wanted:
            raise Refused(f"spec.objectives[{index}] has {extra or 'no time slices'}; a "
                          f"{sla.kind} SLA's objectives have {wanted or 'only a target'}")


def _difference(got: Any, want: Any, path: str) -> str | None:
    """` at PATH: got X, expected Y` for the first place two values differ; None if equal."""
    if isinstance(got, dict) and isinstance(want, dict):
        for key in list(want) + [k for k in got if k not in want]:
            if (found := _difference(got.get(key), want.get(key), f"{path}.{key}")) is not None:
                return found
        return None
    if got == want and type(got) is type(want) or (
            isinstance(got, int | float) and isinstance(want, int | float)
            and not isinstance(got, bool) and got == want):
        return None
    return f" at {path.lstrip('.')}: {got!r}, expected {want!r}"
