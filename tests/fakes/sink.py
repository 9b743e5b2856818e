"""A real HTTP sink on 127.0.0.1 for alert targets: it records every request and answers as told.

    with Sink() as sink:                                  # listens on a free port, in a thread
        sink.answer("/slack", body="ok")                  # the standing answer for a path
        sink.fail("/hook", status=503, times=3)           # the next 3 requests to /hook get 503
        sink.fail("/slack", status=429, retry_after="7")  # ... with a Retry-After header
        sink.fail("/slack", status=200, body="invalid_payload")
        sink.hang("/hook", seconds=3)                     # answer only after 3 s (past a timeout)
        sink.down(); ...; sink.up()                       # refuse connections, then listen again
        sink.received("/hook")                            # [Received(method, path, headers, ...)]
        sink.wait_for("/hook", count=2, timeout=5)        # block until 2 have arrived

Scripted answers (`fail`, `hang`, `script`) are used in the order given, each `times` times
(None: until `reset`), before the standing answer of the path, then the sink's default (200 `ok`).
A `path` of None matches every path. Requests are recorded when they arrive, also the ones that
hang. HTTP/1.0, so every request is its own connection and `down()` refuses the next one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import orjson


@dataclass(frozen=True)
class Received:
    """One request as the sink saw it; `at` is time.monotonic() on arrival."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    at: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = "ok"  # bytes, str, or anything JSON (sent as application/json)
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return orjson.dumps(self.body), "application/json"


@dataclass
class _Rule:
    path: str | None
    reply: Reply
    times: int | None


class Sink:
    """The recording HTTP server; use it as a context manager (or start/stop)."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self._lock = threading.Condition()
        self._rules: list[_Rule] = []
        self._standing: dict[str | None, Reply] = {}
        self._received: list[Received] = []
        self._wake = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    # --- lifecycle ---

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Sink:
        self._wake.clear()
        self._listen()
        return self

    def stop(self) -> None:
        self._wake.set()  # hung handlers answer now
        self.down()

    def down(self) -> None:
        """Stop listening: connections are refused until `up()`."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def up(self) -> None:
        """Listen again, on the same port."""
        if self._server is None:
            self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, path: str) -> str:
        return self.url + path

    # --- answers ---

    def answer(self, path: str | None = None, status: int = 200, body: Any = "ok",
               headers: Mapping[str, str] | None = None) -> None:
        """The standing answer for `path` (every path if None) once scripted ones are used."""
        with self._lock:
            self._standing[path] = Reply(status, body, dict(headers or {}))

    def script(self, path: str | None, reply: Reply, times: int | None = 1) -> None:
        with self._lock:
            self._rules.append(_Rule(path, reply, times))

    def fail(self, path: str | None = None, status: int = 503, times: int | None = 1,
             body: Any = "", headers: Mapping[str, str] | None = None,
             retry_after: str | int | None = None) -> None:
        """The next `times` requests to `path` get `status` (with `Retry-After` if given)."""
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        self.script(path, Reply(status, body, extra), times)

    def hang(self, path: str | None = None, seconds: float = 5.0, times: int | None = 1,
             reply: Reply | None = None) -> None:
        """The next `times` requests to `path` are answered only after `seconds`."""
        with self._lock:
            base = reply or self._standing.get(path) or self.default
            self.script(path, Reply(base.status, base.body, base.headers, seconds), times)

    def reset(self) -> None:
        """Forget scripted and standing answers and what was received."""
        with self._lock:
            self._rules.clear()
            self._standing.clear()
            self._received.clear()

    # --- what arrived ---

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    def wait_for(self, path: str | None = None, count: int = 1,
                 timeout: float = 5.0) -> list[Received]:
        """Block until `count` requests to `path` have arrived; AssertionError after timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(got := self.received(path)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"sink: {len(got)} of {count} requests to "
                                         f"{path or 'any path'} within {timeout}s; received "
                                         f"{[(r.method, r.path) for r in self._received]}")
                self._lock.wait(left)
            return got

    # --- inside ---

    def _listen(self) -> None:
        sink = self

        class Handler(_Handler):
            owner = sink

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def _record(self, request: Received) -> Reply:
        with self._lock:
            self._received.append(request)
            self._lock.notify_all()
            for rule in self._rules:
                if rule.path in (None, request.path) and rule.times != 0:
                    if rule.times is not None:
                        rule.times -= 1
                    return rule.reply
            return self._standing.get(request.path) or self._standing.get(None) or self.default


class _Handler(BaseHTTPRequestHandler):
    owner: Sink

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        reply = self.owner._record(Received(self.command, parts.path, parts.query,
                                            dict(self.headers.items()), body, time.monotonic()))
        if reply.delay and self.owner._wake.wait(reply.delay):
            return  # the sink is stopping: drop the connection
        data, kind = reply.encoded()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) before the answer

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass
