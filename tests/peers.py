"""Real peers for the tests: Debian's `prometheus-alertmanager` (0.25) and `prometheus` (2.42)
on free loopback ports.

    with running_alertmanager(tmp_path) as am:   # or the `alertmanager` fixture (conftest.py)
        am.url                                   # http://127.0.0.1:PORT
        am.alerts()                              # GET /api/v2/alerts (active only, by default)
        am.alerts(filter=['alertname="SLABreached"'])

    with running_prometheus(tmp_path, ["127.0.0.1:9464"]) as prom:   # scrapes every 1s
        prom.query('baton_sla_sli_ratio{sla="fast"}')   # GET /api/v1/query: the result list
        prom.rules()                                    # GET /api/v1/rules: the groups

Alertmanager's config has one `null` receiver, clustering is off (`--cluster.listen-address=`);
each peer's storage lives in the test's folder, so nothing is shared with another run.
`.ci/services` installs the packages when missing; without them the tests that need them are
skipped.
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
PROMETHEUS = "prometheus"
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
        _wait_ready(peer, ready_within, "Alertmanager")
        yield peer
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(peer: Alertmanager | Prometheus, within: float, name: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if peer.process.poll() is not None:
            raise RuntimeError(f"{name} exited with {peer.process.returncode}: "
                               f"{peer.log.read_text()[-2000:]}")
        try:
            if requests.get(f"{peer.url}/-/ready", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} not ready within {within}s: {peer.log.read_text()[-2000:]}")


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        """`GET /api/v1/query`: the instant vector's samples (`metric`, `value`: [t, "v"])."""
        response = requests.get(f"{self.url}/api/v1/query", params={"query": promql},
                                timeout=5)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    def rules(self) -> list[dict[str, Any]]:
        """`GET /api/v1/rules`: the loaded rule groups with each rule's health."""
        response = requests.get(f"{self.url}/api/v1/rules", timeout=5)
        response.raise_for_status()
        groups: list[dict[str, Any]] = response.json()["data"]["groups"]
        return groups


@contextmanager
def running_prometheus(folder: Path, targets: list[str], rule_files: list[Path] | None = None,
                       ready_within: float = 30.0) -> Iterator[Prometheus]:
    """Start Prometheus in `folder` scraping `targets` (host:port, /metrics) every second."""
    binary = shutil.which(PROMETHEUS)
    if binary is None:
        pytest.skip(f"{PROMETHEUS} is not installed (apt-get install {PROMETHEUS}; "
                    ".ci/services does it)")
    folder.mkdir(parents=True, exist_ok=True)
    rules = "".join(f"  - {path}\n" for path in rule_files or [])
    (folder / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        + (f"rule_files:\n{rules}" if rules else "")
        + "scrape_configs:\n  - job_name: baton\n    static_configs:\n"
        + f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")
    port, log = free_port(), folder / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, f"--config.file={folder / 'prometheus.yml'}",
             f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--log.level=warn"], stdout=out, stderr=subprocess.STDOUT)
    peer = Prometheus(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_ready(peer, ready_within, "Prometheus")
        yield peer
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
