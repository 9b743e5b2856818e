"""config/alerts.yaml: good examples load; every bad example gives exactly its expected errors;
SLA overrides merge over the policy; routes match by labels; `baton validate` checks the file."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from collectors import yamlfile
from collectors.yamlfile import load_yaml
from slas.alert_config import alert_warnings, load_alerts, parse_alerts
from slas.alerting import AlertsConfig, Rate, Route, policy_for, routes_for, spans_needed
from slas.definitions import load_folder, load_texts
from slas.docgen import ALERTS, SLAS, json_schema, reference_page
from slas.errors import DefinitionError

ROOT = Path(__file__).parents[1]
CONFIGS = Path(__file__).parent / "configs"
ALERT_CONFIGS = CONFIGS / "alerts"
BAD = sorted((ALERT_CONFIGS / "bad").glob("*.yaml"))
DEFS = load_folder(CONFIGS / "good")
H, M, D = 3600, 60, 86400


def expected_errors(path: Path) -> list[str]:
    return [line.removeprefix("# error: ") for line in path.read_text().splitlines()
            if line.startswith("# error: ")]


def errors_of(text: str, definitions=DEFS, file: str = "alerts.yaml") -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse_alerts(text, file, definitions)
    return caught.value.errors


def with_slas(*slas: str, teams: str = "web: {name: Web}"):
    """Definitions of one team and the given SLA flow mappings."""
    body = "".join(f"  - {sla}\n" for sla in slas)
    return load_texts({"s.yaml": f"version: baton/v1\nteams: {{{teams}}}\nslas:\n{body}"})


def freshness(name: str, extra: str = "", objective: str = "99%", window: str = "30d") -> str:
    return (f"{{name: {name}, team: web, kind: freshness, type: x, max_age: 1m, "
            f"objective: {objective}, window: {window}{extra}}}")


# --- the file as a whole ------------------------------------------------------------------

@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_a_bad_alerts_file_reports_exactly_its_errors_in_line_order(path: Path):
    assert errors_of(path.read_text(), file=path.name) == expected_errors(path)


def test_the_good_example_loads_every_kind_of_target_route_and_policy_field():
    config = load_alerts(ALERT_CONFIGS / "good" / "alerts.yaml", DEFS)
    assert config is not None
    pager, slack, am, hook = (config.targets[n] for n in
                              ("platform-pager", "sales-slack", "alertmanager", "ops-hook"))
    assert (pager.kind, pager.routing_key_env, pager.timeout, pager.rate) == (
        "pagerduty", "PD_PLATFORM_KEY", 5, Rate(120, 60))
    assert (slack.url_env, slack.rate, slack.concurrency) == ("SLACK_SALES_WEBHOOK",
                                                              Rate(2, 1), 1)
    assert (am.url, am.rate, am.timeout, hook.url_env, hook.rate) == (
        "http://127.0.0.1:9093", Rate(600, 60), 10, "OPS_HOOK_URL", None)
    first = config.routes[0]
    assert (first.team, first.severity, first.escalate.after, first.escalate.to) == (
        ("platform",), ("critical",), 15 * M, ("ops-hook",))
    policy = config.policy
    assert (policy.min_events, policy.group_wait, policy.renotify, policy.give_up,
            policy.stalled_min, policy.failures) == (20, M, 2 * H, 30 * M, 5, 4)
    [slow] = policy.burn.slow
    assert (slow.long_s, slow.short_s, slow.factor) == (D, 2 * H, Decimal("1.5"))


def test_the_example_configuration_is_valid_and_routes_everything_to_the_oncall_inbox():
    config = load_alerts(ROOT / "config" / "alerts.yaml", load_folder(ROOT / "config"))
    assert config is not None
    assert config.targets["oncall-inbox"].url == "http://127.0.0.1:9099/hooks/oncall"
    assert routes_for(config, {"team": "product", "alertname": "JourneysStalled"}) == [
        config.routes[0]]


def test_defaults_apply_to_what_the_file_leaves_out():
    config = parse_alerts("version: baton/v1\n", "a.yaml")
    policy = config.policy
    assert (config.targets, config.routes, config.dashboard_url) == ({}, (), None)
    assert policy.rules == ("SLABreached", "ErrorBudgetBurn", "JourneysStalled",
                            "DeliveryFailing")
    assert (policy.min_events, policy.group_wait, policy.renotify, policy.give_up,
            policy.stalled_min, policy.failures) == (10, 30, 4 * H, H, 3, 3)
    assert [(w.long_s, w.short_s, w.factor) for w in policy.burn.fast] == [
        (H, 5 * M, Decimal("14.4")), (6 * H, 30 * M, Decimal(6))]
    assert [(w.long_s, w.short_s, w.factor) for w in policy.burn.slow] == [
        (3 * D, 6 * H, Decimal(1))]


def test_target_defaults_depend_on_the_kind():
    config = parse_alerts(
        "version: baton/v1\ntargets:\n  p: {kind: pagerduty, routing_key_env: K}\n"
        "  s: {kind: slack, url_env: U}\n  w: {kind: webhook, url: http://h/x}\n", "a.yaml")
    rates = {name: target.rate for name, target in config.targets.items()}
    assert rates == {"p": Rate(120, 60), "s": Rate(1, 1), "w": None}
    assert {t.timeout for t in config.targets.values()} == {10}
    assert {t.concurrency for t in config.targets.values()} == {4}


def test_a_missing_file_means_no_alerts_configured(tmp_path: Path):
    assert load_alerts(tmp_path / "alerts.yaml", DEFS) is None


def test_an_unreadable_file_is_one_error(tmp_path: Path):
    (tmp_path / "alerts.yaml").mkdir()
    with pytest.raises(DefinitionError) as caught:
        load_alerts(tmp_path / "alerts.yaml")
    [error] = caught.value.errors
    assert error == f"{tmp_path / 'alerts.yaml'}:1: is a folder, not a file; rename or remove it"


def test_routes_are_checked_against_the_targets_even_without_definitions():
    text = "version: baton/v1\nroutes:\n  - {team: anyone, sla: anything, to: nowhere}\n"
    assert errors_of(text, definitions=None) == [
        "alerts.yaml:3: routes[0].to: unknown target 'nowhere'; defined targets: none defined"]


def test_a_secret_written_in_the_file_is_never_repeated_in_an_error():
    path = ALERT_CONFIGS / "bad" / "secrets-written.yaml"
    errors = "\n".join(errors_of(path.read_text(), file=path.name))
    assert "secrets are never written" in errors
    for secret in ("e93facc04764012d7bfb002500d5d1a6", "pd-secret-value", "slack-secret-value",
                   "hook-secret-value", "leaky-secret-value", "am-secret-value"):
        assert secret not in errors


def test_yaml_1_2_booleans_apply_so_off_and_on_stay_words():
    # through collectors.yamlfile: `on` is not true, so a filter value "on" is not a boolean
    config = parse_alerts("version: baton/v1\ntargets: {h: {kind: webhook, url: http://h/}}\n"
                          "routes: [{sla: on, to: h}]\n", "a.yaml")
    assert config.routes[0].sla == ("on",)


def test_a_yaml_alias_bomb_is_refused_as_one_error(tmp_path: Path):
    if "alias" not in inspect.getsource(yamlfile).lower():
        pytest.skip("collectors/yamlfile.py does not refuse alias bombs yet (another change)")
    # 12 levels of 100 aliases each: 100**12 nodes if expanded, 1200 aliases as written
    levels = ["a0: &a0 [" + ", ".join(["x"] * 100) + "]"] + [
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 100) + "]" for i in range(1, 12)]
    (tmp_path / "alerts.yaml").write_text("version: baton/v1\n" + "\n".join(levels) + "\n")
    code = ("import sys\nfrom slas.alert_config import load_alerts\nfrom slas.errors import "
            "DefinitionError\ntry:\n    load_alerts(sys.argv[1])\nexcept DefinitionError as e:\n"
            "    print('\\n'.join(e.errors))\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "alerts.yaml")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and len(done.stdout.strip().splitlines()) == 1, done.stderr


# --- the policy of one SLA ----------------------------------------------------------------

POLICY = AlertsConfig.model_validate({"version": "baton/v1", "policy": {
    "rules": ["SLABreached", "ErrorBudgetBurn", "JourneysStalled"], "min_events": 20,
    "burn": {"fast": [{"long": "1h", "short": "5m", "factor": 10}],
             "slow": [{"long": "1d", "short": "2h", "factor": 2}]}}})


@pytest.mark.parametrize(("alerts", "rules", "min_events", "fast", "slow"), [
    ("", {"SLABreached", "ErrorBudgetBurn"}, 20, [(H, 300, 10)], [(D, 2 * H, 2)]),
    (", alerts: {min_events: 50}", {"SLABreached", "ErrorBudgetBurn"}, 50, [(H, 300, 10)],
     [(D, 2 * H, 2)]),
    (", alerts: {rules: [SLABreached]}", {"SLABreached"}, 20, [(H, 300, 10)], [(D, 2 * H, 2)]),
    (", alerts: {burn: {fast: [{long: 2h, short: 10m, factor: 7}]}}",
     {"SLABreached", "ErrorBudgetBurn"}, 20, [(2 * H, 600, 7)], [(D, 2 * H, 2)]),
    (", alerts: {burn: {slow: []}}", {"SLABreached", "ErrorBudgetBurn"}, 20, [(H, 300, 10)],
     []),
    (", alerts: off", set(), 20, [(H, 300, 10)], [(D, 2 * H, 2)]),
    (", alerts: false", set(), 20, [(H, 300, 10)], [(D, 2 * H, 2)]),
    (", alerts: {rules: []}", set(), 20, [(H, 300, 10)], [(D, 2 * H, 2)]),
], ids=["inherits-all", "own-min-events", "own-rules", "own-fast-inherits-slow",
        "slow-turned-off", "off", "false", "no-rules"])
def test_an_sla_override_replaces_only_the_fields_it_gives(alerts, rules, min_events, fast,
                                                           slow):
    sla = with_slas(freshness("f", alerts)).sla("f")
    policy = policy_for(sla, POLICY)
    assert policy.rules == frozenset(rules) and policy.min_events == min_events
    assert [(w.long_s, w.short_s, w.factor) for w in policy.burn["fast"]] == fast
    assert [(w.long_s, w.short_s, w.factor) for w in policy.burn["slow"]] == slow


def test_without_an_alerts_file_an_sla_follows_the_default_policy():
    sla = with_slas(freshness("f", ", alerts: {min_events: 5}")).sla("f")
    policy = policy_for(sla, None)
    assert policy.rules == {"SLABreached", "ErrorBudgetBurn"} and policy.min_events == 5
    assert [w.long_s for w in policy.burn["fast"] + policy.burn["slow"]] == [H, 6 * H, 3 * D]


def test_spans_needed_are_every_window_of_the_slas_that_raise_burn_alerts():
    defs = with_slas(freshness("plain"),
                     freshness("own", ", alerts: {burn: {fast: [{long: 2h, short: 10m, "
                               "factor: 7}]}}"),
                     freshness("breach-only", ", alerts: {rules: [SLABreached], burn: {slow: "
                               "[{long: 7d, short: 12h, factor: 1}]}}"),
                     freshness("quiet", ", alerts: off"))
    assert spans_needed(defs, POLICY) == {H, 5 * M, D, 2 * H, 10 * M}
    assert spans_needed(defs, None) == {H, 5 * M, 6 * H, 30 * M, 3 * D, 2 * H, 10 * M}


def test_no_spans_are_needed_when_no_sla_raises_burn_alerts():
    quiet = AlertsConfig.model_validate({"version": "baton/v1",
                                         "policy": {"rules": ["SLABreached"]}})
    assert spans_needed(with_slas(freshness("a"), freshness("b")), quiet) == frozenset()


# --- routing ------------------------------------------------------------------------------

ROUTED = AlertsConfig.model_validate({"version": "baton/v1", "routes": [
    {"team": "platform", "severity": ["critical"], "to": "pager"},
    {"team": ["sales-ops", "marketing-ops"], "alertname": ["SLABreached", "JourneysStalled"],
     "to": "slack"},
    {"sla": "lead-routing-5m", "severity": ["critical", "warning"], "to": ["am", "hook"]},
    {"to": "hook"},
]})


@pytest.mark.parametrize(("labels", "targets"), [
    ({"team": "platform", "severity": "critical", "alertname": "SLABreached"},
     [("pager",), ("hook",)]),
    ({"team": "platform", "severity": "warning", "alertname": "SLABreached"}, [("hook",)]),
    ({"team": "marketing-ops", "severity": "info", "alertname": "JourneysStalled"},
     [("slack",), ("hook",)]),
    ({"team": "sales-ops", "severity": "critical", "alertname": "SLABreached",
      "sla": "lead-routing-5m"}, [("slack",), ("am", "hook"), ("hook",)]),
    ({"team": "sales-ops", "severity": "critical", "alertname": "ErrorBudgetBurn",
      "sla": "lead-routing-5m", "window": "fast"}, [("am", "hook"), ("hook",)]),
    ({"severity": "critical"}, [("hook",)]),
    ({}, [("hook",)]),
], ids=["team-and-severity", "severity-filter-fails", "list-filter", "three-routes",
        "alertname-filter-fails", "label-missing", "no-labels"])
def test_every_route_whose_filters_all_match_is_used(labels, targets):
    assert [route.to for route in routes_for(ROUTED, labels)] == targets


def test_a_route_without_filters_matches_any_alert():
    route = Route.model_validate({"to": "hook"})
    assert route.matches({}) and route.matches({"team": "x", "severity": "info", "sla": "y"})


# --- warnings -----------------------------------------------------------------------------

def test_unset_variables_and_unrouted_targets_are_warnings_not_errors():
    config = parse_alerts("version: baton/v1\ntargets:\n"
                          "  p: {kind: pagerduty, routing_key_env: PD_KEY, url_env: PD_URL}\n"
                          "  s: {kind: slack, url_env: SLACK_URL}\n"
                          "routes: [{to: p}]\n", "a.yaml")
    assert alert_warnings(config, "a.yaml", None, {"SLACK_URL": "https://hooks/x"}) == [
        "a.yaml: targets.p.url_env: environment variable PD_URL is not set; p cannot send "
        "until it is exported",
        "a.yaml: targets.p.routing_key_env: environment variable PD_KEY is not set; p cannot "
        "send until it is exported",
        "a.yaml: targets.s: no route sends to this target"]


def test_inherited_burn_windows_an_sla_cannot_use_are_warnings():
    defs = with_slas(freshness("short-window", window="1d", objective="90%"),
                     freshness("own", ", alerts: {burn: {slow: [{long: 1d, short: 2h, "
                               "factor: 1}]}}", window="1d"),
                     freshness("quiet", ", alerts: off", window="1h", objective="50%"))
    config = parse_alerts("version: baton/v1\npolicy: {min_events: 5}\n", "a.yaml")
    assert alert_warnings(config, "a.yaml", defs, {}) == [
        "a.yaml: policy.burn.fast[0].factor: SLA 'short-window': a burn rate of 14.4 can "
        "never be reached: with an objective of 90% it is at most 10 (every event bad); "
        "change policy.burn.fast or give the SLA its own `alerts: {burn: {fast: [...]}}`"]


def test_a_freshness_burn_window_with_fewer_minutes_than_min_events_is_a_warning():
    defs = with_slas(freshness("fresh"), freshness("own", ", alerts: {min_events: 5}"))
    config = parse_alerts("version: baton/v1\n", "a.yaml")
    assert alert_warnings(config, "a.yaml", defs, {}) == [
        "a.yaml: SLA 'fresh': its fast burn window 5m holds at most 5 outcomes (freshness "
        "counts one a minute), fewer than min_events (10), so it never fires; lower "
        "min_events for this SLA (`alerts: {min_events: N}`)"]


# --- generated schema and reference -------------------------------------------------------

def test_the_committed_alerts_json_schema_is_generated_from_the_models():
    committed = json.loads((ROOT / ALERTS.schema).read_text())
    assert committed == json_schema(ALERTS), "run: python -m slas.docgen"


def test_the_alerts_reference_page_is_generated_from_the_models():
    assert (ROOT / ALERTS.page).read_text() == reference_page(ALERTS), \
        "run: python -m slas.docgen"


@pytest.mark.parametrize(("path", "fmt"), [
    ("config/alerts.yaml", ALERTS), ("tests/configs/alerts/good/alerts.yaml", ALERTS),
    ("config/slas/leads.yaml", SLAS), ("tests/configs/good/leads.yaml", SLAS),
], ids=["example-alerts", "good-alerts", "example-slas", "good-slas"])
def test_the_example_files_satisfy_the_committed_json_schemas(path: str, fmt):
    jsonschema = pytest.importorskip("jsonschema")
    data, _ = load_yaml((ROOT / path).read_text(), path)
    jsonschema.Draft202012Validator(json.loads((ROOT / fmt.schema).read_text())).validate(data)


# --- baton validate -----------------------------------------------------------------------

def validate(config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PD_", "SLACK_"))}
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(config),
                           "validate"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**environ, **(env or {})})


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    (tmp_path / "slas").mkdir()
    (tmp_path / "slas" / "leads.yaml").write_text((CONFIGS / "good" / "leads.yaml").read_text())
    return tmp_path


def test_validate_counts_targets_and_routes_and_warns_of_unset_variables(config_copy: Path):
    (config_copy / "alerts.yaml").write_text(
        (ALERT_CONFIGS / "good" / "alerts.yaml").read_text())
    done = validate(config_copy, {"SLACK_SALES_WEBHOOK": "https://hooks.example/x"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("0 sources, 4 alert targets, 4 alert routes)")
    unset = [line for line in done.stderr.splitlines() if "is not set" in line]
    assert unset == [
        f"warning: {config_copy / 'alerts.yaml'}: targets.platform-pager.routing_key_env: "
        "environment variable PD_PLATFORM_KEY is not set; platform-pager cannot send until "
        "it is exported",
        f"warning: {config_copy / 'alerts.yaml'}: targets.ops-hook.url_env: environment "
        "variable OPS_HOOK_URL is not set; ops-hook cannot send until it is exported"]


def test_validate_reports_every_alerts_error_on_stderr_and_exits_1(config_copy: Path):
    bad = ALERT_CONFIGS / "bad" / "many-errors.yaml"
    (config_copy / "alerts.yaml").write_text(bad.read_text())
    done = validate(config_copy)
    file = str(config_copy / "alerts.yaml")
    expected = [e.replace("many-errors.yaml", file, 1) for e in expected_errors(bad)]
    assert done.returncode == 1 and done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == expected + [f"{len(expected)} error(s) in {config_copy}"]


def test_validate_checks_alerts_even_when_the_sla_files_have_errors(config_copy: Path):
    (config_copy / "slas" / "leads.yaml").write_text("version: baton/v2\n")
    (config_copy / "alerts.yaml").write_text("version: baton/v1\nroutes: [{to: nowhere}]\n")
    done = validate(config_copy)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{config_copy / 'alerts.yaml'}:2: routes[0].to: unknown target 'nowhere'; " \
        "defined targets: none defined" in done.stderr.splitlines()


def test_validate_without_an_alerts_file_is_valid(config_copy: Path):
    done = validate(config_copy)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.strip().endswith("0 alert targets, 0 alert routes)")
