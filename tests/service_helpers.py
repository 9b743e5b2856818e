"""Helpers for tests of `baton serve` as a service: live data (times just before now, so a
real process evaluating "now" sees it), a config folder, starting and scraping a process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import requests
from engine_helpers import CONFIG, MIN, load
from peers import free_port
from prometheus_client.parser import text_string_to_metric_families

from collectors.store import Store, now_us


def live_leads(store: Store, prefix: str, good: int, late: int, stuck: int,
               at_us: int | None = None) -> None:
    """Leads submitted 20-40 minutes before `at_us` (default now): `good` assigned within
    2 minutes, `late` assigned after 15 minutes (bad for `fast`), `stuck` only submitted
    (stalled at `submitted`: `routed` stalls after 5 minutes)."""
    at = now_us() if at_us is None else at_us
    batch: list[dict[str, Any]] = []
    for kind, count, hops in (("g", good, (1, 2)), ("l", late, (1, 15)), ("s", stuck, ())):
        for i in range(count):
            key, start = f"{prefix}-{kind}{i}", at - (40 - i % 20) * MIN
            batch.append(_event(key, "lead.submitted", start, hot=i % 2 == 0, region="emea"))
            for etype, after in zip(("lead.routed", "lead.assigned"), hops, strict=False):
                if start + after * MIN <= at:
                    batch.append(_event(key, etype, start + after * MIN))
    load(store, batch)


def _event(key: str, etype: str, time_us: int, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"source": "s", "id": f"{key}-{etype}", "type": etype,
                            "time_us": time_us, "correlationid": key}
    if data:
        body["data"] = data
    return body


def config_dir(folder: Path, text: str = CONFIG) -> Path:
    (folder / "slas").mkdir(parents=True, exist_ok=True)
    (folder / "slas" / "test.yaml").write_text(text)
    return folder


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """GET /metrics parsed by prometheus_client's own parser: name -> labels -> value."""
    response = requests.get(url, timeout=10, allow_redirects=False)
    assert response.status_code == 200, response.text
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def wait_for(check: Callable[[], Any], seconds: float = 30.0, every: float = 0.2) -> Any:
    """The first truthy result of `check` within `seconds`, else AssertionError."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            result = check()
        except (requests.RequestException, OSError):
            result = None
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"not within {seconds}s: {check}")


@contextmanager
def baton_serve(config: Path, store_url: str, *args: str, env: dict[str, str] | None = None
                ) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A real `baton serve --http 127.0.0.1:PORT ...` process: (process, base URL), ready
    when /healthz first answers. Stopped with SIGTERM afterwards (if still running)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--config", str(config), "--store", store_url,
         "serve", "--http", f"127.0.0.1:{port}", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: process.poll() is not None or requests.get(
            f"{base}/healthz", timeout=2).status_code in (200, 503))
        assert process.poll() is None, process.communicate()
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=20)


def evaluate_json(config: Path, store_url: str) -> dict[str, Any]:
    """`baton evaluate --json`, run as its own process."""
    done = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(config), "--store",
                           store_url, "evaluate", "--json"], capture_output=True, text=True,
                          timeout=120, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


class NatsStream:
    """A fresh JetStream stream for one test (removed by `delete`), and its sources.yaml."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:10]
        self.stream, self.subject = f"S{self.tag}", f"s{self.tag}"
        self._js(lambda js: js.add_stream(name=self.stream, subjects=[f"{self.subject}.>"]))

    def _js(self, action: Callable[[Any], Any]) -> Any:
        import nats

        async def run() -> Any:
            client = await nats.connect("nats://127.0.0.1:4222")
            try:
                return await action(client.jetstream())
            finally:
                await client.close()
        return asyncio.run(run())

    def source_yaml(self, name: str = "bus", batch: int = 50, poll: float = 5) -> str:
        return (f"  {name}:\n    kind: nats\n    stream: {self.stream}\n"
                f"    subject: {self.subject}.>\n    durable: d{self.tag}\n    batch: {batch}\n"
                f"    ack_wait: 60s\n    poll: {poll}\n")

    def publish(self, bodies: list[bytes]) -> None:
        async def send(js: Any) -> None:
            acks = [await js.publish_async(f"{self.subject}.leads", body) for body in bodies]
            await asyncio.gather(*acks)
        self._js(send)

    def consumer(self) -> Any:
        """The durable consumer's state (num_pending, num_ack_pending, ...)."""
        return self._js(lambda js: js.consumer_info(self.stream, f"d{self.tag}"))

    def delete(self) -> None:
        self._js(lambda js: js.delete_stream(self.stream))


def bus_events(tag: str, count: int, start: int = 0) -> list[bytes]:
    """`count` distinct CloudEvents as JSON (ids `tag-N`)."""
    return [orjson.dumps({"specversion": "1.0", "id": f"{tag}-{n}", "source": "bus",
                          "type": "lead.routed", "time": "2026-01-01T12:00:00Z",
                          "correlationid": f"L-{n}"}) for n in range(start, start + count)]


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of a `--log-format json` stream, parsed (fails on a line that is not)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
