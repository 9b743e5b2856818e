"""`baton serve` evaluates on a schedule in a real process, keeps going through a broken
edit of the SLA files, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from engine_helpers import CONFIG, ev, load
from sqlalchemy import func, select

from collectors.store import Store
from collectors.tables import sla_results


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

    from app.serve import Evaluator

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
