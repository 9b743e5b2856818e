"""`config/baton.yaml`: settings of Baton itself (so far: how long the store keeps what).

```yaml
version: baton/v1
retention:              # each a duration; these are the defaults
  events: 35d           # raw events and spans, and the derived journey tables with them
  rejects: 35d          # rejected records (raw payload and reason)
  results: 400d         # stored evaluations (the SLA time series), run and stall counts
  notifications: 400d   # sent and failed notifications (pending ones are never deleted)
```

A missing file means the defaults. Validation is the SLA files' kind: every problem in one
pass as `file:line: path: message`, and, given the definitions, a cross-check that `events`
keeps what every SLA reads (its window, the longest burn-rate span and its limit; the 7-day
stalls view) so pruning never changes a number of a live evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError, WithJsonSchema

from collectors.retention import Cutoffs
from collectors.yamlfile import Lines, YamlSyntaxError, load_yaml, pydantic_errors
from slas.alerting import AlertsConfig
from slas.definitions import Definitions, version_problem
from slas.errors import DefinitionError
from slas.rules import spans_for
from slas.spec import (
    VERSION,
    Frozen,
    format_duration,
    parse_duration,
)
from slas.stalls import DEFAULT_WINDOW_S

FILE = "baton.yaml"
DAY = 86400
LIMITS = ("threshold", "within", "max_age")  # how long after `from` an outcome settles


LONGEST_KEPT = 3650 * DAY  # ten years: results and notifications are kept for audits


def _kept(value: Any) -> int:
    return parse_duration(value, 60, LONGEST_KEPT)


Kept = Annotated[int, BeforeValidator(_kept), WithJsonSchema(
    {"type": "string", "pattern": r"^[0-9]+[smhd]$", "examples": ["35d", "400d"]})]


class Retention(Frozen):
    """How long the store keeps each kind of row (older rows are deleted by `baton serve`)."""

    events: Kept = Field(default=35 * DAY, description="Raw events and spans; journeys whose "
                             "every stage and attribute is older go with them.")
    rejects: Kept = Field(default=35 * DAY, description="Rejected records, with raw payload.")
    results: Kept = Field(default=400 * DAY, description="Stored evaluations: the SLA time "
                              "series, with each run's duration and stall counts.")
    notifications: Kept = Field(default=400 * DAY,
                                    description="Sent and failed notifications.")

    def cutoffs(self, now_us: int) -> Cutoffs:
        """The time before which each kind of row is deleted at `now_us`."""
        return Cutoffs(events_us=now_us - self.events * 1_000_000,
                       rejects_us=now_us - self.rejects * 1_000_000,
                       results_us=now_us - self.results * 1_000_000,
                       notifications_us=now_us - self.notifications * 1_000_000)


class Settings(Frozen):
    """The whole of `config/baton.yaml`."""

    version: str = Field(default=VERSION, description="Format version; must be baton/v1.")
    retention: Retention = Field(default=Retention(), description="How long the store keeps "
                                 "what.")


def load_settings(config: str | Path, definitions: Definitions | None = None,
                  alerting: AlertsConfig | None = None) -> Settings:
    """`<config>/baton.yaml` validated (defaults when there is none); DefinitionError lists
    every problem, including retention too short for `definitions` (and the burn-rate spans
    their alert policies measure)."""
    longest_span_s = 0 if definitions is None else max(
        spans_for(definitions, alerting).values()) // 1_000_000
    file = Path(config) / FILE
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError([f"{file}:1: cannot be read ({exc})"]) from None
    return parse_settings(text, str(file), definitions, longest_span_s)


def settings_errors(config: str | Path, definitions: Definitions | None = None,
                    alerting: AlertsConfig | None = None) -> list[str]:
    """Every error of `<config>/baton.yaml` ([] when valid): what `baton validate` prints."""
    try:
        load_settings(config, definitions, alerting)
    except DefinitionError as exc:
        return exc.errors
    return []


def parse_settings(text: str, file: str, definitions: Definitions | None = None,
                   longest_span_s: int = 0) -> Settings:
    try:
        data, lines = load_yaml(text, file)
    except YamlSyntaxError as exc:
        raise DefinitionError([str(exc)]) from None
    if data is None:
        return Settings()
    if not isinstance(data, dict):
        raise DefinitionError([f"{file}:1: (top level): the file must be a mapping with "
                               f"'version: {VERSION}' and 'retention'"])
    if (problem := version_problem(data, lines)) is not None:
        raise DefinitionError([problem])
    settings, errors = None, []
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        errors = pydantic_errors(exc, lines)
    events = _events_retention(data)
    if definitions is not None and events is not None:
        errors += retention_problems(events, lines, definitions, longest_span_s)
    if errors or settings is None:
        raise DefinitionError(sorted(errors, key=lambda e: _line(e, file)))
    return settings


def _events_retention(data: dict[str, Any]) -> int | None:
    """`retention.events` in seconds when it is valid (checked even if other fields are not)."""
    retention = data.get("retention")
    written = retention.get("events") if isinstance(retention, dict) else None
    if written is None:
        return Retention().events
    try:
        return _kept(written)
    except ValueError:
        return None


def _line(error: str, file: str) -> int:
    number = error[len(file) + 1:].partition(":")[0]
    return int(number) if number.isdigit() else 0


def retention_problems(events_s: int, lines: Lines, definitions: Definitions,
                       longest_span_s: int) -> list[str]:
    """`retention.events` shorter than what an SLA (or the stalls view) reads back from T."""
    needs = [(f"the stalls view ({format_duration(DEFAULT_WINDOW_S)})", DEFAULT_WINDOW_S)]
    for sla in definitions.slas:
        limit = next((getattr(sla, name) for name in LIMITS if getattr(sla, name, None)), 0)
        reach = max(sla.window, longest_span_s)
        needs.append((f"SLA {sla.name!r} ({format_duration(reach)} back, plus "
                      f"{format_duration(limit)} to its deadline)", reach + limit))
    what, longest = max(needs, key=lambda need: need[1])
    if events_s >= longest:
        return []
    return [f"{lines.where(['retention', 'events'])}: retention.events: "
            f"{format_duration(events_s)} would delete events that {what} still reads; keep "
            f"them at least {-(-longest // DAY)}d"]
