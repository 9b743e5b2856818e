"""The `baton` command line: thin commands that wire the store, the engine and the app.

Exit codes: 0 success; 1 a user's mistake or an unavailable dependency (one sentence on
stderr); 2 wrong usage (argparse).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from collectors.errors import CollectorError
from collectors.store import DEFAULT_URL

Command = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except (CollectorError, _sla_error()) as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("baton: interrupted", file=sys.stderr)
        return 130


def _sla_error() -> type[Exception]:
    try:
        from slas.errors import SlaError
    except ImportError:  # pragma: no cover - the engine package is always installed
        return CollectorError
    return SlaError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baton", description=(
        "Baton: SLA monitoring for lead handoffs across gateway, bus and CRMs."))
    parser.add_argument("--config", default=os.environ.get("BATON_CONFIG", "config"),
                        help="configuration folder (default: config/, or $BATON_CONFIG)")
    parser.add_argument("--store", default=os.environ.get("BATON_STORE_URL", DEFAULT_URL),
                        help=f"metrics store URL (default: {DEFAULT_URL}, or $BATON_STORE_URL)")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    from app import commands as cmd

    for register in cmd.REGISTRY:
        register(commands)
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
