"""`baton alerts [--json]`, `baton alerts run [--at T] [--deliver-for 10s]` and `baton silence
add|list|end`: thin wrappers over slas.alerts (the lifecycle), slas.dispatch (delivery) and
slas.silences."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from app.sla_commands import at_time, duration_option
from collectors.errors import InvalidEvent
from collectors.schema import format_time, parse_time
from collectors.store import Store, now_us
from slas.alert_config import load_alerting
from slas.alerts import as_json, latest_episodes
from slas.definitions import Definitions, load_folder
from slas.dispatch import Dispatcher, alert_cycle, dispatcher_lease
from slas.errors import EvaluationError
from slas.silences import add_silence, end_silence, list_silences
from slas.spec import RULES
from slas.words import duration_words


def add_alerts(commands: Any) -> None:
    p = commands.add_parser("alerts", help="alerts and their notifications; `alerts run` "
                            "decides and delivers", description="List every alert (the newest "
                            "episode of each) with its notifications.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_alerts_list)
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    run = actions.add_parser("run", help="decide every alert at T and deliver what is due",
                             description="Decide every alert's state at T from the stored "
                             "evaluations, write what changed to the outbox, then deliver "
                             "everything due, retrying within --deliver-for.")
    run.add_argument("--at", help="decide at this time (ISO 8601 with offset; default now)")
    run.add_argument("--deliver-for", default="10s",
                     help="keep delivering and retrying this long (default 10s)")
    run.set_defaults(run=run_alerts_run)
    silence = commands.add_parser("silence", help="silence alerts for a while (audited)")
    silence.set_defaults(run=lambda args: silence.print_help() or 2)
    kinds = silence.add_subparsers(title="actions", metavar="ACTION")
    add = kinds.add_parser("add", help="silence the alerts matching every filter given")
    add.add_argument("--sla", action="append", default=[], help="an SLA (repeatable)")
    add.add_argument("--team", action="append", default=[], help="a team (repeatable)")
    add.add_argument("--alertname", action="append", default=[],
                     help=f"a rule: {', '.join(RULES)} (repeatable)")
    until = add.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="duration", help="how long, e.g. 2h")
    until.add_argument("--until", help="until this time (ISO 8601 with offset)")
    add.add_argument("--reason", required=True, help="why (shown with the alert)")
    add.add_argument("--by", required=True, help="who silences")
    add.set_defaults(run=run_silence_add)
    listing = kinds.add_parser("list", help="every silence, active first")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_silence_list)
    end = kinds.add_parser("end", help="end a silence now")
    end.add_argument("id", type=int, help="the silence's id (from `baton silence list`)")
    end.add_argument("--by", default="cli", help="who ends it")
    end.set_defaults(run=run_silence_end)


def run_alerts_list(args: argparse.Namespace) -> int:
    episodes = latest_episodes(Store.open(args.store))
    if args.json:
        print(json.dumps({"alerts": [as_json(e) for e in episodes]}, indent=2))
        return 0
    if not episodes:
        print("no alerts yet (`baton alerts run` decides them from the stored evaluations)")
    for episode in episodes:
        ended = f" to {format_time(episode['ended_us'])}" if episode["ended_us"] else ""
        print(f"{episode['state']:<9} {episode['key']}  ({episode['team'] or 'no team'}, "
              f"{episode['severity']}) since {format_time(episode['since_us'])}{ended}")
        print(f"          {episode['summary']}")
        for n in episode["notifications"]:
            error = f" — {n['last_error']}" if n["last_error"] and n["state"] != "sent" else ""
            print(f"          {n['action']:<8} -> {n['target']}: {n['state']} "
                  f"({n['attempts']} attempt(s)){error}")
    return 0


def run_alerts_run(args: argparse.Namespace) -> int:
    definitions, config = load_alerting(args.config)
    at = at_time(args.at)
    deliver_for = duration_option("--deliver-for", args.deliver_for, "10s, 1m")
    store = Store.open(args.store)
    dispatcher = Dispatcher(store, config)
    lease = dispatcher_lease(store, config)
    try:
        cycle = alert_cycle(store, definitions, config, at, dispatcher, lease, deliver_for)
    finally:
        dispatcher.close()
        lease.release()
    if cycle.decision is None or cycle.report is None:
        print("baton: another process is dispatching alerts (it holds the lease); nothing "
              "done", file=sys.stderr)
        return 0
    decision, report = cycle.decision, cycle.report
    if decision.skipped:
        print(f"baton: {decision.skipped}; nothing decided at {format_time(at)}",
              file=sys.stderr)
    print(f"{format_time(at)}: {len(decision.started)} started firing, "
          f"{len(decision.resolved)} resolved, {len(decision.silenced)} silenced; "
          f"{decision.queued} notification(s) queued; sent {report.sent}, "
          f"retrying {report.retried}, failed {report.failed}, still queued {report.pending}")
    for error in dict.fromkeys(report.errors):
        print(f"baton: {error}", file=sys.stderr)
    return 0


def run_silence_add(args: argparse.Namespace) -> int:
    definitions = load_folder(args.config)
    _check_names(definitions, args)
    now = now_us()
    if args.duration:
        ends = now + duration_option("--for", args.duration, "30m, 2h, 1d") * 1_000_000
    else:
        ends = _time_option("--until", args.until)
    silence = add_silence(Store.open(args.store),
                          {"sla": args.sla, "team": args.team, "alertname": args.alertname},
                          ends, args.reason, args.by, starts_us=now)
    print(f"silence {silence.id}: {_matchers(silence.matchers)} until "
          f"{format_time(silence.ends_us)} ({duration_words((silence.ends_us - now) / 1e6)}), "
          f"by {silence.created_by}: {silence.reason}")
    return 0


def _time_option(option: str, text: str) -> int:
    try:
        return parse_time(text, option)
    except InvalidEvent as exc:
        raise EvaluationError(str(exc)) from None


def _check_names(definitions: Definitions, args: argparse.Namespace) -> None:
    known = {"sla": [s.name for s in definitions.slas], "team": list(definitions.teams),
             "alertname": list(RULES)}
    for kind, values in (("sla", args.sla), ("team", args.team),
                         ("alertname", args.alertname)):
        for value in values:
            if value not in known[kind]:
                raise EvaluationError(f"--{kind} {value!r} is not known; known: "
                                      f"{', '.join(sorted(known[kind])) or 'none'}")


def run_silence_list(args: argparse.Namespace) -> int:
    silences = list_silences(Store.open(args.store))
    now = now_us()
    if args.json:
        print(json.dumps({"silences": [s.as_json(now) for s in silences]}, indent=2))
        return 0
    if not silences:
        print("no silences")
    for s in sorted(silences, key=lambda s: (not s.active(now), -s.id)):
        state = "active" if s.active(now) else "ended"
        ended = f", ended by {s.ended_by}" if s.ended_by else ""
        print(f"{s.id:>4}  {state:<6} {_matchers(s.matchers)}  {format_time(s.starts_us)} -> "
              f"{format_time(s.ends_us)}  by {s.created_by}{ended}: {s.reason}")
    return 0


def run_silence_end(args: argparse.Namespace) -> int:
    silence = end_silence(Store.open(args.store), args.id, args.by)
    print(f"silence {silence.id} ended by {silence.ended_by}")
    return 0


def _matchers(matchers: Any) -> str:
    return " ".join(f"{kind}={','.join(values)}" for kind, values in matchers.items())
