"""config/baton.yaml: defaults when absent, every mistake in one pass as file:line, retention
checked against what the SLAs read, and `baton validate` running the same loader."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import definitions
from pydantic import ValidationError
from service_helpers import config_dir

from app.cli import main
from app.settings import load_settings, parse_settings
from slas.errors import DefinitionError

DAY = 86400
REPO_CONFIG = Path(__file__).resolve().parents[1] / "config"


def errors(text: str, **kwargs) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse_settings(text, "baton.yaml", **kwargs)
    return caught.value.errors


def test_without_the_file_the_retention_defaults_apply(tmp_path: Path) -> None:
    retention = load_settings(tmp_path).retention
    assert (retention.events, retention.rejects, retention.results,
            retention.notifications) == (35 * DAY, 35 * DAY, 400 * DAY, 400 * DAY)


def test_the_example_config_is_valid_and_states_the_defaults() -> None:
    assert load_settings(REPO_CONFIG) == load_settings(Path("/nonexistent"))


def test_given_durations_override_the_defaults_and_the_model_is_frozen() -> None:
    settings = parse_settings("version: baton/v1\nretention:\n  events: 90d\n  rejects: 12h\n"
                              "  notifications: 3650d\n", "baton.yaml")
    assert settings.retention.events == 90 * DAY and settings.retention.rejects == 12 * 3600
    assert settings.retention.notifications == 3650 * DAY  # longer than an SLA window may be
    assert settings.retention.results == 400 * DAY
    with pytest.raises(ValidationError):
        settings.retention.events = 1  # type: ignore[misc]


@pytest.mark.parametrize("text, expected", [
    ("version: baton/v1\nretention:\n  events: forever\n",
     ["baton.yaml:3: retention.events: a duration is a whole number and a unit: 30s, 5m, 2h "
      "or 7d (got 'forever')"]),
    ("version: baton/v1\nretention:\n  rejects: 0d\n  result: 400d\n",
     ["baton.yaml:3: retention.rejects: a duration here is from 1m to 3650d (got '0d')",
      "baton.yaml:4: retention.result: unknown field; check its spelling against the "
      "reference (got '400d')"]),
    ("version: baton/v2\nretention: {}\n",
     ["baton.yaml:1: version: 'baton/v2' is not supported; expected 'version: baton/v1'"]),
    ("retention:\n  events: 35d\n",
     ["baton.yaml:1: version: is missing; expected 'version: baton/v1'"]),
    ("- events\n", ["baton.yaml:1: (top level): the file must be a mapping with 'version: "
                    "baton/v1' and 'retention'"]),
    ("version: baton/v1\nretention: [\n", None),
], ids=["bad-duration", "two-at-once", "version", "no-version", "not-a-mapping", "not-yaml"])
def test_each_mistake_is_one_line_with_file_line_and_field(text: str, expected) -> None:
    found = errors(text)
    if expected is None:
        assert len(found) == 1 and found[0].startswith("baton.yaml:") and "not valid YAML" in (
            found[0])
    else:
        assert found == expected


def test_events_kept_shorter_than_an_sla_reads_back_is_refused_with_the_minimum() -> None:
    text = "version: baton/v1\nretention:\n  rejects: 1d\n  events: 2d\n  results: soon\n"
    found = errors(text, definitions=definitions(), longest_span_s=3 * DAY)
    assert found == [
        "baton.yaml:4: retention.events: 2d would delete events that the stalls view (7d) "
        "still reads; keep them at least 7d",
        "baton.yaml:5: retention.results: a duration is a whole number and a unit: 30s, 5m, "
        "2h or 7d (got 'soon')"]
    long_window = definitions().slas[0].model_copy(update={"window": 30 * DAY})
    defs = definitions()
    wider = type(defs)(defs.teams, defs.journeys, (long_window, *defs.slas[1:]))
    [message] = errors("version: baton/v1\nretention:\n  events: 14d\n", definitions=wider)
    assert message == ("baton.yaml:3: retention.events: 14d would delete events that SLA "
                       "'fast' (30d back, plus 10m to its deadline) still reads; keep them at "
                       "least 31d")


def test_baton_validate_reports_baton_yaml_mistakes_with_the_others(tmp_path: Path,
                                                                   capsys) -> None:
    config = config_dir(tmp_path / "config")
    (config / "baton.yaml").write_text("version: baton/v1\nretention:\n  events: 1d\n"
                                       "  notification: 1d\n")
    assert main(["--config", str(config), "validate"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:2] == [
        f"{config}/baton.yaml:3: retention.events: 1d would delete events that the stalls "
        "view (7d) still reads; keep them at least 7d",
        f"{config}/baton.yaml:4: retention.notification: unknown field; check its spelling "
        "against the reference (got '1d')"]
    assert err[2] == f"2 error(s) in {config}"
    (config / "baton.yaml").write_text("version: baton/v1\nretention:\n  events: 7d\n")
    assert main(["--config", str(config), "validate"]) == 0
