"""The `baton` command line: thin commands that wire the store, the engine and the app.

Exit codes: 0 success; 1 a user's mistake or an unavailable dependency (one sentence on
stderr); 2 wrong usage (argparse); 130 interrupted. `main` is the one exception boundary:
our own errors, the store's (SQLAlchemy) errors, files that cannot be read or written
(`OSError`) and a closed standard input become one sentence; a closed standard output (as
in `baton stalls --json | head -2`) ends the command quietly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from collectors.errors import CollectorError
from collectors.store import DEFAULT_URL

Command = Callable[[argparse.Namespace], int]

# What SQLite or PostgreSQL said -> what to do about it
STORE_ADVICE = {
    "file is not a database": "it is not a Baton store; pass --store with a new path or a "
                              "store Baton created",
    "database is locked": "another process is writing to it and kept it locked past the "
                          "30 s Baton waits; try again when that process is done",
    "readonly database": "it is read-only; give Baton write access, or pass --store with a "
                         "writable store",
    "unable to open database file": "the file cannot be opened; check the path and its "
                                    "permissions",
    "disk is full": "the disk is full; free some space",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        code = int(args.run(args))
        sys.stdout.flush()  # a closed pipe shows here, inside the boundary, not at exit
        return code
    except BrokenPipeError:
        # the reader (e.g. `head`) has what it wanted; nothing more to say, and nothing
        # left to flush at exit
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("baton: interrupted", file=sys.stderr)
        return 130
    except (CollectorError, _sla_error(), SQLAlchemyError, OSError, EOFError) as exc:
        print(f"baton: {failure(exc, args.store)}", file=sys.stderr)
        return 1


def failure(exc: BaseException, store_url: str) -> str:
    """The sentence for an error that ended a command."""
    if isinstance(exc, SQLAlchemyError):
        return store_failure(exc, store_url)
    if isinstance(exc, EOFError):
        return ("standard input ended before Baton read what it needed; run the command "
                "in a terminal, or pipe the input in")
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return (f"cannot use{where}: {exc.strerror or exc}; check the path, its "
                "permissions and the free space")
    return str(exc)


def store_failure(exc: SQLAlchemyError, store_url: str) -> str:
    """One sentence for a failure of the metrics store, naming it (without a password)."""
    detail = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip()
    detail = detail.splitlines()[0] if detail else type(exc).__name__
    advice = next((text for known, text in STORE_ADVICE.items() if known in detail),
                  "check the URL (--store or BATON_STORE_URL) and that the database is "
                  "running")
    return f"the store at {_shown(store_url)} failed ({detail}): {advice}"


def _shown(url: str) -> str:
    """The URL as given, unless it holds a password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    return url if parsed.password is None else parsed.render_as_string(hide_password=True)


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
