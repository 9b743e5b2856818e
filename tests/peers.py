"""Real peers for the tests: Debian's `prometheus-alertmanager` (0.25) on a free loopback port.

    with running_alertmanager(tmp_path) as am:   # or the `alertmanager` fixture (conftest.py)
        am.url                                   # http://127.0.0.1:PORT
        am.alerts()                              # GET /api/v2/alerts (active only, by default)
        am.alerts(filter=['alertname="SLABreached"'])

The config has one `null` receiver, clustering is off (`--cluster.listen-address=`) and the
storage lives in the test's folder, so nothing is shared with another run. `.ci/services`
installs the package when it is missing; without it the tests that need it are skipped.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ALERTMANAGER = "prometheus-alertmanager"
NULL_CONFIG = """\
route:
  receiver: "null"
  group_wait: 0s
receivers:
  - name: "null"
"""


@dataclass
class Alertmanager:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def alerts(self, active: bool = True, silenced: bool = True, inhibited: bool = True,
               filter: list[str] | None = None) -> list[dict[str, Any]]:
        """`GET /api/v2/alerts` (Alertmanager leaves out alerts whose endsAt has passed)."""
        params: dict[str, Any] = {"active": str(active).lower(),
                                  "silenced": str(silenced).lower(),
                                  "inhibited": str(inhibited).lower()}
        if filter:
            params["filter"] = filter
        response = requests.get(f"{self.url}/api/v2/alerts", params=params, timeout=5)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_alertmanager(folder: Path, config: str = NULL_CONFIG,
                         ready_within: float = 30.0) -> Iterator[Alertmanager]:
    """Start Alertmanager in `folder`, wait for `/-/ready`, stop it afterwards."""
    binary = shutil.which(ALERTMANAGER)
    if binary is None:
        pytest.skip(f"{ALERTMANAGER} is not installed (apt-get install {ALERTMANAGER}; "
                    ".ci/services does it)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alertmanager.yml").write_text(config)
    port, log = free_port(), folder / "alertmanager.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, f"--config.file={folder / 'alertmanager.yml'}",
             f"--storage.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--cluster.listen-address=", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT)
    peer = Alertmanager(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_ready(peer, ready_within)
        yield peer
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(peer: Alertmanager, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if peer.process.poll() is not None:
            raise RuntimeError(f"Alertmanager exited with {peer.process.returncode}: "
                               f"{peer.log.read_text()[-2000:]}")
        try:
            if requests.get(f"{peer.url}/-/ready", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Alertmanager not ready within {within}s: {peer.log.read_text()[-2000:]}")
