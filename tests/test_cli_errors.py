"""Every `baton` command, run as a real process against broken inputs (a missing config folder,
bad store URLs, a file that is no database, a read-only or locked store, bad times and
durations, unknown journeys and leads, a closed stdout), ends with the documented exit code
and one sentence on stderr: never a traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from engine_helpers import CONFIG, ev, load

from collectors.store import Store

ROOT = Path(__file__).parents[1]
STORE_COMMANDS = [["evaluate"], ["evaluate", "--dry-run"], ["stalls"], ["lead", "k0"],
                  ["ingest", "-"], ["serve", "--only", "evaluator"], ["ui", "--port", "1"],
                  ["collect", "--once"], ["receive", "--port", "1"], ["alerts"],
                  ["alerts", "run"], ["silence", "list"]]
CONFIG_COMMANDS = [["validate"], ["evaluate"], ["stalls"], ["lead", "k0"],
                   ["serve", "--only", "evaluator"], ["alerts", "run"], ["openslo", "export"]]


def baton(*argv: str, stdin: str = "", stdout: int | None = subprocess.PIPE,
          env: dict[str, str] | None = None, timeout: float = 60
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *argv], input=stdin,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                          timeout=timeout, env={**os.environ, **(env or {})})


def one_sentence(done: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The one line of stderr, after checking the exit code and that nothing else was said."""
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    (folder / "slas").mkdir(parents=True)
    (folder / "slas" / "test.yaml").write_text(CONFIG)
    (tmp_path / "kong.log").touch()
    (folder / "sources.yaml").write_text(f"version: baton/v1\nsources:\n  gw:\n    kind: kong\n"
                                         f"    file: {tmp_path / 'kong.log'}\n")
    return folder


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A SQLite store with 300 leads stalled after being routed (a long JSON answer)."""
    url = f"sqlite:///{tmp_path / 'baton.db'}"
    opened = Store.open(url)
    load(opened, [e for i in range(300) for e in (ev(f"k{i}", "lead.submitted", 1, 0),
                                                  ev(f"k{i}", "lead.routed", 2, 0))])
    opened.close()
    return url


@pytest.mark.parametrize("argv", CONFIG_COMMANDS, ids=" ".join)
def test_a_missing_config_folder_is_one_sentence(tmp_path, store, argv):
    done = baton("--config", str(tmp_path / "nowhere"), "--store", store, *argv)
    if argv == ["validate"]:  # validate adds its count line
        assert done.stderr.strip().splitlines()[-1].startswith("1 error(s) in")
        done.stderr = done.stderr.strip().splitlines()[0]
    assert "no such folder; pass --config" in one_sentence(done)


@pytest.mark.parametrize("url", [
    "nosuch://x", "not a url", "postgresql+psycopg://root@127.0.0.1:1/none",
], ids=["unknown-scheme", "not-a-url", "nothing-listening"])
@pytest.mark.parametrize("argv", STORE_COMMANDS, ids=" ".join)
def test_a_bad_store_url_is_one_sentence(config, url, argv):
    assert "store" in one_sentence(baton("--config", str(config), "--store", url, *argv))


@pytest.mark.parametrize("argv", STORE_COMMANDS, ids=" ".join)
def test_a_file_that_is_no_database_is_one_sentence(config, tmp_path, argv):
    text = tmp_path / "README.md"
    text.write_text((ROOT / "README.md").read_text())
    sentence = one_sentence(baton("--config", str(config), "--store", f"sqlite:///{text}",
                                  *argv))
    assert sentence == (f"baton: the store at sqlite:///{text} failed (file is not a "
                        "database): it is not a Baton store; pass --store with a new path or "
                        "a store Baton created")


@pytest.mark.parametrize("argv", [["evaluate"], ["ingest", "-"]], ids=" ".join)
def test_a_read_only_store_is_one_sentence_for_commands_that_write(config, tmp_path, store,
                                                                   argv):
    read_only = f"sqlite:///file:{tmp_path / 'baton.db'}?mode=ro&uri=true"
    done = baton("--config", str(config), "--store", read_only, *argv,
                 stdin='{"specversion": "1.0", "id": "x", "source": "s", "type": "t"}\n')
    assert "it is read-only; give Baton write access" in one_sentence(done)


def test_reading_a_read_only_store_works_and_a_dry_run_writes_nothing(config, tmp_path, store):
    read_only = f"sqlite:///file:{tmp_path / 'baton.db'}?mode=ro&uri=true"
    assert baton("--config", str(config), "--store", store, "stalls").returncode == 0
    done = baton("--config", str(config), "--store", read_only, "evaluate", "--dry-run")
    assert done.returncode == 0 and "dry run: nothing was stored" in done.stdout, done.stderr


def test_a_store_locked_by_another_writer_is_waited_for_then_one_sentence(config, tmp_path,
                                                                          store):
    locker = sqlite3.connect(tmp_path / "baton.db", isolation_level=None,
                             check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        done = baton("--config", str(config), "--store", store, "evaluate", timeout=120)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert "another process is writing to it and kept it locked" in one_sentence(done)


def test_a_lock_released_within_the_wait_lets_the_command_finish(config, tmp_path, store):
    locker = sqlite3.connect(tmp_path / "baton.db", isolation_level=None,
                             check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(2.0, lambda: locker.execute("ROLLBACK"))
    release.start()
    try:
        done = baton("--config", str(config), "--store", store, "evaluate")
    finally:
        release.join()
        locker.close()
    assert done.returncode == 0 and "Baton scorecard" in done.stdout, done.stderr


@pytest.mark.parametrize(("argv", "message"), [
    (["evaluate", "--at", "tomorrow"], "is not an RFC 3339 timestamp"),
    (["evaluate", "--at", "2026-01-01T00:00:00"], "has no UTC offset"),
    (["evaluate", "--at", "2026-02-30T00:00:00Z"], "is not a real date and time"),
    (["evaluate", "--at", "2030-01-01T00:00:00Z"], "is in the future"),
    (["evaluate", "--dry-run", "--at", "9999-12-31T23:59:59Z"], "is in the future"),
    (["stalls", "--at", "2030-01-01T00:00:00Z"], "is in the future"),
    (["lead", "k0", "--at", "2030-01-01T00:00:00Z"], "is in the future"),
    (["alerts", "run", "--at", "2030-01-01T00:00:00Z"], "is in the future"),
    (["stalls", "--window", "a week"], "--window 'a week' is not a duration"),
    (["stalls", "--window", "0s"], "a duration here is from 1s to 400d"),
    (["stalls", "--window", "99999999999999999999d"], "a duration here is from 1s to 400d"),
    (["serve", "--only", "evaluator", "--every", "0s"], "a duration here is from 1s"),
    (["stalls", "--journey", "order"], "unknown journey 'order'; defined journeys: lead"),
    (["lead", "k0", "--journey", "order"], "unknown journey 'order'"),
    (["lead", "nobody"], "no events for 'nobody'"),
    (["ingest", "no-such-file.json"], "no such file"),
    (["openslo", "import", "no-such-file.yaml"], "no such file"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_a_user_mistake_on_the_command_line_is_one_sentence(config, store, argv, message):
    assert message in one_sentence(baton("--config", str(config), "--store", store, *argv))


@pytest.mark.parametrize("argv", [["stalls", "--limit", "0"], ["stalls", "--sort", "random"],
                                  ["evaluate", "--at"], ["nosuchcommand"]], ids=" ".join)
def test_wrong_usage_is_exit_2_without_a_traceback(config, store, argv):
    done = baton("--config", str(config), "--store", store, *argv)
    assert done.returncode == 2 and "Traceback" not in done.stderr


@pytest.mark.parametrize("argv", [["stalls", "--json"], ["stalls"], ["lead", "k0", "--json"],
                                  ["evaluate", "--json"], ["validate"]], ids=" ".join)
def test_a_closed_stdout_ends_the_command_quietly(config, store, argv):
    read, write = os.pipe()
    os.close(read)  # as `| head` does once it has its lines
    try:
        done = baton("--config", str(config), "--store", store, *argv, stdout=write)
    finally:
        os.close(write)
    assert done.returncode == 1 and done.stderr == ""


@pytest.mark.parametrize(("users", "argv"), [
    (None, ["users", "add", "bob"]),
    ("users: {bob: {role: editor}}\n", ["users", "add", "bob"]),
    ("a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, "
     "*c, *c]\n", ["users", "list"]),
    ("users: [\n", ["users", "list"]),
], ids=["add-without-a-terminal", "add-to-a-file-without-a-terminal", "list-an-alias-bomb",
        "list-a-broken-file"])
def test_users_commands_are_one_sentence_without_a_terminal_or_with_a_broken_file(
        tmp_path, users, argv):
    path = tmp_path / "users.yaml"
    if users is not None:
        path.write_text(users)
    done = baton(*argv, env={"BATON_USERS_FILE": str(path)})
    assert one_sentence(done).startswith("baton: ")
