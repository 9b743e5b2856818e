"""Loading `config/slas/*.yaml` into one validated, immutable `Definitions`.

Parsing never touches the store. Every problem in every file is reported in one pass, each as
`file:line: path.to.field: message (got value)`; `DefinitionError.errors` holds the lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from collectors.yamlfile import (
    Lines,
    YamlSyntaxError,
    dotted,
    load_yaml,
    pydantic_errors,
    read_text,
)
from slas.errors import DefinitionError
from slas.spec import (
    KINDS,
    VERSION,
    BurnWindow,
    CompletenessSla,
    FreshnessSla,
    Journey,
    LatencySla,
    Sla,
    SpecFile,
    Team,
    format_duration,
    format_objective,
)

DEFAULT_STALL_AFTER = 15 * 60


@dataclass(frozen=True)
class Definitions:
    """Every team, journey and SLA of a configuration folder, validated together."""

    teams: Mapping[str, Team]
    journeys: Mapping[str, Journey]
    slas: tuple[Sla, ...]
    files: Mapping[str, str] = field(default_factory=dict, compare=False)

    def sla(self, name: str) -> Sla:
        for sla in self.slas:
            if sla.name == name:
                return sla
        raise KeyError(name)

    def stall_after(self, journey: str, index: int) -> int:
        stage = self.journeys[journey].stages[index]
        return stage.stall_after or DEFAULT_STALL_AFTER


def load_folder(config: str | Path) -> Definitions:
    """Load every `*.yaml` in `<config>/slas/` (or `config` itself if it holds them)."""
    folder = Path(config)
    slas_dir = folder / "slas" if (folder / "slas").is_dir() else folder
    if not slas_dir.is_dir():
        raise DefinitionError([f"{slas_dir}: no such folder; pass --config with the folder "
                               "holding slas/*.yaml"])
    files = sorted(slas_dir.glob("*.yaml")) + sorted(slas_dir.glob("*.yml"))
    if not files:
        raise DefinitionError([f"{slas_dir}: no SLA files (*.yaml) found; add one, see "
                               "config/slas/leads.yaml"])
    texts: dict[str, str] = {}
    unreadable: list[str] = []
    for path in files:  # a folder named x.yaml, a dangling link, latin-1: each one sentence
        try:
            texts[str(path)] = read_text(path)
        except YamlSyntaxError as exc:
            unreadable.append(str(exc))
    return _load(texts, unreadable)


def load_texts(texts: Mapping[str, str]) -> Definitions:
    """Validate the given files (name -> YAML text) together; DefinitionError if any fail."""
    return _load(texts, [])


def _load(texts: Mapping[str, str], errors: list[str]) -> Definitions:
    parsed: list[Parsed] = []
    complete = True
    for name, text in texts.items():
        part, problems, whole = _parse_file(name, text)
        errors = errors + problems
        complete = complete and whole
        if part is not None:
            parsed.append(part)
    definitions, problems = _merge(parsed, dict(texts))
    errors += problems
    if errors:
        raise DefinitionError(errors, complete=complete)
    return definitions


def check_texts(texts: Mapping[str, str]) -> list[str]:
    """All errors of the given files, [] when valid (what the editor shows as you type)."""
    try:
        load_texts(texts)
    except DefinitionError as exc:
        return exc.errors
    return []


SLA = TypeAdapter(Sla)


@dataclass(frozen=True)
class Parsed:
    """The valid parts of one file; `positions[i]` is the index in the file of `spec.slas[i]`
    (SLAs with errors are left out)."""

    spec: SpecFile
    lines: Lines
    positions: tuple[int, ...]


def _parse_file(name: str, text: str) -> tuple[Parsed | None, list[str], bool]:
    """The file's valid parts, and every error of its parts: each team, journey and SLA is
    validated on its own, so the valid ones are still cross-checked (unknown teams...).
    The flag is False when some part was left out of the cross-checks."""
    try:
        data, lines = load_yaml(text, name)
    except YamlSyntaxError as exc:
        return None, [str(exc)], False
    if not isinstance(data, dict):
        return None, [f"{name}:1: (top level): the file must be a mapping with "
                      f"'version: {VERSION}', 'teams', 'journeys' and 'slas'"], False
    if (problem := version_problem(data, lines)) is not None:
        return None, [problem], False
    errors: list[str] = []
    parts: dict[str, Any] = {}
    for section, model in (("teams", Team), ("journeys", Journey)):
        if isinstance(data.get(section), dict):
            parts[section] = _valid({key: (model.model_validate, value, (section, key))
                                     for key, value in data[section].items()}, lines, errors)
    slas: dict[Any, Any] = {}
    if isinstance(data.get("slas"), list):
        slas = _valid({index: (SLA.validate_python, value, ("slas", index))
                       for index, value in enumerate(data["slas"])}, lines, errors)
        parts["slas"] = tuple(slas.values())
    whole, top = not errors, []
    try:
        spec = SpecFile.model_validate({**data, **parts})
    except ValidationError as exc:  # the top level: unknown fields, sections of a wrong type
        top = pydantic_errors(exc, lines, skip=KINDS)
        spec = SpecFile.model_validate({"version": VERSION, **parts})
    return Parsed(spec, lines, tuple(slas)), top + errors, whole


def _valid(items: dict[Any, tuple[Any, Any, tuple[Any, ...]]], lines: Lines,
           errors: list[str]) -> dict[Any, Any]:
    """Validate each item (`key: (validator, value, path)`); the valid ones, by key."""
    out = {}
    for key, (validate, value, path) in items.items():
        try:
            out[key] = validate(value)
        except ValidationError as exc:
            errors += pydantic_errors(exc, lines, path, skip=KINDS)
    return out


def version_problem(data: Mapping[str, Any], lines: Lines) -> str | None:
    """The error line of a file whose `version` is missing or not baton/v1, else None."""
    got = data.get("version")
    if got == VERSION:
        return None
    what = "is missing" if got is None else f"{got!r} is not supported"
    return f"{lines.where(['version'])}: version: {what}; expected 'version: {VERSION}'"


def _merge(parsed: list[Parsed], texts: dict[str, str]
           ) -> tuple[Definitions, list[str]]:
    teams: dict[str, Team] = {}
    journeys: dict[str, Journey] = {}
    slas: list[Sla] = []
    errors: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for part in parsed:
        spec, lines = part.spec, part.lines
        for section, items in (("teams", spec.teams), ("journeys", spec.journeys)):
            for key in items:
                errors += _unique(seen, section, key, lines, [section, key])
        for index, sla in zip(part.positions, spec.slas, strict=True):
            errors += _unique(seen, "slas", sla.name, lines, ["slas", index, "name"])
        teams.update(spec.teams)
        journeys.update(spec.journeys)
        slas.extend(spec.slas)
    definitions = Definitions(teams, journeys, tuple(slas), texts)
    for part in parsed:
        errors += [f"{part.lines.where(path)}: {dotted(path)}: {message}"
                   for path, message in _cross_checks(part, definitions)]
    return definitions, errors


def _unique(seen: dict[tuple[str, str], str], section: str, name: str, lines: Lines,
            path: list[Any]) -> list[str]:
    where = lines.where(path)
    first = seen.setdefault((section, name), where)
    if first == where:
        return []
    return [f"{where}: {dotted(path)}: {section[:-1]} {name!r} is already defined at {first}; "
            "names are unique across files"]


Problem = tuple[list[Any], str]


def _cross_checks(part: Parsed, defs: Definitions) -> Iterator[Problem]:
    for name, journey in part.spec.journeys.items():
        yield from _journey_checks(name, journey, defs)
    for index, sla in zip(part.positions, part.spec.slas, strict=True):
        yield from _sla_checks(["slas", index], sla, defs)


def _journey_checks(name: str, journey: Journey, defs: Definitions) -> Iterator[Problem]:
    stage_names: set[str] = set()
    marked_by: dict[str, str] = {}
    for index, stage in enumerate(journey.stages):
        path = ["journeys", name, "stages", index]
        if stage.name in stage_names:
            yield path + ["name"], f"stage {stage.name!r} appears twice in journey {name!r}"
        stage_names.add(stage.name)
        if stage.owner not in defs.teams:
            yield path + ["owner"], unknown("team", stage.owner, defs.teams)
        for etype in stage.on:
            if etype in marked_by:
                yield path + ["on"], (f"event type {etype!r} already marks stage "
                                      f"{marked_by[etype]!r}; a type marks one stage")
            marked_by[etype] = stage.name
    yield from _fails_on_checks(name, journey, marked_by)


def _fails_on_checks(name: str, journey: Journey, marked_by: dict[str, str]
                     ) -> Iterator[Problem]:
    failing: dict[str, str] = {}
    for index, stage in enumerate(journey.stages):
        path = ["journeys", name, "stages", index, "fails_on"]
        for etype in stage.fails_on:
            if etype in marked_by:
                yield path, (f"event type {etype!r} marks stage {marked_by[etype]!r}; a type "
                             "that records failed attempts cannot also mark a stage")
            elif etype in failing:
                yield path, (f"event type {etype!r} already records failed attempts at stage "
                             f"{failing[etype]!r}; a type belongs to one stage")
            failing.setdefault(etype, stage.name)


def _sla_checks(path: list[Any], sla: Sla, defs: Definitions) -> Iterator[Problem]:
    if sla.team not in defs.teams:
        yield path + ["team"], unknown("team", sla.team, defs.teams)
    if sla.warn is not None and sla.warn <= sla.objective:
        yield path + ["warn"], (f"warn ({format_objective(sla.warn)}) must be stricter than "
                                f"the objective ({format_objective(sla.objective)})")
    yield from _alerts_checks(path + ["alerts"], sla)
    if isinstance(sla, FreshnessSla):
        yield from _longer(path, sla.window, "max_age", sla.max_age)
        return
    yield from _stage_checks(path, sla, defs)
    if isinstance(sla, LatencySla):
        yield from _longer(path, sla.window, "threshold", sla.threshold)
    elif isinstance(sla, CompletenessSla):
        yield from _longer(path, sla.window, "within", sla.within)


def _stage_checks(path: list[Any], sla: LatencySla | CompletenessSla, defs: Definitions
                  ) -> Iterator[Problem]:
    journey = defs.journeys.get(sla.journey)
    if journey is None:
        yield path + ["journey"], unknown("journey", sla.journey, defs.journeys)
        return
    names = [stage.name for stage in journey.stages]
    for attr, field_name in (("from_", "from"), ("to", "to")):
        if getattr(sla, attr) not in names:
            yield path + [field_name], (f"stage {getattr(sla, attr)!r} is not in journey "
                                        f"{sla.journey!r}; its stages are {', '.join(names)}")
    if sla.from_ in names and sla.to in names and names.index(sla.from_) >= names.index(sla.to):
        yield path + ["to"], (f"stage {sla.to!r} must come after {sla.from_!r} in journey "
                              f"{sla.journey!r}")


def _longer(path: list[Any], window: int, name: str, value: int) -> Iterator[Problem]:
    if window <= value:
        yield path + ["window"], (f"the window ({format_duration(window)}) must be longer "
                                  f"than {name} ({format_duration(value)})")


def _alerts_checks(path: list[Any], sla: Sla) -> Iterator[Problem]:
    burn = sla.alerts.burn if sla.alerts is not None else None
    for speed in ("fast", "slow"):
        windows = None if burn is None else getattr(burn, speed)
        for index, field_name, message in burn_window_problems(sla, windows or ()):
            yield path + ["burn", speed, index, field_name], message


def burn_window_problems(sla: Sla, windows: Iterable[BurnWindow]
                         ) -> Iterator[tuple[int, str, str]]:
    """(index, field, message) of each burn window this SLA cannot use: a factor above the
    highest burn rate its objective allows (every event bad: 1 / (1 - objective)). A window
    may be longer than the SLA's own: a burn rate counts the outcomes that became known in
    its span, whenever their journeys began."""
    highest = 1 / (1 - sla.objective)
    shown = f"{highest.quantize(Decimal('0.01')).normalize():f}"
    for index, window in enumerate(windows):
        if window.factor > highest:
            yield index, "factor", (f"a burn rate of {window.factor} can never be reached: "
                                    f"with an objective of {format_objective(sla.objective)} "
                                    f"it is at most {shown} (every event bad)")


def unknown(what: str, name: str, known: Iterable[str]) -> str:
    """`unknown team 'ops'; defined teams: platform, sales-ops`."""
    options = ", ".join(sorted(known)) or "none defined"
    return f"unknown {what} {name!r}; defined {what}s: {options}"
