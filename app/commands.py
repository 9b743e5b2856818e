"""Subcommands of `baton`. Each `add_*` registers one command; each `run_*` runs it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from collectors.errors import CollectorError, UnreadableInput
from collectors.formats import summary
from collectors.ingest import (
    Parser,
    ingest,
    input_source_name,
    open_input,
    parse_cloudevent,
    progress_printer,
    read_records,
)
from collectors.store import Store, WriteCounts, analyze
from collectors.tables import events

Subparsers = Any


def parsers() -> dict[str, Parser]:
    """Record formats `baton ingest` reads, by `--format` name."""
    formats: dict[str, Parser] = {"cloudevents": parse_cloudevent}
    try:
        from collectors.formats import FORMATS
    except ImportError:
        return formats
    formats.update(FORMATS)
    return formats


def add_ingest(commands: Subparsers) -> None:
    p = commands.add_parser("ingest", help="import records from a file or stdin",
                            description="Import records (JSON, JSON array or JSON lines).")
    p.add_argument("--format", default="cloudevents", choices=sorted(parsers()),
                   help="record format (default: cloudevents)")
    p.add_argument("--source", help="source name: a source of config/sources.yaml maps the "
                   "records with its own rules, as its collector does; any other name is "
                   "recorded with the run and its rejects (default: file:<name>)")
    p.add_argument("file", help="file to read, or - for standard input")
    p.set_defaults(run=run_ingest)


def run_ingest(args: argparse.Namespace) -> int:
    stream, name, size = open_input(args.file)
    parser = configured_parser(args)
    store = Store.open(args.store)
    counts = ingest_file(store, stream, name, size, args.format,
                         args.source or input_source_name(args.file), parser)
    print(summary(counts, args.format))
    return 0


def configured_parser(args: argparse.Namespace) -> Parser | None:
    """The parser of `--source`'s own mapping when it names a configured source of this
    format; None for the format's defaults."""
    if args.format == "cloudevents" or not args.source:
        return None
    from pathlib import Path

    from collectors.formats import backfill_parser
    from collectors.sources import load_sources, source_map

    file = Path(args.config) / "sources.yaml"
    if not file.exists():
        return None
    source = load_sources(file).sources.get(args.source)
    if source is None:
        return None
    if source.kind != args.format:
        raise CollectorError(f"source {args.source!r} in {file} is a {source.kind} source, "
                             f"not {args.format}; ingest its records with --format "
                             f"{source.kind}, or pick another --source")
    return backfill_parser(args.format, source_map(args.source, source))


def ingest_file(store: Store, stream: Any, name: str, size: int | None, format: str,
                source: str, parser: Parser | None = None) -> WriteCounts:
    """The `baton ingest` pipeline, shared by the demo: run record, batches, rejects, and
    the source's status (newest record, hence freshness and lag, for the Sources page)."""
    first_seq = store.last_seq()
    run_id = store.start_run(source, format, name)
    progress = progress_printer(stream, size, sys.stderr)
    try:
        counts = ingest(store, read_records(stream, name), source=source, format=format,
                        parser=parser or parsers()[format], run_id=run_id,
                        progress=progress)
    except UnicodeDecodeError:
        raise UnreadableInput(f"{name} is not text; give a file of JSON or JSON lines") from None
    finally:
        if progress is not None:
            sys.stderr.write("\n")
    store.finish_run(run_id, counts)
    store.record_source(source, format, counts,
                        newest_event_us=store.newest_of_run(run_id, first_seq))
    if counts.events > 100_000:
        analyze(store, [events])
    if size == 0 or (counts == WriteCounts() and size is None):
        print(f"baton: {name} is empty: nothing to ingest; check that the file was written",
              file=sys.stderr)
    for line in _reject_summary(counts):
        print(line, file=sys.stderr)
    return counts


def _reject_summary(counts: WriteCounts) -> list[str]:
    lines = []
    if counts.rejected:
        lines.append(f"baton: {counts.rejected} record(s) rejected and kept with their "
                     "reasons; see the Sources page or the rejects table")
    if counts.skipped:
        lines.append(f"baton: {counts.skipped} record(s) matched no rule and made no event; "
                     "add a rule to the source (docs/collectors.md) to keep them")
    return lines


def add_demo(commands: Subparsers) -> None:
    p = commands.add_parser("demo", help="sample week of lead journeys -> store -> dashboard",
                            description="Generate a week of sample lead journeys as CloudEvents,"
                            " ingest them, evaluate the SLAs over the week and start the "
                            "dashboard on http://localhost:8501.")
    p.add_argument("--leads", type=int, default=20000, help="leads to generate (default 20000)")
    p.add_argument("--days", type=float, default=7.0, help="days of history (default 7)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--port", type=int, default=8501, help="dashboard port (default 8501)")
    p.add_argument("--no-ui", action="store_true", help="load and evaluate, then stop")
    p.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from app.demo import run

    return run(args)


def _other_commands() -> list[Callable[[Subparsers], None]]:
    """Commands defined beside their features (imported here, so `baton --help` lists all)."""
    from app.alert_commands import add_alerts
    from app.collect import add_collect
    from app.openslo_commands import add_openslo
    from app.serve import add_serve
    from app.sla_commands import REGISTER
    from app.ui_command import add_ui

    return [*REGISTER, add_alerts, add_collect, add_openslo, add_serve, add_ui]


REGISTRY: list[Callable[[Subparsers], None]] = [add_ingest, add_demo, *_other_commands()]
