"""Alerts through real `baton` processes: the CLI end to end, a process SIGKILLed before a
notification was sent and after it was sent but before it was marked, and two `baton serve`
against one PostgreSQL store sending every notification once (and the second taking over)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alert_helpers import environ, healthy, lost, write_config
from engine_helpers import MIN, T0, load
from sqlalchemy import select

from collectors.schema import format_time
from collectors.tables import leases, notifications
from slas.definitions import load_folder
from slas.engine import evaluate

AT = format_time(T0 + 60 * MIN)
POLICY = "  rules: [SLABreached]"


def baton(*args: str, env: dict[str, str] | None = None, timeout: float = 60
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def breached_store(store, folder: Path) -> None:
    load(store, healthy(0, 30) + lost(30, 60))
    evaluate(store, load_folder(folder), T0 + 60 * MIN)


def wait_until(condition, timeout: float = 20.0, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(every)


def outbox(store) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(notifications)
                                              .order_by(notifications.c.id)).mappings()]


def test_the_command_line_runs_alerts_lists_them_and_silences(store, store_url, sink,
                                                               tmp_path):
    folder = write_config(tmp_path / "config", sink.url, policy=POLICY)
    breached_store(store, folder)
    common = ("--store", store_url, "--config", str(folder))
    silenced = baton(*common, "silence", "add", "--sla", "routed", "--for", "2h",
                     "--reason", "CRM migration", "--by", "alice")
    assert silenced.returncode == 0, silenced.stderr
    run = baton(*common, "alerts", "run", "--at", AT, "--deliver-for", "3s")
    assert run.returncode == 0, run.stderr
    assert "1 started firing" in run.stdout and "1 silenced" in run.stdout
    assert "sent 1" in run.stdout
    [message] = sink.received("/hook")
    assert [a["labels"]["sla"] for a in message.json["alerts"]] == ["fast"]

    listed = json.loads(baton(*common, "alerts", "--json").stdout)
    states = {a["sla"]: a for a in listed["alerts"]}
    assert states["fast"]["state"] == "firing" and states["routed"]["state"] == "silenced"
    assert states["fast"]["notifications"][0]["state"] == "sent"
    assert states["fast"]["since"] == AT

    silences = json.loads(baton(*common, "silence", "list", "--json").stdout)["silences"]
    assert [(s["reason"], s["created_by"], s["active"]) for s in silences] == [
        ("CRM migration", "alice", True)]
    ended = baton(*common, "silence", "end", str(silences[0]["id"]), "--by", "bob")
    assert ended.returncode == 0, ended.stderr
    again = baton(*common, "alerts", "run", "--at", AT, "--deliver-for", "3s")
    assert again.returncode == 0, again.stderr
    assert [a["labels"]["sla"] for m in sink.received("/hook") for a in m.json["alerts"]] == [
        "fast", "routed"]


@pytest.mark.parametrize(("args", "message"), [
    (["silence", "add", "--for", "2h", "--reason", "x", "--by", "a"],
     "a silence needs at least one of --sla, --team or --alertname"),
    (["silence", "add", "--sla", "nope", "--for", "2h", "--reason", "x", "--by", "a"],
     "--sla 'nope' is not known"),
    (["silence", "add", "--team", "sales", "--for", "soon", "--reason", "x", "--by", "a"],
     "--for 'soon' is not a duration"),
    (["silence", "end", "99", "--by", "a"], "no silence 99"),
    (["alerts", "run", "--at", "2026-01-01T00:00:00"], "offset"),
])
def test_alert_commands_answer_mistakes_with_one_sentence(store_url, sink, tmp_path, args,
                                                          message):
    folder = write_config(tmp_path / "config", sink.url, policy=POLICY)
    result = baton("--store", store_url, "--config", str(folder), *args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_killed_before_the_notification_was_sent_it_is_sent_once_after_restart(
        store, store_url, sink, tmp_path):
    folder = write_config(tmp_path / "config", sink.url, policy=POLICY)
    breached_store(store, folder)
    sink.down()
    process = start("--store", store_url, "--config", str(folder), "alerts", "run", "--at", AT,
                    "--deliver-for", "60s")
    wait_until(lambda: any(n["attempts"] >= 1 for n in outbox(store)))
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert [n["state"] for n in outbox(store)] == ["pending", "pending"]  # written, not sent
    sink.up()
    rerun = baton("--store", store_url, "--config", str(folder), "alerts", "run", "--at", AT,
                  "--deliver-for", "5s")
    assert rerun.returncode == 0, rerun.stderr
    [message] = sink.received("/hook")  # both breaches of the team, once
    assert sorted(a["labels"]["sla"] for a in message.json["alerts"]) == ["fast", "routed"]
    assert [n["state"] for n in outbox(store)] == ["sent", "sent"]


def test_killed_after_sending_but_before_marking_it_resends_the_same_dedup_key_once(
        store, store_url, sink, tmp_path):
    """The crash window the outbox cannot close: PagerDuty got the event, the process died
    before its 202 was recorded. The restart sends the same dedup key again (PagerDuty
    collapses it into the same incident): two deliveries at most, never a second incident."""
    folder = write_config(tmp_path / "config", sink.url, policy=POLICY,
                          routes="  - {to: [pager]}")
    breached_store(store, folder)
    sink.hang("/pagerduty", seconds=30, times=2)  # the events arrive; the answers never do
    env = environ(sink.url)
    process = start("--store", store_url, "--config", str(folder), "alerts", "run", "--at", AT,
                    "--deliver-for", "60s", env=env)
    sink.wait_for("/pagerduty", count=2, timeout=20)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert {n["state"] for n in outbox(store)} == {"pending"}  # not marked
    sink.reset()
    rerun = baton("--store", store_url, "--config", str(folder), "alerts", "run", "--at", AT,
                  "--deliver-for", "5s", env=env)
    assert rerun.returncode == 0, rerun.stderr
    resent = sink.received("/pagerduty")
    assert sorted(r.json["dedup_key"] for r in resent) == [
        "baton/SLABreached/fast", "baton/SLABreached/routed"]
    assert {r.json["event_action"] for r in resent} == {"trigger"}
    assert {n["state"] for n in outbox(store)} == {"sent"}


@pytest.mark.slow
def test_two_serve_processes_on_one_postgresql_store_notify_once_and_take_over(
        postgres_url, sink, tmp_path):
    from collectors.store import Store, now_us

    folder = write_config(tmp_path / "config", sink.url, policy=POLICY)
    alerts_yaml = folder / "alerts.yaml"
    alerts_yaml.write_text(alerts_yaml.read_text().replace(
        'url: "' + sink.url + '/hook"}', 'url: "' + sink.url + '/hook", timeout: 1s}'))
    store = Store.open(postgres_url)
    now_minute = (now_us() - T0) / MIN
    events = healthy(now_minute - 60, now_minute - 30) + lost(now_minute - 30, now_minute)
    load(store, events)
    serve = ("--store", postgres_url, "--config", str(folder), "serve", "--only", "evaluator",
             "--every", "2s")
    first, second = start(*serve), start(*serve)
    try:
        sink.wait_for("/hook", count=1, timeout=40)
        time.sleep(8)  # several more ticks of both
        [trigger] = sink.received("/hook")
        assert trigger.json["status"] == "firing"
        with store.engine.connect() as conn:
            holder = conn.execute(select(leases.c.holder)).scalar()
        holding = first if holder.endswith(f":{first.pid}") else second
        other = second if holding is first else first
        os.kill(holding.pid, signal.SIGKILL)
        holding.wait(timeout=10)
        slas = folder / "slas" / "test.yaml"  # relax the objectives: the breaches resolve
        slas.write_text(slas.read_text().replace("objective: 90%", "objective: 10%"))
        sink.wait_for("/hook", count=2, timeout=60)
        hooks = sink.received("/hook")
        assert [h.json["status"] for h in hooks] == ["firing", "resolved"]
        with store.engine.connect() as conn:
            holder = conn.execute(select(leases.c.holder)).scalar()
        assert holder.endswith(f":{other.pid}")
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=20)
        store.close()
