"""The service's HTTP face (`baton serve --http HOST:PORT`): `/healthz`, `/metrics` and, when
push sources are configured, the receiver's routes on the same port.

    GET /healthz   200 {"status": "ok", "checks": {...}} while the scheduler and collectors
                   run and the store answers; 503 {"status": "unavailable", "reason": ...}
    GET /metrics   Prometheus text format (OpenMetrics when asked for), read from the store
                   at each scrape (app/exporter.py); 503 when the store does not answer

`/metrics` is a route of its own, not a mounted app (Starlette answers a mount's bare path
with a 307 to `/metrics/`). The server runs on a thread of `baton serve`; its socket is bound
before anything starts, so a port in use is one sentence and exit 1.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from app.exporter import StoreCollector
from collectors.errors import CollectorError
from collectors.store import Store

Check = Callable[[], str | None]  # None when healthy, else the reason (one sentence)
CHECK_TIMEOUT_S = 5.0


class ListenError(CollectorError):
    """`--http` is not HOST:PORT, or that address cannot be listened on."""


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:9464` for IPv6) as (host, port), or one clear error."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ListenError(f"--http {text!r} is not HOST:PORT; use e.g. 127.0.0.1:9464 "
                          "(or 0.0.0.0:9464 to listen on every interface)")
    return host, int(port)


@dataclass
class Health:
    """What `/healthz` checks, each a named callable returning None or the reason."""

    checks: dict[str, Check] = field(default_factory=dict)
    stopping: bool = False

    def problems(self) -> dict[str, str | None]:
        if self.stopping:
            return {"service": "baton serve is stopping"}
        return {name: _run(check) for name, check in self.checks.items()}


def _run(check: Check) -> str | None:
    try:
        return check()
    except Exception as exc:  # a health check reports; it never raises
        return f"{type(exc).__name__}: {exc}"


def store_check(store: Store) -> Check:
    """The store answers a query of its own schema (and, on SQLite, its file is still there:
    a deleted file keeps answering through open handles while new writes go nowhere)."""
    from collectors.tables import cursors

    database = store.engine.url.database if store.dialect == "sqlite" else None

    def check() -> str | None:
        if database not in (None, "", ":memory:") and not Path(str(database)).exists():
            return f"the SQLite store {database} is gone (moved or deleted)"
        try:
            with store.engine.connect() as conn:
                conn.execute(select(cursors.c.name).limit(1)).all()
        except SQLAlchemyError as exc:
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            return f"the store does not answer: {detail[0] if detail else type(exc).__name__}"
        return None

    return check


def create_app(store: Store, health: Health, receiver: FastAPI | None = None) -> FastAPI:
    """The HTTP face; `receiver` (collectors.receiver's app) serves every other path."""
    app = FastAPI(title="Baton", description=__doc__, docs_url=None, redoc_url=None,
                  openapi_url=None)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    registry.register(ProcessCollector(registry=None))

    @app.get("/healthz")
    async def healthz() -> Response:
        try:
            problems = await asyncio.wait_for(run_in_threadpool(health.problems),
                                              CHECK_TIMEOUT_S)
        except TimeoutError:
            problems = {"store": f"the store did not answer within {CHECK_TIMEOUT_S:g}s"}
        failing = [reason for reason in problems.values() if reason]
        checks = {name: reason or "ok" for name, reason in problems.items()}
        if failing:
            return JSONResponse({"status": "unavailable", "reason": "; ".join(failing),
                                 "checks": checks}, 503)
        return JSONResponse({"status": "ok", "checks": checks})

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        try:
            body = await run_in_threadpool(encoder, registry)
        except SQLAlchemyError as exc:
            detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            return Response(f"the store does not answer: {detail[0] if detail else exc}\n",
                            503, media_type="text/plain")
        return Response(body, media_type=content_type)

    if receiver is not None:
        app.mount("/", receiver)
    return app


class HttpServer:
    """uvicorn on a thread, on a socket bound at construction."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.host, self.port = host, port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
        except OSError as exc:
            self.socket.close()
            raise ListenError(f"cannot listen on {host}:{port} ({exc.strerror}); pick "
                              "another --http address or stop what uses it") from None
        self.socket.listen(128)
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=3)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name="http", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, let requests in flight finish (up to 3 s), then return."""
        self.server.should_exit = True
        self.thread.join(timeout)
