"""Loading `config/alerts.yaml` into a validated `AlertsConfig`.

Every problem is reported in one pass, each as `file:line: path.to.field: message (got value)`,
in the file's order (`DefinitionError.errors`). Given the SLA definitions, routes are also
checked against them: teams and SLAs named must be defined. A missing file is not an error:
`load_alerts` returns None (no alerts configured; the default policy applies to every SLA).
Values of secret-looking fields are never echoed in a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from collectors.sources import SECRET_KEYS
from collectors.yamlfile import YamlSyntaxError, dotted, load_yaml, pydantic_errors, read_text
from slas.alerting import TARGET_KINDS, AlertsConfig, policy_for
from slas.definitions import (
    Definitions,
    burn_window_problems,
    load_folder,
    unknown,
    version_problem,
)
from slas.errors import DefinitionError
from slas.spec import VERSION, BurnWindow, FreshnessSla, Sla, format_duration

ROUTING_KEYS = frozenset({"routing_key", "integration_key", "service_key"})
SECRET_FIELDS = SECRET_KEYS | ROUTING_KEYS | {"url"}
ENV_FIELDS = ("url_env", "routing_key_env")
KIND_TAGS = frozenset(TARGET_KINDS)  # pydantic puts the union tag into error locations
Problem = tuple[list[Any], str]


def load_alerting(config: str | Path) -> tuple[Definitions, AlertsConfig | None]:
    """The SLA definitions of a config folder and its alerts.yaml (None when it has none),
    validated together."""
    definitions = load_folder(config)
    return definitions, load_alerts(Path(config) / "alerts.yaml", definitions)


def load_alerts(path: str | Path, definitions: Definitions | None = None
                ) -> AlertsConfig | None:
    """The alerts configuration at `path`, or None when there is no such file."""
    file = Path(path)
    if not file.exists() and not file.is_symlink():  # a dangling link is an error, not absence
        return None
    try:
        text = read_text(file)
    except YamlSyntaxError as exc:
        raise DefinitionError([str(exc)]) from None
    return parse_alerts(text, str(file), definitions)


def parse_alerts(text: str, file: str, definitions: Definitions | None = None
                 ) -> AlertsConfig:
    """Validate one alerts file's text; DefinitionError lists every problem."""
    try:
        data, lines = load_yaml(text, file)
    except YamlSyntaxError as exc:
        raise DefinitionError([str(exc)]) from None
    if not isinstance(data, dict):
        raise DefinitionError([f"{file}:1: (top level): the file must be a mapping with "
                               f"'version: {VERSION}', 'targets', 'routes' and 'policy'"])
    if (problem := version_problem(data, lines)) is not None:
        raise DefinitionError([problem])
    clean, problems = _without_inline_secrets(data)
    config = None
    try:
        config = AlertsConfig.model_validate(clean)
    except ValidationError as exc:
        errors = [_unechoed(line) for line in pydantic_errors(exc, lines, skip=KIND_TAGS)]
    else:
        errors = []
    problems += _cross_checks(data, definitions)
    errors += [f"{lines.where(path)}: {dotted(path)}: {message}" for path, message in problems]
    if errors or config is None:
        raise DefinitionError(sorted(errors, key=lambda error: _line(error, file)))
    return config


def _line(error: str, file: str) -> int:
    number = error[len(file) + 1:].partition(":")[0]
    return int(number) if number.isdigit() else 0


def _unechoed(line: str) -> str:
    """An error about a field that may hold a secret, without the value it holds."""
    path = line.split(": ", 2)[1] if line.count(": ") >= 2 else ""
    field = re.sub(r"\[\d+\]$", "", path.rpartition(".")[2])
    if field.endswith("_env") or field in SECRET_FIELDS:
        return re.sub(r" \(got .*\)$", "", line)
    return line


def _without_inline_secrets(data: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """The data with secrets written in targets taken out, and a sentence for each: a
    routing key or a Slack webhook URL belongs in the environment, named by `*_env`."""
    targets = data.get("targets")
    if not isinstance(targets, dict):
        return data, []
    problems: list[Problem] = []
    kept: dict[Any, Any] = {}
    for name, raw in targets.items():
        if not isinstance(raw, dict):
            kept[name] = raw
            continue
        at = ["targets", str(name)]
        secrets = [key for key in raw if _is_secret(key, raw.get("kind"))]
        problems += [(at + [key], _secret_message(key, raw.get("kind"))) for key in secrets]
        if "kind" not in raw:
            problems.append((at, "a target needs `kind`: one of " + ", ".join(TARGET_KINDS)))
            continue
        kept[name] = {key: value for key, value in raw.items() if key not in secrets}
    return {**data, "targets": kept}, problems


def _is_secret(key: Any, kind: Any) -> bool:
    return key in SECRET_KEYS or key in ROUTING_KEYS or (
        key == "url" and kind in ("slack", "pagerduty"))


def _secret_message(key: str, kind: Any) -> str:
    if key in ROUTING_KEYS:
        return ("secrets are never written in the config; export the routing key and write "
                "`routing_key_env: NAME_OF_THE_VARIABLE`")
    if key == "url" and kind == "slack":
        return ("a Slack webhook URL is a secret; export it and write "
                "`url_env: NAME_OF_THE_VARIABLE`")
    if key == "url":
        return ("a literal url is allowed only for alertmanager and webhook targets; export "
                "the Events API URL and write `url_env: NAME_OF_THE_VARIABLE`")
    return ("secrets are never written in the config; remove it and name the environment "
            "variable holding the URL or key (`url_env`, `routing_key_env`)")


def _cross_checks(data: dict[str, Any], defs: Definitions | None) -> list[Problem]:
    """Names in routes against the targets, teams and SLAs defined, read from the routes as
    written, so that any other mistake in a route does not hide these."""
    targets = data.get("targets", {})
    routes = data.get("routes")
    if not isinstance(routes, list):
        return []
    problems: list[Problem] = []
    for index, raw in enumerate(routes):
        if not isinstance(raw, dict):
            continue
        at: list[Any] = ["routes", index]
        escalate = raw.get("escalate")
        if isinstance(targets, dict):
            problems += _names(at + ["to"], raw.get("to"), "target", targets)
            if isinstance(escalate, dict):
                problems += _names(at + ["escalate", "to"], escalate.get("to"), "target",
                                   targets)
        if defs is not None:
            problems += _names(at + ["team"], raw.get("team"), "team", defs.teams)
            problems += _names(at + ["sla"], raw.get("sla"), "sla",
                               {sla.name: sla for sla in defs.slas})
    return problems


def _names(path: list[Any], written: Any, what: str, known: Mapping[str, Any]
           ) -> Iterator[Problem]:
    """`unknown <what>` for each name written (a name or a list of names) not in `known`;
    what is not a name at all is the models' to report."""
    if isinstance(written, str):
        items = [(path, written)]
    elif isinstance(written, list):
        items = [(path + [index], name) for index, name in enumerate(written)]
    else:
        items = []
    for at, name in items:
        if isinstance(name, str) and name not in known:
            yield at, unknown(what, name, known)


def alert_warnings(config: AlertsConfig, file: str, definitions: Definitions | None,
                   environ: Mapping[str, str]) -> list[str]:
    """What is valid but will not work as written: variables unset in `environ`, targets no
    route sends to, and burn windows an SLA inherits but cannot use."""
    warnings = [f"{file}: targets.{name}.{field}: environment variable {variable} is not "
                f"set; {name} cannot send until it is exported"
                for name, field, variable in _variables(config)
                if not environ.get(variable)]
    routed = {t for route in config.routes
              for t in route.to + (route.escalate.to if route.escalate else ())}
    warnings += [f"{file}: targets.{name}: no route sends to this target"
                 for name in config.targets if name not in routed]
    if definitions is not None:
        warnings += _sla_warnings(config, file, definitions.slas)
    return warnings


def _variables(config: AlertsConfig) -> Iterator[tuple[str, str, str]]:
    for name, target in config.targets.items():
        for field in ENV_FIELDS:
            variable = getattr(target, field, None)
            if variable is not None:
                yield name, field, variable


def _sla_warnings(config: AlertsConfig, file: str, slas: Iterable[Sla]) -> Iterator[str]:
    """Burn windows an SLA inherits from the policy but cannot use, and windows a freshness
    SLA (one outcome a minute) can never fill with `min_events` outcomes."""
    for sla in slas:
        policy = policy_for(sla, config)
        if "ErrorBudgetBurn" not in policy.rules:
            continue
        own = sla.alerts.burn if sla.alerts is not None else None
        for speed, windows in policy.burn.items():
            if own is None or getattr(own, speed) is None:
                for index, field, message in burn_window_problems(sla, windows):
                    yield (f"{file}: policy.burn.{speed}[{index}].{field}: SLA {sla.name!r}: "
                           f"{message}; change policy.burn.{speed} or give the SLA its own "
                           f"`alerts: {{burn: {{{speed}: [...]}}}}`")
            if isinstance(sla, FreshnessSla):
                yield from _freshness_warnings(file, sla, speed, windows, policy.min_events)


def _freshness_warnings(file: str, sla: FreshnessSla, speed: str,
                        windows: Iterable[BurnWindow], min_events: int) -> Iterator[str]:
    for window in windows:
        if window.short_s // 60 < min_events:
            yield (f"{file}: SLA {sla.name!r}: its {speed} burn window "
                   f"{format_duration(window.short_s)} holds at most {window.short_s // 60} "
                   f"outcomes (freshness counts one a minute), fewer than min_events "
                   f"({min_events}), so it never fires; lower min_events for this SLA "
                   "(`alerts: {min_events: N}`)")
