"""Configuration at its edges: every number bounded where it is parsed, YAML that would eat the
machine (alias bombs, endless numbers, deep nesting) refused in one sentence by the one YAML
reader, unreadable files reported as errors, and every error of a file in one pass."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from app.auth import AuthError, load_users
from app.editor import file_slas, validate
from collectors.errors import SourceConfigError
from collectors.sources import load_sources, parse_sources
from collectors.yamlfile import MAX_ALIAS_VALUES, YamlSyntaxError, load_yaml
from slas.definitions import check_texts, load_folder
from slas.errors import DefinitionError
from slas.openslo_v1 import OpenSloError, read_stream
from slas.spec import parse_duration, parse_objective

SLA = ("version: baton/v1\nteams: {{web: {{name: Web}}}}\nslas:\n"
       "  - {{name: f, team: web, kind: freshness, type: x, max_age: {max_age}, "
       "objective: {objective}, window: {window}}}\n")
BOMB = "version: baton/v1\nlol: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"l{i}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))


def errors(**fields: str) -> list[str]:
    values = {"max_age": "2m", "objective": "99%", "window": "1d", **fields}
    return check_texts({"f.yaml": SLA.format(**values)})


@pytest.mark.parametrize("objective", [
    ".nan", ".inf", "-.inf", "NaN%", "inf%", "'-Infinity'", "1e-999999", "'1e-999999%'",
    "'0.9999999999999999999999999'", "0.9999999999999999999999999", "'99.9%%'", "true",
    "'99.9999999999999999999%'", "'0.123456789012345678901'", "'1e999999999'", "100%", "0",
    "-0.5", "'9" + "9" * 90 + "'",
], ids=lambda v: v[:20])
def test_an_objective_at_the_edges_is_one_sentence_not_a_traceback(objective):
    [error] = errors(objective=objective)
    assert error.startswith("f.yaml:4: slas[0].objective: an objective ")


@pytest.mark.parametrize("objective", [".nan", "NaN%", "1e-999999"])
def test_the_editor_shows_an_objective_at_the_edges_as_a_message(objective):
    text = SLA.format(max_age="2m", objective=objective, window="1d")
    [error] = validate({"f.yaml": text}, "f.yaml", text)
    assert error.startswith("f.yaml:4: slas[0].objective: an objective ")


@pytest.mark.parametrize(("objective", "exact"), [
    ("99.9%", "0.999"), ("0.999", "0.999"), ("'99.999999%'", "0.99999999"), ("0.5%", "0.005"),
    ("'0.12345678901234567890'", "0.12345678901234567890"),
    ("'99.999999999999999999%'", "0.99999999999999999999"),
    ("'99.900%'", "0.999"), ("1e-5", "0.00001")])
def test_objectives_within_the_bounds_are_read_exactly(objective, exact):
    assert str(parse_objective(objective.strip("'"))) == exact


@pytest.mark.parametrize(("field", "value"), [
    ("window", "10000000000d"), ("window", "99999999999999999999d"), ("window", "401d"),
    ("window", "30s"), ("window", "0s"), ("max_age", "0s"), ("max_age", "401d"),
    ("window", "'9" + "9" * 5000 + "d'"), ("window", "٣m"), ("window", "true"),
    ("window", "3600"),
], ids=lambda v: v[:20])
def test_a_duration_out_of_bounds_is_one_sentence(field, value):
    found = errors(**{field: value})
    assert found and all("a duration" in e or "a number of" in e for e in found), found
    assert found[0].startswith("f.yaml:4: ")


def test_the_duration_bounds_are_one_second_to_four_hundred_days():
    assert parse_duration("1s") == 1 and parse_duration("400d") == 400 * 86400
    with pytest.raises(ValueError, match="from 1s to 400d"):
        parse_duration("0s")


@pytest.mark.parametrize("stall_after", ["0s", "401d", "1000000000000000000000d"])
def test_a_stall_threshold_out_of_bounds_is_one_sentence(stall_after):
    text = ("version: baton/v1\nteams: {web: {name: Web}}\njourneys:\n  j:\n    stages:\n"
            "      - {name: a, owner: web, on: [x.a]}\n"
            f"      - {{name: b, owner: web, on: [x.b], stall_after: {stall_after}}}\n")
    error = check_texts({"f.yaml": text})[0]
    assert error.startswith("f.yaml:7: journeys.j.stages[1].stall_after: a duration here is")


@pytest.mark.parametrize("value", [".nan", ".inf", "18446744073709551616", "[1, .nan]"])
def test_a_where_number_that_no_event_can_hold_is_refused(value):
    text = ("version: baton/v1\nteams: {web: {name: Web}}\njourneys:\n  j:\n    stages:\n"
            "      - {name: a, owner: web, on: [x.a]}\n      - {name: b, owner: web, on: [x.b]}\n"
            "slas:\n  - {name: l, team: web, kind: latency, journey: j, from: a, to: b, "
            f"threshold: 5m, objective: 99%, window: 1d, where: {{n: {value}}}}}\n")
    [error] = check_texts({"f.yaml": text})
    assert error.startswith("f.yaml:9: slas[0].where.n: a where ")


@pytest.mark.parametrize("value", [".inf", "0s", "401d", "99999999999999999999d", ".nan", "true"])
def test_a_sources_duration_out_of_bounds_is_one_sentence(value):
    text = (f"version: baton/v1\nsources:\n  gw:\n    kind: kong\n    file: /tmp/x.log\n"
            f"    poll: {value}\n")
    with pytest.raises(SourceConfigError) as caught:
        parse_sources(text, "sources.yaml")
    [error] = caught.value.errors
    assert error.startswith("sources.yaml:6: sources.gw.poll: a duration ")


def test_an_alias_bomb_is_refused_at_once_in_every_yaml_file_baton_reads(tmp_path):
    started = time.monotonic()
    with pytest.raises(YamlSyntaxError, match=f"expand to more than {MAX_ALIAS_VALUES:,}"):
        load_yaml(BOMB, "bomb.yaml")
    assert "alias" in check_texts({"bomb.yaml": BOMB})[0]
    with pytest.raises(SourceConfigError, match="aliases"):
        parse_sources(BOMB, "sources.yaml")
    users = tmp_path / "users.yaml"
    users.write_text(BOMB)
    with pytest.raises(AuthError, match="aliases"):
        load_users(users)
    assert file_slas(BOMB) == []  # the editor's SLA picker reads it too
    with pytest.raises(OpenSloError, match="aliases"):
        read_stream("---\n" + BOMB, "import.yaml")  # `baton openslo import`
    assert time.monotonic() - started < 5  # the bomb expands to 387 million values


def test_a_recursive_alias_is_refused():
    with pytest.raises(YamlSyntaxError, match="may not be recursive"):
        load_yaml("version: baton/v1\nteams: &t {web: *t}\n", "f.yaml")


def test_a_few_aliases_are_still_fine():
    text = ("version: baton/v1\nteams: {web: {name: Web}}\ndefaults: &d {team: web, kind: "
            "freshness, max_age: 2m, objective: 99%, window: 1d}\n")
    data, _ = load_yaml(text + "copy: *d\n", "f.yaml")
    assert data["copy"] == data["defaults"]


@pytest.mark.parametrize(("text", "message"), [
    ("version: baton/v1\nn: " + "9" * 5000 + "\n", "f.yaml:2: a number of 5,000 characters"),
    ("version: baton/v1\nn: " + "[" * 200 + "]" * 200 + "\n", "nested more than"),
    ("version: baton/v1\ndescription: 2026-02-30\n", "f.yaml:1: a value cannot be read"),
], ids=["a-5000-digit-number", "deep-nesting", "an-impossible-date"])
def test_yaml_values_python_cannot_build_are_one_sentence(text, message):
    with pytest.raises(YamlSyntaxError, match=message):
        load_yaml(text, "f.yaml")


def unreadable(folder: Path) -> None:
    (folder / "latin.yaml").write_bytes("version: baton/v1\n# caf\xe9\n".encode("latin-1"))
    (folder / "folder.yaml").mkdir()
    os.symlink(folder / "gone.txt", folder / "dangling.yaml")


def test_unreadable_sla_files_are_errors_each_in_one_sentence(tmp_path):
    slas = tmp_path / "slas"
    slas.mkdir()
    (slas / "ok.yaml").write_text(SLA.format(max_age="2m", objective="99%", window="1d"))
    unreadable(slas)
    with pytest.raises(DefinitionError) as caught:
        load_folder(tmp_path)
    assert caught.value.errors == [
        f"{slas / 'dangling.yaml'}:1: a link to a missing file; fix or remove it",
        f"{slas / 'folder.yaml'}:1: is a folder, not a file; rename or remove it",
        f"{slas / 'latin.yaml'}:1: not UTF-8 text (byte 23); save the file as UTF-8"]


def test_an_unreadable_sources_file_is_one_sentence(tmp_path):
    unreadable(tmp_path)
    for name in ("latin.yaml", "folder.yaml", "dangling.yaml"):
        with pytest.raises(SourceConfigError) as caught:
            load_sources(tmp_path / name)
        [error] = caught.value.errors
        assert error.startswith(f"{tmp_path / name}:1: ")


def test_every_error_of_a_file_is_reported_in_one_pass():
    text = ("version: baton/v1\nteams: {web: {name: Web}}\nextra: 1\nslas:\n"
            "  - {name: a, team: web, kind: freshness, type: x, max_age: 1m, objective: .nan, "
            "window: 1h}\n"
            "  - {name: b, team: sales, kind: freshness, type: x, max_age: 1m, objective: 99%, "
            "window: 1h}\n"
            "journeys:\n  j:\n    stages:\n      - {name: a, owner: nobody, on: [x.a]}\n"
            "      - {name: b, owner: web, on: [x.b]}\n"
            "  k:\n    stages:\n      - {name: a, owner: web, on: [y.a]}\n"
            "      - {name: b, owner: web, on: [y.b], stall_after: 0s}\n")
    found = [e.split(": ")[1] for e in check_texts({"f.yaml": text})]
    assert found == ["extra", "journeys.k.stages[1].stall_after", "slas[0].objective",
                     "journeys.j.stages[0].owner", "slas[1].team"]


def test_validate_says_plainly_when_more_errors_may_follow(tmp_path, capsys):
    from app.cli import main

    (tmp_path / "slas").mkdir()
    (tmp_path / "slas" / "f.yaml").write_text(SLA.format(max_age="2m", objective=".nan",
                                                         window="1d"))
    assert main(["--config", str(tmp_path), "validate"]) == 1
    assert "more errors may follow once they are fixed" in capsys.readouterr().err
