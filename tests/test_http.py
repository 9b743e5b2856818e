"""The HTTP face of `baton serve`: `/metrics` holds the stored numbers (parsed with
prometheus_client's own parser, compared with `baton evaluate --json`), `/healthz` follows
the store going away and coming back, and the receiver's routes share the port."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from fakes.proxy import Proxy
from service_helpers import (
    baton_serve,
    config_dir,
    labels,
    live_leads,
    scrape,
    wait_for,
)
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.cli import main
from app.serve import Evaluator
from app.web import Health, HttpServer, create_app
from collectors.schema import format_time, parse_time
from collectors.store import Store, WriteCounts
from collectors.tables import evaluation_runs, notifications

ALERTS = """version: baton/v1
targets:
  hook: {kind: webhook, url: "http://127.0.0.1:9/never"}
routes:
  - {to: [hook]}
"""


@pytest.fixture
def face(store: Store) -> Iterator[str]:
    """The HTTP face of `store` on a free loopback port (uvicorn on a thread): its URL."""
    server = HttpServer(create_app(store, Health()), "127.0.0.1", 0)
    server.start()
    url = f"http://127.0.0.1:{server.port}"
    wait_for(lambda: requests.get(f"{url}/healthz", timeout=2).ok)
    yield url
    server.stop()


def cli_json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_metrics_are_the_numbers_of_the_newest_evaluation_as_baton_evaluate_json_prints_them(
        store, store_url, tmp_path: Path, face: str, capsys) -> None:
    config = config_dir(tmp_path / "config")
    (config / "alerts.yaml").write_text(ALERTS)
    live_leads(store, "a", good=20, late=3, stuck=4)
    Evaluator(store, str(config)).tick()  # a scheduled evaluation: run, stalls, alerts
    capsys.readouterr()
    live_leads(store, "b", good=0, late=6, stuck=0)  # the numbers move on
    common = ["--config", str(config), "--store", store_url]
    expected = cli_json(capsys, *common, "evaluate", "--json")
    store.record_source("bus", "nats", WriteCounts(7, 2, 1))
    metrics = scrape(f"{face}/metrics")

    for sla in expected["slas"]:
        at = labels(sla=sla["name"], team=sla["team"], kind=sla["kind"])
        assert metrics["baton_sla_sli_ratio"][at] == sla["sli"]
        assert metrics["baton_sla_objective_ratio"][at] == sla["objective"]
        assert metrics["baton_sla_error_budget_remaining_ratio"][at] == sla["budget_remaining"]
        for window, value in sla["burn_rate"].items():
            burn = metrics["baton_sla_burn_rate"].get(labels(**dict(at), window=window))
            assert burn == value  # None: no outcome in the span, so no sample
        for outcome in ("good", "bad"):
            events = labels(**dict(at), outcome=outcome)
            assert metrics["baton_sla_events"][events] == sla[outcome]
        assert metrics["baton_sla_status"][labels(**dict(at), status=sla["status"])] == 1
    assert metrics["baton_last_evaluation_timestamp_seconds"][()] == parse_time(
        expected["evaluated_at"], "at") / 1e6

    with store.engine.connect() as conn:
        run = conn.execute(select(evaluation_runs)).mappings().one()
        pending = len(conn.execute(select(notifications.c.id).where(
            notifications.c.state == "pending")).all())
    assert metrics["baton_evaluation_duration_seconds"][()] == run["duration_s"] > 0
    stalls = cli_json(capsys, *common, "stalls", "--json", "--at",
                      format_time(run["evaluated_at_us"]))
    owners = {"submitted": "ops", "routed": "sales"}  # the next stage's owner is accountable
    assert metrics["baton_journeys_stalled"] == {
        labels(journey="lead", stage=stage, team=owners[stage]): count
        for stage, count in stalls["by_stage"].items()}
    assert stalls["by_stage"]["submitted"] == 4

    firing = [a for a in cli_json(capsys, *common, "alerts", "--json")["alerts"]
              if a["state"] == "firing"]
    assert firing and metrics["baton_alerts_firing"][()] == len(firing)
    assert pending and metrics["baton_outbox_pending"][()] == pending
    assert {outcome: metrics["baton_source_events_total"][labels(source="bus", outcome=outcome)]
            for outcome in ("accepted", "duplicate", "rejected")} == {
        "accepted": 7, "duplicate": 2, "rejected": 1}


def test_metrics_answers_at_metrics_itself_in_the_text_format_or_openmetrics_if_asked(
        face: str) -> None:
    plain = requests.get(f"{face}/metrics", timeout=10, allow_redirects=False)
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE baton_source_events_total counter" in plain.text
    asked = requests.get(f"{face}/metrics", allow_redirects=False, timeout=10, headers={
        "Accept": "application/openmetrics-text; version=1.0.0"})
    assert asked.status_code == 200
    assert asked.headers["content-type"].startswith("application/openmetrics-text")
    assert asked.text.endswith("# EOF\n")


def _away(store_url: str, tmp_path: Path) -> Iterator[tuple[str, object, object]]:
    """(the URL baton serve opens, make the store go away, bring it back)."""
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite":
        path, aside = Path(url.database or ""), tmp_path / "aside.db"
        yield store_url, lambda: os.rename(path, aside), lambda: os.rename(aside, path)
        return
    proxies = [Proxy(url.port or 5432)]
    port = proxies[0].port

    def back() -> None:
        proxies.append(Proxy(url.port or 5432, port))

    try:
        yield (url.set(port=port).render_as_string(hide_password=False),
               lambda: proxies[-1].close(), back)
    finally:
        proxies[-1].close()


def test_healthz_turns_503_when_the_store_goes_away_and_200_when_it_is_back(
        store_url: str, tmp_path: Path) -> None:
    config = config_dir(tmp_path / "config")
    Store.open(store_url).close()
    for url, go_away, come_back in _away(store_url, tmp_path):
        with baton_serve(config, url, "--only", "evaluator", "--every", "1s") as (process,
                                                                                   base):
            wait_for(lambda: requests.get(f"{base}/healthz", timeout=5).status_code == 200)
            go_away()
            down = wait_for(lambda: _body_if(f"{base}/healthz", 503))
            assert down["status"] == "unavailable" and down["checks"]["scheduler"] == "ok"
            assert down["reason"].startswith("the ") and "store" in down["reason"]
            come_back()
            up = wait_for(lambda: _body_if(f"{base}/healthz", 200))
            assert up == {"status": "ok", "checks": {"store": "ok", "scheduler": "ok",
                                                     "threads": "ok"}}
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=15)
        assert process.returncode == 0
        assert "Traceback" not in err
        assert all(line.startswith("baton: ") for line in err.splitlines()), err


def _body_if(url: str, status: int) -> dict | None:
    """The JSON body of GET `url` when it answers `status`."""
    response = requests.get(url, timeout=10)
    return response.json() if response.status_code == status else None


def test_the_receiver_is_served_on_the_same_port_when_push_sources_are_configured(
        store_url: str, tmp_path: Path) -> None:
    config = config_dir(tmp_path / "config")
    (config / "sources.yaml").write_text("version: baton/v1\nsources:\n  web:\n"
                                         "    kind: cloudevents\n    token_env: WEB_TOKEN\n")
    event = {"specversion": "1.0", "id": "e1", "source": "web", "type": "lead.submitted",
             "time": "2026-01-01T00:00:00Z", "correlationid": "k1"}
    with baton_serve(config, store_url, "--only", "collectors",
                     env={"WEB_TOKEN": "s3cret"}) as (process, base):
        pushed = requests.post(f"{base}/v1/events", json=event, timeout=10, headers={
            "Authorization": "Bearer s3cret", "Content-Type": "application/cloudevents+json"})
        assert pushed.status_code == 200 and pushed.json()["accepted"] == 1
        metrics = scrape(f"{base}/metrics")
        assert metrics["baton_source_events_total"][labels(source="web",
                                                           outcome="accepted")] == 1
        assert requests.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    assert process.returncode == 0


@pytest.mark.parametrize("address, message", [
    ("localhost", "--http 'localhost' is not HOST:PORT"),
    ("127.0.0.1:http", "is not HOST:PORT"),
    ("in-use", "cannot listen on 127.0.0.1:"),
])
def test_a_bad_http_address_or_a_port_in_use_is_one_sentence_and_exit_1(
        sqlite_url: str, tmp_path: Path, capsys, address: str, message: str) -> None:
    config = config_dir(tmp_path / "config")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        if address == "in-use":
            address = f"127.0.0.1:{taken.getsockname()[1]}"
        code = main(["--config", str(config), "--store", sqlite_url, "serve", "--only",
                     "evaluator", "--http", address])
    err = capsys.readouterr().err
    assert code == 1 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
