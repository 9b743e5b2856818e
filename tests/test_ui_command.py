"""`baton ui`: headless Streamlit on the router, and a clear sentence when the store is down."""

from __future__ import annotations

import subprocess
import sys

from app.ui_command import UI_SCRIPT, ui_command


def test_baton_ui_runs_the_router_headless_on_the_given_port_and_address():
    command = ui_command(8600, "127.0.0.1")
    assert command[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert command[4] == str(UI_SCRIPT) and UI_SCRIPT.name == "ui.py"
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.headless"] == "true"
    assert options["--server.port"] == "8600"
    assert options["--server.address"] == "127.0.0.1"
    assert options["--browser.gatherUsageStats"] == "false"


def test_baton_ui_on_an_unreachable_store_says_so_in_one_sentence():
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "--store",
         "postgresql+psycopg://root@127.0.0.1:1/nothing", "ui", "--port", "8601"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("baton: ") and "Traceback" not in done.stderr
