"""`baton validate`, `evaluate`, `stalls` and `lead`: thin wrappers over the engine."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.settings import settings_errors
from collectors.errors import InvalidEvent, SourceConfigError
from collectors.schema import format_time, parse_time
from collectors.sources import load_sources
from collectors.store import Store, now_us
from slas.alert_config import alert_warnings, load_alerting, load_alerts
from slas.definitions import Definitions, load_folder
from slas.engine import Evaluation, evaluate
from slas.errors import DefinitionError, EvaluationError
from slas.rules import spans_for
from slas.spec import DURATION, parse_duration
from slas.stalls import Stall, find_stalls
from slas.timeline import StageTime, lead_timeline
from slas.words import duration_words, percent, sentence

STATUS_WORDS = {"ok": "ok", "warning": "warning", "at_risk": "at risk",
                "breached": "BREACHED", "no_data": "no data"}


def add_validate(commands: Any) -> None:
    p = commands.add_parser("validate", help="check every configuration file",
                            description="Check config/slas/*.yaml, sources.yaml, "
                            "alerts.yaml and baton.yaml; exit 1 with file:line: message for "
                            "each error.")
    p.set_defaults(run=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    """Runs the real loaders (SLA definitions, sources.yaml, alerts.yaml) and reports every
    error. Unset environment variables named by alert targets are warnings, not errors."""
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
    alerts_file = Path(args.config) / "alerts.yaml"
    alerts = None
    try:
        alerts = load_alerts(alerts_file, definitions)
    except DefinitionError as exc:
        errors += exc.errors
    errors += settings_errors(args.config, definitions, alerts)  # config/baton.yaml
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
    if alerts is not None:
        for warning in alert_warnings(alerts, str(alerts_file), definitions, os.environ):
            print(f"warning: {warning}", file=sys.stderr)
    files = len(definitions.files)
    targets, routes = (0, 0) if alerts is None else (len(alerts.targets), len(alerts.routes))
    print(f"{args.config}: valid ({files} file(s), {len(definitions.teams)} teams, "
          f"{len(definitions.journeys)} journeys, {len(definitions.slas)} SLAs, "
          f"{source_count} sources, {targets} alert targets, {routes} alert routes)")
    return 0


CLOCK_SKEW_US = 60 * 1_000_000  # a minute: clocks of two machines may differ this much


def at_time(text: str | None, now: int | None = None) -> int:
    """`--at` in microseconds (default now), for every command taking it. A time later than
    now is refused: stored as the latest evaluation it would stand until that time came."""
    current = now_us() if now is None else now
    if text is None:
        return current
    try:
        at = parse_time(text, "--at")
    except InvalidEvent as exc:
        raise EvaluationError(str(exc)) from None
    if at > current + CLOCK_SKEW_US:
        raise EvaluationError(f"--at {text} is in the future (now is {format_time(current)}); "
                              "Baton evaluates what has happened: give a time up to now")
    return at


def add_evaluate(commands: Any) -> None:
    p = commands.add_parser("evaluate", help="evaluate every SLA and print a scorecard")
    p.add_argument("--at", help="evaluate at this time (ISO 8601 with offset; default now)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--dry-run", action="store_true",
                   help="evaluate and print; store no result and open or close no breach")
    p.set_defaults(run=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    definitions, alerting = load_alerting(args.config)
    at = at_time(args.at)
    store = Store.open(args.store)
    evaluation = evaluate(store, definitions, at, persist=not args.dry_run,
                          spans=spans_for(definitions, alerting))
    if args.json:
        print(json.dumps(evaluation.as_json(), indent=2))
    else:
        print(scorecard(definitions, evaluation))
        if args.dry_run:
            print("(dry run: nothing was stored)")
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
            lines.append(f"  {'':<{width}}  {sentence(definitions.sla(r.name), r.sli)}")
        lines.append("")
    return "\n".join(lines).rstrip()


def add_stalls(commands: Any) -> None:
    p = commands.add_parser("stalls", help="list journeys stalled at a stage")
    p.add_argument("--journey", help="journey name (default: the first defined)")
    p.add_argument("--at", help="as of this time (ISO 8601 with offset; default now)")
    p.add_argument("--window", default="7d",
                   help="look at journeys that began within this long before T (default 7d)")
    p.add_argument("--limit", type=_positive, default=50,
                   help="journeys to list (text output; default 50)")
    p.add_argument("--all", action="store_true", help="list every stalled journey")
    p.add_argument("--sort", choices=tuple(STALL_ORDERS), default="longest",
                   help="longest: stalled longest first (default); oldest / newest: by when "
                   "the journey began")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_stalls)


STALL_ORDERS: dict[str, Callable[[Stall], Any]] = {
    "longest": lambda s: (-s.stalled_for_s, s.key),
    "oldest": lambda s: (s.started_us, s.key),
    "newest": lambda s: (-(s.started_us or 0), s.key),
}


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of rows (1 or more)")
    return int(text)


def run_stalls(args: argparse.Namespace) -> int:
    definitions = load_folder(args.config)
    journey = args.journey or next(iter(definitions.journeys), None)
    if journey is None:
        raise EvaluationError("no journeys are defined; add one to config/slas/*.yaml")
    window = duration_option("--window", args.window, "7d, 12h, 30m")
    at = at_time(args.at)
    report = find_stalls(Store.open(args.store), definitions, journey, at, window)
    report.stalled.sort(key=STALL_ORDERS[args.sort])
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
        return 0
    total = len(report.stalled)
    print(f"{total} {journey} journey(s) stalled at {format_time(report.at_us)}")
    for stage, count in report.by_stage.items():
        print(f"  {stage:<24} {count:>7}")
    shown = report.stalled if args.all else report.stalled[:args.limit]
    for stall in shown:
        print(f"  {stall.key:<14} stuck after {stall.last_stage} for "
              f"{duration_words(stall.stalled_for_s)}; waiting on {stall.next_stage} "
              f"({stall.owner})")
    if len(shown) < total:
        print(f"{len(shown)} of {total} shown, {args.sort} first (--limit N, --all)")
    return 0


def duration_option(option: str, text: str, examples: str) -> int:
    """A command-line duration (`30s`, `5m`, `2h`, `7d`) in seconds, or one clear error."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        if DURATION.fullmatch(text.strip()):  # the form is right, the length is not
            raise EvaluationError(f"{option} {text!r}: {exc}; use e.g. {examples}") from None
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
        print(f"  {stage.name:<24} {when:<30} {stage.owner}{_attempts(stage)}")
    if timeline.stall is not None:
        s = timeline.stall
        owed = next(st for st in timeline.stages if st.name == s.next_stage)
        print(f"stalled after {s.last_stage} for {duration_words(s.stalled_for_s)}; "
              f"{s.next_stage} is owed by {s.owner}{_attempts(owed)}")
    print(f"{len(timeline.events)} event(s), {len(timeline.spans)} span(s)")
    for event in timeline.events:
        role = (f"  failed attempt at {event['stage']}" if event["failed"] else "")
        print(f"  {format_time(event['time_us'])}  {event['type']:<28} {event['source']} "
              f"{event['event_id']}{role}")
    return 0


def _attempts(stage: StageTime) -> str:
    """`(3 events, 2 failed attempts)`: retries and duplicates, and failed attempts."""
    parts = [f"{stage.attempts} events"] if stage.attempts > 1 else []
    if stage.failed_attempts:
        parts.append(f"{stage.failed_attempts} failed attempt"
                     f"{'s' if stage.failed_attempts > 1 else ''}")
    return f"  ({', '.join(parts)})" if parts else ""


REGISTER = [add_validate, add_evaluate, add_stalls, add_lead]
