"""`baton openslo export` / `import`: every example SLA and generated variations round-trip
exactly; every exported object passes OpenSLO v1's field tables; the specification's own
examples import as far as they map, and each refusal says why; bad input is one sentence."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openslo_strategies import definitions_data

from slas.alert_config import load_alerting, parse_alerts
from slas.definitions import Definitions, load_texts
from slas.openslo_export import documents_text, export_documents, selected
from slas.openslo_import import import_text
from slas.openslo_v1 import Raw, parse_object, read_stream

ROOT = Path(__file__).parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "openslo"
HOOK_ALERTS = ("version: baton/v1\ntargets: {hook: {kind: webhook, url: http://127.0.0.1:9}}\n"
               "routes: [{to: [hook]}]\n")


def round_trip(definitions: Definitions, alerts: Any = None, only: tuple[str, ...] = ()
               ) -> tuple[Definitions, list[dict[str, Any]]]:
    exported = export_documents(definitions, alerts, only)
    assert exported.refused == []
    imported = import_text(documents_text(exported.documents), "export.yaml")
    assert imported.refused == []
    return load_texts({"imported.yaml": imported.text}), exported.documents


def invalid_objects(documents: list[dict[str, Any]]) -> list[str]:
    return [result for doc in documents
            if isinstance(result := parse_object(Raw(doc, 1)), str)]


def baton(*args: str, stdin: str | None = None, config: Path = ROOT / "config"
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(config), *args],
                          input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60)


# --- Round trips -------------------------------------------------------------------------

def test_every_example_sla_round_trips_through_export_and_import_exactly():
    definitions, alerts = load_alerting(ROOT / "config")
    back, documents = round_trip(definitions, alerts)
    assert back == definitions
    assert [s.name for s in back.slas] == [s.name for s in definitions.slas]


def test_every_exported_object_passes_the_openslo_v1_field_tables():
    definitions, alerts = load_alerting(ROOT / "config")
    documents = export_documents(definitions, alerts).documents
    assert invalid_objects(documents) == []
    kinds = {doc["kind"] for doc in documents}
    assert kinds == {"Service", "DataSource", "SLO", "AlertPolicy", "AlertCondition",
                     "AlertNotificationTarget"}


@pytest.mark.parametrize("name", ["lead-routing-5m", "crm-sync-complete", "enrichment-2m",
                                  "activation-events-fresh"])
def test_one_sla_exports_with_the_teams_and_journey_it_needs_and_round_trips(name: str):
    definitions, alerts = load_alerting(ROOT / "config")
    back, _ = round_trip(definitions, alerts, (name,))
    assert back == selected(definitions, [name])
    assert [s.name for s in back.slas] == [name]


def test_export_piped_into_import_prints_definitions_that_baton_validate_accepts(
        tmp_path: Path):
    exported = baton("openslo", "export")
    assert exported.returncode == 0, exported.stderr
    imported = baton("openslo", "import", "-", stdin=exported.stdout)
    assert (imported.returncode, imported.stderr) == (0, "")
    (tmp_path / "slas").mkdir()
    (tmp_path / "slas" / "imported.yaml").write_text(imported.stdout)
    checked = baton("validate", config=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert load_texts({"x.yaml": imported.stdout}) == load_alerting(ROOT / "config")[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=definitions_data(), with_alerts=st.booleans())
def test_generated_definitions_round_trip_exactly_and_export_valid_openslo(
        data: dict[str, Any], with_alerts: bool):
    definitions = load_texts({"generated.yaml": yaml.safe_dump(data, sort_keys=False)})
    alerts = parse_alerts(HOOK_ALERTS, "alerts.yaml", definitions) if with_alerts else None
    back, documents = round_trip(definitions, alerts)
    assert back == definitions
    assert [s.name for s in back.slas] == [s.name for s in definitions.slas]
    assert invalid_objects(documents) == []


# --- Alerting ----------------------------------------------------------------------------

def test_alerting_exports_a_policy_per_sla_rule_and_burn_window_routed_to_its_targets():
    definitions, alerts = load_alerting(ROOT / "config")
    documents = export_documents(definitions, alerts, ["lead-routing-5m"]).documents
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in documents:
        by_kind.setdefault(doc["kind"], []).append(doc)
    slo = by_kind["SLO"][0]
    policies = {p["metadata"]["name"]: p for p in by_kind["AlertPolicy"]}
    assert [ref["alertPolicyRef"] for ref in slo["spec"]["alertPolicies"]] == list(policies)
    windows = [*alerts.policy.burn.fast, *alerts.policy.burn.slow]
    assert len(policies) == 1 + len(windows)  # SLABreached + one per burn window
    for policy in policies.values():
        assert policy["spec"]["notificationTargets"] == [{"targetRef": "oncall-inbox"}]
    conditions = {c["metadata"]["name"]: c["spec"] for c in by_kind["AlertCondition"]}
    breached = conditions["breached-over-7d-critical"]["condition"]
    assert (breached["op"], breached["threshold"], breached["lookbackWindow"]) == (
        "gt", 1.0, "7d")
    fast = next(c for c in by_kind["AlertCondition"]
                if c["spec"]["condition"]["lookbackWindow"] == "1h")
    assert fast["spec"]["condition"]["threshold"] == 14.4
    assert fast["metadata"]["annotations"]["baton.dev/short-window"] == "5m"
    assert [t["spec"]["target"] for t in by_kind["AlertNotificationTarget"]] == ["webhook"]


def test_an_sla_with_alerts_off_or_no_alerts_file_has_no_alerting_documents():
    text = (ROOT / "config" / "slas" / "leads.yaml").read_text().replace(
        "alerts: {min_events: 5}", "alerts: off")
    definitions = load_texts({"leads.yaml": text})
    alerts = parse_alerts(HOOK_ALERTS, "alerts.yaml", definitions)
    fresh = export_documents(definitions, alerts, ["activation-events-fresh"]).documents
    assert [d["kind"] for d in fresh] == ["Service", "SLO"]
    assert "alertPolicies" not in fresh[-1]["spec"]
    assert {d["kind"] for d in export_documents(definitions, None).documents} == {
        "Service", "DataSource", "SLO"}


# --- Export refusals ----------------------------------------------------------------------

def test_an_sla_whose_window_is_not_whole_minutes_is_refused_and_the_rest_exported(
        tmp_path: Path):
    (tmp_path / "slas").mkdir()
    (tmp_path / "slas" / "s.yaml").write_text(
        "version: baton/v1\nteams: {web: {name: Web}}\nslas:\n"
        "  - {name: odd, team: web, kind: freshness, type: x, max_age: 30s, objective: 99%, "
        "window: 90s}\n"
        "  - {name: even, team: web, kind: freshness, type: x, max_age: 30s, objective: 99%, "
        "window: 2m}\n")
    result = baton("openslo", "export", config=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "baton: SLA 'odd': its window (90s) is not a whole number of minutes, the finest "
        "unit of OpenSLO durations; write it as e.g. 2m to export it"]
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(result.stdout)]
    assert names == ["web", "even"]


def test_exporting_an_unknown_sla_is_one_sentence():
    result = baton("openslo", "export", "--sla", "nope")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("baton: no SLA named 'nope'; defined SLAs: ")
    assert "Traceback" not in result.stderr


# --- The specification's own examples -----------------------------------------------------

REFUSED_FOR_ITS_METRICS = "which Baton cannot measure; Baton measures journeys of events"
NOT_BATONS_ALERTING = "Baton's alerting is set in config/alerts.yaml"
SPEC_EXAMPLES = [  # file, teams that map, {refused object: why}
    ("go-sdk-services.yaml", {"example-service"},
     {"Service 'example-service'": "is defined twice (first at line 2)"}),
    ("go-sdk-data_sources.yaml", set(),
     {"DataSource 'prometheus'": "is of type Prometheus",
      "DataSource 'datadog'": "is of type Datadog"}),
    ("go-sdk-slis.yaml", set(),
     {"SLI 'search-availability'": "counts with a Datadog query",
      "SLI 'end-user-response'": "counts with an AppDynamics metric",
      "SLI 'wifi-client-satisfaction'": "counts with a Prometheus query",
      "SLI 'annotator-throughput'": "counts with a Prometheus query"}),
    ("go-sdk-slos.yaml", set(), {"SLO 'web-availability'": "counts with a Prometheus query"}),
    ("go-sdk-alert_conditions.yaml", set(),
     {"AlertCondition 'cpu-usage-breach'": NOT_BATONS_ALERTING,
      "AlertCondition 'latency-too-high'": NOT_BATONS_ALERTING}),
    ("go-sdk-alert_policies.yaml", set(),
     {"AlertPolicy 'low-priority'": NOT_BATONS_ALERTING,
      "AlertPolicy 'high-priority'": NOT_BATONS_ALERTING,
      "AlertPolicy 'medium-priority'": NOT_BATONS_ALERTING}),
    ("go-sdk-alert_notification_targets.yaml", set(),
     {"AlertNotificationTarget 'devs-email-notification'": NOT_BATONS_ALERTING,
      "AlertNotificationTarget 'pd-on-call-notification'": NOT_BATONS_ALERTING}),
    ("spec-budgeting-method-occurences-slo.yaml", set(),
     {"SLO 'search-slo'": "counts with an Any query (spec.indicator.spec.thresholdMetric"}),
    ("spec-budgeting-method-ratio-timeslices.yaml", set(),
     {"SLO 'main-page'": "counts with an Any query (spec.indicator.spec.ratioMetric.good"}),
    ("spec-budgeting-method-timeslices-slo.yaml", set(),
     {"SLO 'service-availability'": "counts with an Any query"}),
    ("spec-treat-low-traffic-as-equally-important-timeslices-slo.yaml", set(),
     {"SLO 'service-availability'": "counts with an Any query"}),
]


@pytest.mark.parametrize("file, teams, refused", SPEC_EXAMPLES,
                         ids=[case[0].removesuffix(".yaml") for case in SPEC_EXAMPLES])
def test_the_specs_examples_import_as_far_as_they_map_and_each_refusal_says_why(
        file: str, teams: set[str], refused: dict[str, str]):
    imported = import_text((FIXTURES / file).read_text(), file)
    assert set(imported.teams) == teams
    assert (imported.journeys, imported.slas) == ({}, [])
    assert len(imported.refused) == len(refused)
    for (label, why), line in zip(refused.items(), imported.refused, strict=True):
        assert f" {label}" in line and why in line, line
        if "counts with" in why:
            assert REFUSED_FOR_ITS_METRICS in line


@pytest.mark.parametrize("file", sorted(p.name for p in FIXTURES.glob("*.yaml")))
def test_the_field_tables_accept_every_example_object_of_the_spec(file: str):
    objects = read_stream((FIXTURES / file).read_text(), file)
    assert objects
    assert [p for raw in objects if isinstance(p := parse_object(raw), str)] == []


def test_importing_every_spec_example_through_the_command_line_exits_1_without_traceback():
    for path in sorted(FIXTURES.glob("*.yaml")):
        result = baton("openslo", "import", str(path))
        assert result.returncode == 1, path
        assert "Traceback" not in result.stderr
        assert all(line.startswith("baton: ") for line in result.stderr.splitlines())


# --- The field tables refuse what the spec forbids ----------------------------------------

def _slo(**spec: Any) -> dict[str, Any]:
    base = {"service": "web", "indicatorRef": "sli", "budgetingMethod": "Occurrences",
            "timeWindow": [{"duration": "7d", "isRolling": True}],
            "objectives": [{"target": 0.99}]}
    return {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": {"name": "s"},
            "spec": {**base, **spec}}


def _condition(**spec: Any) -> dict[str, Any]:
    base = {"severity": "page", "condition": {"kind": "burnrate", "op": "gt", "threshold": 2,
                                              "lookbackWindow": "1h"}}
    return {"apiVersion": "openslo/v1", "kind": "AlertCondition",
            "metadata": {"name": "c"}, "spec": {**base, **spec}}


def _policy(**spec: Any) -> dict[str, Any]:
    base = {"conditions": [{"conditionRef": "c"}], "notificationTargets": [{"targetRef": "t"}]}
    return {"apiVersion": "openslo/v1", "kind": "AlertPolicy", "metadata": {"name": "p"},
            "spec": {**base, **spec}}


def _ratio(**parts: Any) -> dict[str, Any]:
    source = {"metricSource": {"type": "Prometheus", "spec": {"query": "up"}}}
    return {"apiVersion": "openslo/v1", "kind": "SLI", "metadata": {"name": "i"},
            "spec": {"ratioMetric": {name: source for name in parts}}}


INVALID = [  # from the spec's Notes and the go-sdk's rules (and OpenSLO's old schema tests)
    ("wrong-api-version", {**_slo(), "apiVersion": "openslo/v1alpha"}, "Baton reads openslo/v1"),
    ("name-not-a-dns-label", {**_slo(), "metadata": {"name": "My SLO"}}, "a DNS label"),
    ("no-budgeting-method", _slo(budgetingMethod=None), "budgetingMethod"),
    ("unknown-budgeting-method", _slo(budgetingMethod="Sometimes"), "budgetingMethod"),
    ("two-time-windows", _slo(timeWindow=[{"duration": "7d", "isRolling": True}] * 2),
     "timeWindow"),
    ("rolling-with-calendar", _slo(timeWindow=[{"duration": "1M", "isRolling": True, "calendar":
                                                {"startTime": "2022-01-01 00:00:00",
                                                 "timeZone": "UTC"}}]), "rolling"),
    ("bad-duration", _slo(timeWindow=[{"duration": "7s", "isRolling": True}]),
     "duration shorthand"),
    ("target-of-one", _slo(objectives=[{"target": 1.0}]), "target"),
    ("target-and-percent", _slo(objectives=[{"target": 0.9, "targetPercent": 90}]),
     "exactly one of target and targetPercent"),
    ("timeslices-without-target", _slo(budgetingMethod="Timeslices",
                                       objectives=[{"target": 0.9, "timeSliceWindow": "1m"}]),
     "timeSliceTarget"),
    ("no-indicator", _slo(indicatorRef=None), "indicator"),
    ("unknown-field", _slo(budgetMethod="Occurrences"), "budgetMethod"),
    ("long-description", {"apiVersion": "openslo/v1", "kind": "Service",
                          "metadata": {"name": "s"}, "spec": {"description": "x" * 1051}},
     "description"),
    ("condition-without-severity", _condition(severity=None), "severity"),
    ("condition-without-lookback", _condition(condition={"op": "gt", "threshold": 1}),
     "lookbackWindow"),
    ("policy-with-two-conditions", _policy(conditions=[{"conditionRef": "a"},
                                                       {"conditionRef": "b"}]), "conditions"),
    ("policy-without-targets", _policy(notificationTargets=[]), "notificationTargets"),
    ("target-without-target", {"apiVersion": "openslo/v1", "kind": "AlertNotificationTarget",
                               "metadata": {"name": "t"}, "spec": {"description": "x"}},
     "target"),
    ("ratio-with-good-and-bad", _ratio(good=1, bad=1, total=1), "exactly one of `good`"),
    ("metric-source-without-type", {**_ratio(good=1, total=1), "spec": {"ratioMetric": {
        "good": {"metricSource": {"spec": {"q": 1}}},
        "total": {"metricSource": {"spec": {"q": 1}}}}}}, "names its `type`"),
    ("not-openslo-at-all", {"version": "baton/v1", "teams": {}}, "is not an OpenSLO object"),
]


@pytest.mark.parametrize("name, data, why", INVALID, ids=[case[0] for case in INVALID])
def test_the_field_tables_refuse_what_openslo_v1_forbids(name: str, data: dict[str, Any],
                                                         why: str):
    data = copy.deepcopy(data)
    spec = data.get("spec")
    if isinstance(spec, dict):
        data["spec"] = {k: v for k, v in spec.items() if v is not None}
    result = parse_object(Raw(data, 7))
    assert isinstance(result, str), name
    assert why in result, result


# --- The writer keeps up with the format -------------------------------------------------

def test_the_baton_v1_writer_knows_every_field_of_the_models():
    """A field added to slas/spec.py must be written by slas/spec_text.py (and generated in
    tests/openslo_strategies.py), or the round trip silently drops it."""
    from slas import spec

    written = {
        spec.Team: {"name", "description"},
        spec.Stage: {"name", "owner", "on", "stall_after", "fails_on"},
        spec.Journey: {"key", "stages"},
        spec.SlaAlerts: {"rules", "min_events", "burn"},
        spec.BurnOverride: {"fast", "slow"},
        spec.BurnWindow: {"long_s", "short_s", "factor"},
        spec.LatencySla: COMMON | JOURNEY | {"threshold"},
        spec.CompletenessSla: COMMON | JOURNEY | {"within"},
        spec.FreshnessSla: COMMON | {"type", "source", "max_age"},
    }
    for model, fields in written.items():
        assert set(model.model_fields) == fields, model.__name__


COMMON = {"name", "description", "team", "kind", "objective", "warn", "window", "severity",
          "alerts"}
JOURNEY = {"journey", "from_", "to", "where"}
