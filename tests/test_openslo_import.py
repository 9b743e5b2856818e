"""`baton openslo import`: what an edited export still maps to, what it refuses (one sentence
naming the file, line, document, field and why), and bad input through the real command."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from slas.alert_config import load_alerting
from slas.definitions import load_texts
from slas.openslo_export import documents_text, export_documents
from slas.openslo_import import import_text

ROOT = Path(__file__).parents[1]
DEFINITIONS, ALERTS = load_alerting(ROOT / "config")
EXPORTED = export_documents(DEFINITIONS, ALERTS).documents
PROMETHEUS_SLO = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout-availability}
spec:
  service: shop
  indicator:
    metadata: {name: checkout-ok}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_ok[5m]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http[5m]))'}}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.999}]
"""


def slo(documents: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(d for d in documents if d["kind"] == "SLO" and d["metadata"]["name"] == name)


def edited(change: Callable[[list[dict[str, Any]]], None]) -> list[dict[str, Any]]:
    documents = copy.deepcopy(EXPORTED)
    change(documents)
    return documents


def imported_slas(documents: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    result = import_text(documents_text(documents), "edited.yaml")
    if result.text:
        load_texts({"out.yaml": result.text})  # what is printed is valid on its own
    return [s.name for s in result.slas], result.refused


def _good_to(docs: list[dict[str, Any]]) -> None:
    spec = slo(docs, "lead-routing-5m")["spec"]["indicator"]["spec"]["ratioMetric"]
    spec["good"]["metricSource"]["spec"]["to"] = "crm.upserted"


def _annotation(name: str, key: str, value: str | None) -> Callable[[list[Any]], None]:
    def change(docs: list[dict[str, Any]]) -> None:
        notes = slo(docs, name)["metadata"]["annotations"]
        if value is None:
            notes.pop(key)
        else:
            notes[key] = value
    return change


def _spec(name: str, **fields: Any) -> Callable[[list[Any]], None]:
    def change(docs: list[dict[str, Any]]) -> None:
        slo(docs, name)["spec"].update(fields)
    return change


REFUSED = [  # (id, edit, the sentence's key words)
    ("an-edited-sli", _good_to,
     "SLO 'lead-routing-5m': spec.indicator.spec at ratioMetric.good.metricSource.spec.to: "
     "'crm.upserted', expected 'crm.assigned' is not what Baton measures"),
    ("an-unknown-stage", _annotation("enrichment-2m", "baton.dev/from", "nope"),
     "SLO 'enrichment-2m': annotation baton.dev/from: stage 'nope' is not in journey 'lead'"),
    ("a-bad-threshold", _annotation("enrichment-2m", "baton.dev/threshold", "2 minutes"),
     "SLO 'enrichment-2m': annotation baton.dev/threshold: a duration is"),
    ("where-not-json", _annotation("lead-routing-5m", "baton.dev/where", "qualified=true"),
     "annotation baton.dev/where is not JSON ('qualified=true')"),
    ("no-kind", _annotation("crm-sync-complete", "baton.dev/kind", None),
     "SLO 'crm-sync-complete': it has no baton.dev/kind annotation"),
    ("no-journey", _annotation("crm-sync-complete", "baton.dev/journey", None),
     "it has no baton.dev/journey annotation, which a completeness SLA needs"),
    ("a-calendar-window", _spec("enrichment-2m", timeWindow=[{
        "duration": "1M", "isRolling": False,
        "calendar": {"startTime": "2026-01-01 00:00:00", "timeZone": "Europe/Paris"}}]),
     "its timeWindow is calendar-aligned (1M from 2026-01-01 00:00:00 Europe/Paris)"),
    ("a-window-in-months", _spec("enrichment-2m", timeWindow=[{"duration": "1M",
                                                               "isRolling": True}]),
     "spec.timeWindow[0].duration 1M counts months"),
    ("three-objectives", _spec("enrichment-2m", objectives=[{"target": 0.9}] * 3),
     "it has 3 objectives; a Baton SLA has an objective and at most one stricter `warn`"),
    ("timeslices-for-latency", _spec("enrichment-2m", budgetingMethod="Timeslices", objectives=[
        {"target": 0.99, "timeSliceTarget": 1, "timeSliceWindow": "1m"}]),
     "spec.budgetingMethod is Timeslices; a latency SLA is measured with Occurrences"),
    ("an-objective-of-zero", _spec("enrichment-2m", objectives=[{"target": 0.0}]),
     "spec.objectives: an objective must be above 0%"),
    ("warn-equal-to-objective", _spec("enrichment-2m", objectives=[{"target": 0.99}] * 2),
     "spec.objectives: warn (99%) must be stricter than the objective (99%)"),
]


@pytest.mark.parametrize("name, change, why", REFUSED, ids=[case[0] for case in REFUSED])
def test_an_edited_export_refuses_the_slo_it_cannot_map_and_keeps_the_others(
        name: str, change: Callable[[list[Any]], None], why: str):
    slas, refused = imported_slas(edited(change))
    assert len(refused) == 1, refused
    assert why in refused[0]
    assert refused[0].startswith("edited.yaml:")
    assert len(slas) == len(DEFINITIONS.slas) - 1


def _weeks(docs: list[dict[str, Any]]) -> None:
    slo(docs, "lead-routing-5m")["spec"]["timeWindow"] = [{"duration": "1w",
                                                          "isRolling": True}]


def _percent(docs: list[dict[str, Any]]) -> None:
    slo(docs, "crm-sync-complete")["spec"]["objectives"] = [{"targetPercent": 99.9}]


def _referenced_sli(docs: list[dict[str, Any]]) -> None:
    spec = slo(docs, "enrichment-2m")["spec"]
    indicator = spec.pop("indicator")
    spec["indicatorRef"] = "enrichment-sli"
    docs.append({"apiVersion": "openslo/v1", "kind": "SLI",
                 "metadata": {"name": "enrichment-sli"}, "spec": indicator["spec"]})


def _no_services(docs: list[dict[str, Any]]) -> None:
    docs[:] = [d for d in docs if d["kind"] != "Service"]


MAPPED = [("a-window-in-weeks", _weeks), ("a-target-in-percent", _percent),
          ("a-referenced-sli", _referenced_sli), ("no-services", _no_services)]


@pytest.mark.parametrize("name, change", MAPPED, ids=[case[0] for case in MAPPED])
def test_an_export_written_differently_but_equivalently_still_maps(
        name: str, change: Callable[[list[Any]], None]):
    result = import_text(documents_text(edited(change)), "edited.yaml")
    assert result.refused == []
    back = load_texts({"out.yaml": result.text})
    assert back.slas == DEFINITIONS.slas
    if name == "no-services":  # teams come from the SLOs' services and the stage owners
        assert set(back.teams) == set(DEFINITIONS.teams)
    else:
        assert back == DEFINITIONS


def test_baton_exported_alerting_is_left_out_and_foreign_alerting_refused():
    foreign = {"apiVersion": "openslo/v1", "kind": "AlertNotificationTarget",
               "metadata": {"name": "mail"}, "spec": {"target": "email"}}
    result = import_text(documents_text([*EXPORTED, foreign]), "mixed.yaml")
    assert len(result.refused) == 1
    assert "AlertNotificationTarget 'mail': Baton's alerting is set in config/alerts.yaml" \
        in result.refused[0]
    assert [s.name for s in result.slas] == [s.name for s in DEFINITIONS.slas]


# --- Through the command line ------------------------------------------------------------

def baton_import(tmp_path: Path, text: str | bytes) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "input.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return subprocess.run([sys.executable, "-m", "app.cli", "openslo", "import", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_a_file_with_mapped_and_refused_slos_prints_what_maps_and_every_refusal(
        tmp_path: Path):
    result = baton_import(tmp_path, documents_text(EXPORTED) + "---" + PROMETHEUS_SLO)
    assert result.returncode == 1
    assert load_texts({"out.yaml": result.stdout}) == DEFINITIONS
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert "SLO 'checkout-availability': its SLI counts with a Prometheus query " \
        "(spec.indicator.spec.ratioMetric.good.metricSource), which Baton cannot measure" \
        in lines[0]
    assert lines[1] == "baton: 1 document(s) not imported; imported 4 team(s), " \
        "1 journey(s), 4 SLA(s)"


BAD_INPUT = [  # (id, file content, the sentence's key words)
    ("not-yaml", "apiVersion: openslo/v1\nkind: [SLO\n", "not valid YAML"),
    ("not-openslo", (ROOT / "config" / "slas" / "leads.yaml").read_text(),
     "is not an OpenSLO object: it needs apiVersion: openslo/v1"),
    ("wrong-api-version", "apiVersion: openslo/v1alpha\nkind: SLO\nmetadata: {name: a}\n"
     "spec: {}\n", "SLO 'a' has apiVersion 'openslo/v1alpha'; Baton reads openslo/v1 only"),
    ("unknown-kind", "apiVersion: openslo/v1\nkind: Budget\nmetadata: {name: a}\nspec: {}\n",
     "has kind 'Budget'; OpenSLO v1 kinds are"),
    ("missing-fields", "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\n"
     "spec: {indicatorRef: b, objectives: [{target: 0.9}]}\n",
     "SLO 'a' is not valid OpenSLO v1: spec.service: field required; "
     "spec.budgetingMethod: field required"),
    ("empty", "", "holds no OpenSLO documents"),
    ("a-scalar", "just words\n", "is not an OpenSLO object"),
    ("binary", b"\xff\xfe\x00binary", "is not text"),
]


@pytest.mark.parametrize("name, text, why", BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_one_sentence_and_exit_1(tmp_path: Path, name: str, text: str | bytes,
                                              why: str):
    result = baton_import(tmp_path, text)
    assert (result.returncode, result.stdout) == (1, "")
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("baton: ") and why in first, result.stderr


def test_a_missing_file_is_one_sentence(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "app.cli", "openslo", "import",
                             str(tmp_path / "nope.yaml")], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"baton: {tmp_path / 'nope.yaml'}: no such file; give the path " \
        "of an OpenSLO v1 YAML file, or - for standard input\n"


def test_the_printed_definitions_are_yaml_that_names_its_source(tmp_path: Path):
    result = baton_import(tmp_path, documents_text(EXPORTED))
    assert result.returncode == 0
    assert result.stdout.startswith(f"# Imported from {tmp_path / 'input.yaml'} by `baton "
                                    "openslo import`")
    assert yaml.safe_load(result.stdout)["version"] == "baton/v1"
