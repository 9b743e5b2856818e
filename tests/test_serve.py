"""`baton serve` evaluates on a schedule in a real process, keeps going through a broken
edit of the SLA files, and stops cleanly on SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import CONFIG, ev, load
from service_helpers import NatsStream, bus_events, config_dir, json_lines
from sqlalchemy import func, select

from app.serve import Evaluator
from collectors.store import Store
from collectors.tables import events, sla_results, source_status


def evaluations(url: str) -> int:
    store = Store.open(url)
    with store.engine.connect() as conn:
        count = conn.execute(select(func.count(func.distinct(sla_results.c.evaluated_at_us))))
        return int(count.scalar() or 0)


def wait_for(check, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_serve_evaluates_every_interval_and_survives_a_broken_edit(sqlite_url, tmp_path: Path):
    (tmp_path / "slas").mkdir()
    slas = tmp_path / "slas" / "test.yaml"
    slas.write_text(CONFIG)
    load(Store.open(sqlite_url), [ev("a", "lead.submitted", 1, 0)])
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--config", str(tmp_path), "--store", sqlite_url,
         "serve", "--only", "evaluator", "--every", "1s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: evaluations(sqlite_url) >= 2), "no scheduled evaluations"
        slas.write_text("version: baton/v1\nslas: [oops]\n")
        seen = evaluations(sqlite_url)
        assert wait_for(lambda: evaluations(sqlite_url) >= seen + 2), "stopped after bad edit"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "evaluated 5 SLAs" in out
    assert "evaluating with the last valid definitions" in err and "Traceback" not in err


def test_serve_reports_a_broken_source_in_one_sentence_and_shuts_down_without_traces(
        sqlite_url, tmp_path: Path):
    (tmp_path / "slas").mkdir()
    (tmp_path / "slas" / "test.yaml").write_text(CONFIG)
    (tmp_path / "sources.yaml").write_text(
        "version: baton/v1\nsources:\n  bus:\n    kind: nats\n    url: nats://127.0.0.1:4222\n"
        "    stream: NO_SUCH_STREAM_4F2\n    subject: nothing.>\n    durable: baton\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--config", str(tmp_path), "--store", sqlite_url,
         "serve", "--every", "1s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: evaluations(sqlite_url) >= 1), "the evaluator did not run"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "JetStream stream 'NO_SUCH_STREAM_4F2' does not exist" in err
    assert "Traceback" not in err and "Task was destroyed" not in err


def test_an_evaluation_the_store_fails_is_one_line_and_the_next_tick_runs_again(
        sqlite_url, tmp_path: Path, capsys) -> None:
    from sqlalchemy import text

    (tmp_path / "slas").mkdir()
    (tmp_path / "slas" / "test.yaml").write_text(CONFIG)
    store = Store.open(sqlite_url)
    load(store, [ev("a", "lead.submitted", 1, 0)])
    evaluator = Evaluator(store, str(tmp_path))
    with store.engine.begin() as conn:  # a real store failure: the results table is gone
        conn.execute(text("ALTER TABLE sla_results RENAME TO sla_results_away"))
    evaluator.tick()
    err = capsys.readouterr().err
    assert "evaluation failed:" in err and "retrying at the next tick" in err
    assert len(err.strip().splitlines()) == 1
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE sla_results_away RENAME TO sla_results"))
    evaluator.tick()
    assert evaluations(sqlite_url) == 1  # the second tick stored its evaluation


# --- stopping, logging and scheduling (issue 9: operations) ---


@pytest.fixture
def nats_stream() -> Iterator[NatsStream]:
    stream = NatsStream()
    yield stream
    stream.delete()


def stored_ids(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return sorted(row[0] for row in conn.execute(select(events.c.event_id)))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_signal_mid_ingest_stops_within_10s_with_exit_0_losing_and_doubling_nothing(
        store: Store, store_url: str, tmp_path: Path, nats_stream: NatsStream,
        signum: int) -> None:
    config = config_dir(tmp_path / "config")
    (config / "sources.yaml").write_text("version: baton/v1\nsources:\n"
                                         + nats_stream.source_yaml(batch=50))
    total = 4000
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--config", str(config), "--store", store_url,
         "serve", "--only", "collectors", "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    publisher = threading.Thread(target=lambda: [
        (nats_stream.publish(bus_events(nats_stream.tag, 100, start)), time.sleep(0.05))
        for start in range(0, total, 100)])
    publisher.start()
    try:
        assert wait_for(lambda: store.count(events) >= 400, 30), "nothing was collected"
        process.send_signal(signum)
        signalled = time.monotonic()
        out, err = process.communicate(timeout=15)
        stopped_in = time.monotonic() - signalled
    finally:
        publisher.join()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and stopped_in < 10, (stopped_in, err)
    assert store.count(events) < total  # it stopped mid-ingest
    drained = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(config),
                              "--store", store_url, "collect", "--once"],
                             capture_output=True, text=True, timeout=60)
    assert drained.returncode == 0, drained.stderr
    assert stored_ids(store) == sorted(f"{nats_stream.tag}-{n}" for n in range(total))
    with store.engine.connect() as conn:
        duplicate = conn.execute(select(source_status.c.duplicate)).scalar()
    assert duplicate == 0  # every committed batch was acknowledged: none came back
    consumer = nats_stream.consumer()
    assert consumer.num_ack_pending == 0 and consumer.num_pending == 0
    lines = json_lines(out) + json_lines(err)
    assert [line["event"] for line in lines][-2:] == ["collected", "serve.stopped"]
    assert lines[-2]["source"] == "bus" and lines[-2]["counts"]["duplicate"] == 0
    assert signal.Signals(signum).name in {line.get("signal") for line in lines}


def test_json_logs_are_one_object_per_line_with_time_level_and_event(
        sqlite_url: str, tmp_path: Path) -> None:
    config = config_dir(tmp_path / "config")
    (config / "sources.yaml").write_text(
        "version: baton/v1\nsources:\n  bus:\n    kind: nats\n    url: nats://127.0.0.1:4222\n"
        "    stream: NO_SUCH_STREAM_9B1\n    subject: nothing.>\n")
    load(Store.open(sqlite_url), [ev("a", "lead.submitted", 1, 0, email="ann@example.com")])
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--config", str(config), "--store", sqlite_url,
         "serve", "--every", "1s", "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: evaluations(sqlite_url) >= 2)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0
    info, problems = json_lines(out), json_lines(err)
    for line in info + problems:
        assert {"time", "level", "event", "message"} <= set(line)
        assert line["time"].endswith("Z") and "T" in line["time"]
    evaluated = next(line for line in info if line["event"] == "evaluated")
    assert evaluated["level"] == "info" and evaluated["slas"] == 5
    assert sum(evaluated["counts"].values()) == 5 and evaluated["duration_s"] >= 0
    failing = next(line for line in problems if line["event"] == "collector.error")
    assert failing["level"] == "error" and failing["source"] == "bus"
    assert "ann@example.com" not in out + err


@pytest.mark.parametrize("text, masked", [
    ("owner ann.lee+crm@example.co.uk left", "owner [masked] left"),
    ("HubSpot said: email=ann@example.com is taken", "HubSpot said: email=[masked] is taken"),
    ("401 for Authorization: Bearer abc.DEF-123", "401 for Authorization: Bearer <redacted>"),
    ("cannot reach amqp://baton:hunter2@mq:5672/%2F", "cannot reach amqp://<redacted>@mq:5672/%2F"),
    ("GET https://x.example/v1?token=s3cr3t&limit=5", "GET https://x.example/v1?token=<redacted>&limit=5"),
    ("evaluated 4 SLAs: 4 ok", "evaluated 4 SLAs: 4 ok"),
], ids=["email", "personal-pair", "bearer", "url-credentials", "query-token", "nothing-to-mask"])
def test_log_lines_never_carry_email_addresses_tokens_or_credentials(text: str,
                                                                   masked: str) -> None:
    from app.logs import mask

    assert mask(text) == masked


class SlowEvaluator(Evaluator):
    """An evaluator whose evaluation takes `seconds` longer (a store under load)."""

    def __init__(self, *args, seconds: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seconds, self.running, self.most, self.runs = seconds, 0, 0, 0

    def _evaluate(self):
        self.running += 1
        self.most, self.runs = max(self.most, self.running), self.runs + 1
        try:
            time.sleep(self.seconds)
            return super()._evaluate()
        finally:
            self.running -= 1


def test_evaluations_longer_than_the_interval_never_pile_up_and_are_logged_with_duration(
        sqlite_url: str, tmp_path: Path, capsys) -> None:
    from app.service import Service

    config = config_dir(tmp_path / "config")
    store = Store.open(sqlite_url)
    evaluator = SlowEvaluator(store, str(config), 1.0, seconds=2.2)
    service = Service(store, 1, evaluator=evaluator)
    service.start()
    time.sleep(6.5)
    assert service.shutdown() == 0
    assert evaluator.most == 1  # never two at once
    assert 2 <= evaluator.runs <= 3  # missed ticks coalesced, not queued up
    err = capsys.readouterr().err
    slow = [line for line in err.splitlines() if "longer than the 1s interval" in line]
    assert slow and all(re.search(r"took 2\.\ds", line) for line in slow)
    assert "maximum number of running instances" not in err


SLOW_SERVE = """
import sys, time
sys.path.insert(0, {tests!r})
from test_serve import SlowEvaluator
from app.service import Service
from collectors.store import Store

class Marked(SlowEvaluator):
    def _evaluate(self):
        print("EVALUATING", flush=True)
        return super()._evaluate()

store = Store.open({url!r})
evaluator = Marked(store, {config!r}, 1.0, seconds=120)
sys.exit(Service(store, 60, evaluator=evaluator).run())
"""


def test_stopping_during_an_evaluation_far_longer_than_10s_exits_0_within_10s_committing_nothing(
        sqlite_url: str, tmp_path: Path) -> None:
    config = config_dir(tmp_path / "config")
    Store.open(sqlite_url).close()
    script = SLOW_SERVE.format(tests=str(Path(__file__).parent), url=sqlite_url,
                               config=str(config))
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    while "EVALUATING" not in (line := process.stdout.readline()):  # it started, and sleeps
        assert line, process.communicate()
    process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0 and time.monotonic() - signalled < 10, err
    assert "the evaluation still running; nothing of it was committed" in err, err
    assert evaluations(sqlite_url) == 0
