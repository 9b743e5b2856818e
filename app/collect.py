"""`baton collect` (run the configured pulling collectors) and `baton receive` (serve the
HTTP receiver for pushed records)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from collectors.errors import CollectorError
from collectors.formats import summary
from collectors.runner import Collector, drain, run_forever
from collectors.sources import PUSH_KINDS, Source, SourcesConfig, load_sources
from collectors.store import Store, WriteCounts

Subparsers = Any


def add_collect(commands: Subparsers) -> None:
    p = commands.add_parser("collect", help="run the collectors of config/sources.yaml",
                            description="Pull records from the configured sources (gateway "
                            "logs, event bus, CRMs, trace files) into the store.")
    p.add_argument("--source", action="append", metavar="NAME",
                   help="collect only this source (repeatable)")
    p.add_argument("--once", action="store_true",
                   help="read what is waiting now, print counts and exit")
    p.set_defaults(run=run_collect)
    r = commands.add_parser("receive", help="serve the HTTP receiver for pushed records",
                            description="Serve POST /v1/events, /v1/kong and /v1/traces "
                            "(OpenAPI document at /docs).")
    r.add_argument("--host", default="127.0.0.1", help="address to listen on")
    r.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    r.set_defaults(run=run_receive)


def sources_file(args: argparse.Namespace) -> Path:
    return Path(args.config) / "sources.yaml"


def build_collector(store: Store, name: str, source: Source,
                    session: requests.Session | None = None) -> Collector | None:
    """The pulling collector for a source, or None when the source is push-only."""
    kind = source.kind
    if kind in ("kong", "otlp") and getattr(source, "file", None) is None:
        return None
    if kind == "kong":
        from collectors.gateway import kong_file_tail

        return kong_file_tail(store, name, source)  # type: ignore[arg-type]
    if kind == "otlp":
        from collectors.traces import otlp_file_tail

        return otlp_file_tail(store, name, source)  # type: ignore[arg-type]
    if kind in ("nats", "rabbitmq", "redis"):
        from collectors.bus import bus_collector

        return bus_collector(store, name, source)
    if kind in ("hubspot", "salesforce"):
        from collectors.crm import HubSpotCollector, SalesforceCollector

        cls = HubSpotCollector if kind == "hubspot" else SalesforceCollector
        return cls(store, name, source, session or requests.Session())  # type: ignore[arg-type]
    return None


def selected(config: SourcesConfig, names: list[str] | None) -> dict[str, Source]:
    if not names:
        return dict(config.sources)
    return {name: config.get(name) for name in names}


def run_collect(args: argparse.Namespace) -> int:
    config = load_sources(sources_file(args))
    store = Store.open(args.store)
    chosen = selected(config, args.source)
    collectors, broken = build_all(store, chosen, quiet_push=not args.source)
    if not collectors:
        if broken:
            return 1
        raise CollectorError(f"no source to pull from in {config.file}; push-only kinds "
                             f"({', '.join(sorted(PUSH_KINDS))}) are served by `baton receive`")
    try:
        code = _once(store, collectors) if args.once else _forever(store, collectors, chosen)
    finally:
        for collector in collectors.values():
            collector.close()
    return 1 if broken else code


def build_all(store: Store, chosen: dict[str, Source], quiet_push: bool,
              report: Callable[[str, str], None] | None = None
              ) -> tuple[dict[str, Collector], int]:
    """The collectors that could be built; a source that cannot (e.g. its token variable
    is unset) is reported (`report(source, message)`, default stderr), recorded on the
    Sources page, and skipped."""
    collectors: dict[str, Collector] = {}
    broken = 0
    for name, source in chosen.items():
        try:
            collector = build_collector(store, name, source)
        except CollectorError as exc:
            (report or _to_stderr)(name, str(exc))
            store.record_source(name, source.kind, WriteCounts(), error=str(exc))
            broken += 1
            continue
        if collector is not None:
            collectors[name] = collector
        elif not quiet_push:
            print(f"baton: source {name!r} is push-only ({source.kind}); run `baton receive`",
                  file=sys.stderr)
    return collectors, broken


def _once(store: Store, collectors: dict[str, Collector]) -> int:
    failed = 0
    for name, collector in collectors.items():
        try:
            counts = drain(store, collector)
        except CollectorError as exc:
            print(f"baton: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{name}: {summary(counts, collector.kind)}")
    return 1 if failed else 0


def _forever(store: Store, collectors: dict[str, Collector], sources: dict[str, Source]
             ) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = start_collectors(store, collectors, sources, stop)
    print(f"collecting from {', '.join(collectors)} (Ctrl-C to stop)", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        stop.set()
    for thread in threads:
        thread.join(timeout=10)
    return 0


def start_collectors(store: Store, collectors: dict[str, Collector],
                     sources: dict[str, Source], stop: threading.Event,
                     report: Callable[[str, str], None] | None = None
                     ) -> list[threading.Thread]:
    """One thread per collector, polling until `stop` is set; errors go to
    `report(source, message)` (default: stderr)."""
    threads = [threading.Thread(target=run_forever, name=f"collect-{name}", daemon=True,
                                args=(store, c, stop, sources[name].poll,
                                      report or _to_stderr))
               for name, c in collectors.items()]
    for thread in threads:
        thread.start()
    return threads


def _to_stderr(_source: str, message: str) -> None:
    print(f"baton: {message}", file=sys.stderr, flush=True)


def run_receive(args: argparse.Namespace) -> int:
    import uvicorn

    from collectors.receiver import create_app

    config = load_sources(sources_file(args))
    store = Store.open(args.store)
    app = create_app(store, config)
    if not config.push_tokens():
        print("baton: no push source has its token variable set; every request will get 401 "
              "(set token_env variables, e.g. " + _example_env(config) + ")", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _example_env(config: SourcesConfig) -> str:
    names = [s.token_env for s in config.sources.values()
             if s.kind in PUSH_KINDS and s.token_env and not os.environ.get(s.token_env)]
    return ", ".join(names) or "token_env"
