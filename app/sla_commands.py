"""`baton validate`, `evaluate`, `stalls` and `lead`: thin wrappers over the engine."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from collectors.errors import InvalidEvent, SourceConfigError
from collectors.schema import format_time, parse_time
from collectors.sources import load_sources
from collectors.store import Store, now_us
from slas.definitions import Definitions, load_folder
from slas.engine import Evaluation, evaluate
from slas.errors import DefinitionError, EvaluationError
from slas.spec import parse_duration
from slas.stalls import find_stalls
from slas.timeline import lead_timeline
from slas.words import percent, sentence

STATUS_WORDS = {"ok": "ok", "warning": "warning", "at_risk": "at risk",
                "breached": "BREACHED", "no_data": "no data"}


def add_validate(commands: Any) -> None:
    p = commands.add_parser("validate", help="check every configuration file",
                            description="Check config/slas/*.yaml; exit 1 with "
                            "file:line: message for each error.")
    p.set_defaults(run=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    """Runs the real loaders (SLA definitions and sources.yaml) and reports every error."""
    errors: list[str] = []
    definitions = None
    complete = True
    try:
        definitions = load_folder(args.config)
    except DefinitionError as exc:
        errors += exc.errors
        complete = exc.complete
    sources = Path(args.config) / "sources.yaml"
    source_count = 0
    if sources.exists():
        try:
            source_count = len(load_sources(sources).sources)
        except SourceConfigError as exc:
            errors += exc.errors
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        print(f"{len(errors)} error(s) in {args.config}", file=sys.stderr)
        if not complete:
            print("baton: parts with errors above were not yet checked against the rest "
                  "(teams, journeys, stages); more errors may follow once they are fixed",
                  file=sys.stderr)
        return 1
    assert definitions is not None
    files = len(definitions.files)
    print(f"{args.config}: valid ({files} file(s), {len(definitions.teams)} teams, "
          f"{len(definitions.journeys)} journeys, {len(definitions.slas)} SLAs, "
          f"{source_count} sources)")
    return 0


def at_time(text: str | None) -> int:
    if text is None:
        return now_us()
    try:
        return parse_time(text, "--at")
    except InvalidEvent as exc:
        raise EvaluationError(str(exc)) from None


def add_evaluate(commands: Any) -> None:
    p = commands.add_parser("evaluate", help="evaluate every SLA and print a scorecard")
    p.add_argument("--at", help="evaluate at this time (ISO 8601 with offset; default now)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    definitions = load_folder(args.config)
    at = at_time(args.at)
    store = Store.open(args.store)
    evaluation = evaluate(store, definitions, at)
    if args.json:
        print(json.dumps(evaluation.as_json(), indent=2))
    else:
        print(scorecard(definitions, evaluation))
    return 0


def scorecard(definitions: Definitions, evaluation: Evaluation) -> str:
    lines = [f"Baton scorecard at {format_time(evaluation.at_us)}", ""]
    for team in evaluation.teams:
        results = [r for r in evaluation.results if r.team == team.team]
        if not results:
            continue
        name = definitions.teams[team.team].name
        lines.append(f"{name}: {STATUS_WORDS[team.status]} "
                     f"({team.slas_ok} of {team.slas_total} SLAs met)")
        width = max(len(r.name) for r in results)
        lines.append(f"  {'SLA':<{width}}  {'SLI':>8}  {'target':>7}  {'budget left':>11}  "
                     f"{'burn 1h':>8}  status")
        for r in results:
            burn = r.burn_rate.get("1h")
            lines.append(f"  {r.name:<{width}}  {percent(r.sli):>8}  "
                         f"{percent(r.objective):>7}  {percent(r.budget_remaining, 0):>11}  "
                         f"{'-' if burn is None else f'{burn:.1f}x':>8}  "
                         f"{STATUS_WORDS[r.status]}")
            lines.append(f"  {'':<{width}}  {sentence(definitions.sla(r.name), r)}")
        lines.append("")
    return "\n".join(lines).rstrip()


def add_stalls(commands: Any) -> None:
    p = commands.add_parser("stalls", help="list journeys stalled at a stage")
    p.add_argument("--journey", help="journey name (default: the first defined)")
    p.add_argument("--at", help="as of this time (ISO 8601 with offset; default now)")
    p.add_argument("--window", default="7d",
                   help="look at journeys that began within this long before T (default 7d)")
    p.add_argument("--limit", type=int, default=50, help="rows to print (text output)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_stalls)


def run_stalls(args: argparse.Namespace) -> int:
    definitions = load_folder(args.config)
    journey = args.journey or next(iter(definitions.journeys), None)
    if journey is None:
        raise EvaluationError("no journeys are defined; add one to config/slas/*.yaml")
    window = duration_option("--window", args.window, "7d, 12h, 30m")
    report = find_stalls(Store.open(args.store), definitions, journey, at_time(args.at),
                         window)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
        return 0
    print(f"{len(report.stalled)} {journey} journey(s) stalled at {format_time(report.at_us)}")
    for stage, count in report.by_stage.items():
        print(f"  {stage:<24} {count:>7}")
    for stall in report.stalled[:args.limit]:
        print(f"  {stall.key:<14} stuck after {stall.last_stage} for "
              f"{stall.stalled_for_s / 60:.0f} min; waiting on {stall.next_stage} "
              f"({stall.owner})")
    return 0


def duration_option(option: str, text: str, examples: str) -> int:
    """A command-line duration (`30s`, `5m`, `2h`, `7d`) in seconds, or one clear error."""
    try:
        return parse_duration(text)
    except ValueError:
        raise EvaluationError(f"{option} {text!r} is not a duration; use e.g. {examples}"
                              ) from None


def add_lead(commands: Any) -> None:
    p = commands.add_parser("lead", help="one journey's timeline")
    p.add_argument("key", help="the journey key (e.g. the lead's correlation id)")
    p.add_argument("--journey", help="journey name (default: the one holding KEY)")
    p.add_argument("--at", help="as of this time (ISO 8601 with offset; default now)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_lead)


def run_lead(args: argparse.Namespace) -> int:
    definitions = load_folder(args.config)
    timeline = lead_timeline(Store.open(args.store), definitions, args.key, args.journey,
                             at_time(args.at))
    if args.json:
        print(json.dumps(timeline.as_json(), indent=2))
        return 0
    print(f"{timeline.journey} {timeline.key}")
    for stage in timeline.stages:
        when = "-" if stage.first_us is None else format_time(stage.first_us)
        retries = f"  ({stage.attempts} events)" if stage.attempts > 1 else ""
        print(f"  {stage.name:<24} {when:<30} {stage.owner}{retries}")
    if timeline.stall is not None:
        s = timeline.stall
        print(f"stalled after {s.last_stage} for {s.stalled_for_s / 60:.0f} min; "
              f"{s.next_stage} is owed by {s.owner}")
    print(f"{len(timeline.events)} event(s), {len(timeline.spans)} span(s)")
    for event in timeline.events:
        print(f"  {format_time(event['time_us'])}  {event['type']:<28} {event['source']} "
              f"{event['event_id']}")
    return 0


REGISTER = [add_validate, add_evaluate, add_stalls, add_lead]
