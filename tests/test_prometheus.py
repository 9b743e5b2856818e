"""A real Prometheus (Debian's 2.42) scrapes a real `baton serve --http` and answers PromQL
with Baton's SLIs; it also loads docs/prometheus-rules.yaml and evaluates every rule."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from peers import running_prometheus
from prometheus_client import CollectorRegistry, generate_latest
from service_helpers import baton_serve, config_dir, evaluate_json, live_leads, wait_for

from app.exporter import StoreCollector
from collectors.store import Store

DOCS = Path(__file__).resolve().parents[1] / "docs"
RULES = DOCS / "prometheus-rules.yaml"
DASHBOARD = DOCS / "grafana-dashboard.json"


def test_prometheus_scraping_baton_serve_answers_promql_with_baton_evaluate_json_slis(
        store: Store, store_url: str, tmp_path: Path) -> None:
    config = config_dir(tmp_path / "config")
    live_leads(store, "a", good=30, late=4, stuck=3)
    with baton_serve(config, store_url, "--only", "evaluator", "--every", "1h") as (_, base):
        wait_for(lambda: "baton_sla_sli_ratio{" in _text(f"{base}/metrics"))  # its first tick
        live_leads(store, "b", good=0, late=5, stuck=0)  # later numbers, stored by the CLI:
        expected = {s["name"]: s for s in evaluate_json(config, store_url)["slas"]}
        target = base.removeprefix("http://")
        with running_prometheus(tmp_path / "prometheus", [target], [RULES]) as prometheus:
            for name, sla in expected.items():
                if sla["sli"] is None:
                    continue
                query = f'baton_sla_sli_ratio{{sla="{name}"}}'
                [sample] = wait_for(lambda q=query: prometheus.query(q), seconds=30)
                assert float(sample["value"][1]) == sla["sli"]
                assert sample["metric"]["team"] == sla["team"]
                assert sample["metric"]["kind"] == sla["kind"]
            burn = 'sla_window:baton_sla_burn_rate:span{sla="fast", window="1h"}'
            [recorded] = wait_for(lambda: prometheus.query(burn), seconds=30)
            assert float(recorded["value"][1]) == pytest.approx(expected["fast"]["burn_rate"]
                                                                ["1h"])
            rules = [rule for group in prometheus.rules() for rule in group["rules"]]
            assert len(rules) == 12
            assert all(rule["health"] == "ok" for rule in rules), [
                (rule["name"], rule.get("lastError")) for rule in rules]
            for expr in dashboard_queries():  # Prometheus answers each (a 400 would raise)
                answer = prometheus.query(expr.replace("$team", ".*").replace("$sla", ".*"))
                assert answer or "source" in expr, expr  # no source in this store


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"]
            for target in panel.get("targets", [])]


def test_the_dashboard_and_the_rules_use_only_metrics_baton_exports(store: Store) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    exported = set(re.findall(r"^# TYPE (\S+)", generate_latest(registry).decode(), re.M))
    written = " ".join(dashboard_queries()) + RULES.read_text()
    used = set(re.findall(r"\bbaton_[a-z0-9_]+", written.replace(":", " ")))
    assert used and used <= exported, used - exported
    assert len(dashboard_queries()) >= 12


def _text(url: str) -> str:
    return requests.get(url, timeout=5).text


def test_the_rules_example_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian's prometheus package) is not installed")
    checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 12 rules found" in checked.stdout
