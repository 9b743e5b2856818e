"""SLA definitions: good examples load; every bad example gives exactly its expected errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slas.definitions import check_texts, load_folder, load_texts
from slas.docgen import json_schema, reference_page
from slas.errors import DefinitionError

CONFIGS = Path(__file__).parent / "configs"
BAD = sorted((CONFIGS / "bad").glob("*.yaml"))
ROOT = Path(__file__).parents[1]


def expected_errors(path: Path) -> list[str]:
    return [line.removeprefix("# error: ") for line in path.read_text().splitlines()
            if line.startswith("# error: ")]


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_a_bad_definition_reports_exactly_its_errors(path: Path):
    assert check_texts({path.name: path.read_text()}) == expected_errors(path)


def test_the_example_configuration_is_valid():
    definitions = load_folder(ROOT / "config")
    assert [s.name for s in definitions.slas] == [
        "lead-routing-5m", "crm-sync-complete", "enrichment-2m", "activation-events-fresh"]


def test_durations_and_objectives_are_parsed_exactly():
    sla = load_folder(CONFIGS / "good").sla("crm-sync-complete")
    assert (sla.within, sla.window, str(sla.objective)) == (900, 86400, "0.999")


def test_names_must_be_unique_across_files():
    text = (CONFIGS / "good" / "leads.yaml").read_text()
    with pytest.raises(DefinitionError) as caught:
        load_texts({"a.yaml": text, "b.yaml": text})
    assert "b.yaml:20: slas[0].name: sla 'lead-routing-5m' is already defined at a.yaml:20; " \
        "names are unique across files" in caught.value.errors
    assert "b.yaml:5: teams.marketing-ops: team 'marketing-ops' is already defined at " \
        "a.yaml:5; names are unique across files" in caught.value.errors


def test_files_may_refer_to_teams_and_journeys_defined_in_other_files():
    teams = "version: baton/v1\nteams: {web: {name: Web}}\n"
    slas = ("version: baton/v1\nslas:\n  - {name: f, team: web, kind: freshness, type: x, "
            "max_age: 1m, objective: 99%, window: 1h}\n")
    assert [s.name for s in load_texts({"teams.yaml": teams, "slas.yaml": slas}).slas] == ["f"]


def test_an_empty_folder_is_one_clear_error(tmp_path: Path):
    (tmp_path / "slas").mkdir()
    with pytest.raises(DefinitionError, match="no SLA files"):
        load_folder(tmp_path)


def test_the_committed_json_schema_is_generated_from_the_models():
    committed = json.loads((ROOT / "slas" / "baton-v1.schema.json").read_text())
    assert committed == json_schema(), "run: python -m slas.docgen"


def test_the_reference_page_is_generated_from_the_models():
    committed = (ROOT / "docs" / "sla-reference.md").read_text()
    assert committed == reference_page(), "run: python -m slas.docgen"
