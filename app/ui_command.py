"""`baton ui` (the dashboard, headless) and `baton users` (who may sign in to it)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from collectors.store import Store

UI_SCRIPT = Path(__file__).with_name("ui.py")
ROLES = ("editor", "operator", "viewer")  # app.auth.ROLES, not imported: it loads Streamlit


def add_ui(commands: Any) -> None:
    """Register `baton ui` and `baton users`."""
    p = commands.add_parser("ui", help="run the dashboard (headless; open it in a browser)",
                            description="Run the Baton dashboard on http://ADDRESS:PORT without "
                            "opening a browser.")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--address", default="localhost",
                   help="address to listen on (default localhost; 0.0.0.0 for all)")
    p.set_defaults(run=run_ui)
    users = commands.add_parser("users", help="manage dashboard users (local sign-in)",
                                description="Manage the users file the dashboard signs people "
                                "in with ($BATON_USERS_FILE, default var/users.yaml).")
    actions = users.add_subparsers(title="actions", metavar="ACTION")
    add = actions.add_parser("add", help="create or replace a user")
    add.add_argument("name", help="user name (for OIDC sign-in: the verified e-mail "
                     "address, or sub:SUBJECT)")
    add.add_argument("--role", choices=ROLES, default="viewer",
                     help="editor may save SLA definitions; operator sees raw payloads; "
                     "viewer reads with personal data masked (default viewer)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of prompting")
    add.add_argument("--oidc", action="store_true",
                     help="no password: the role of an OIDC user signing in with this e-mail")
    add.set_defaults(run=run_users_add)
    listing = actions.add_parser("list", help="list users and roles (never hashes)")
    listing.set_defaults(run=run_users_list)
    users.set_defaults(run=lambda args: users.print_help() or 2)


def ui_command(port: int, address: str) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(UI_SCRIPT),
            "--server.headless", "true", "--server.port", str(port),
            "--server.address", address, "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
            "--runner.magicEnabled", "false"]


def run_ui(args: argparse.Namespace) -> int:
    Store.open(args.store).close()  # a clear one-sentence error now, not a broken page later
    env = dict(os.environ, BATON_STORE_URL=args.store,
               BATON_CONFIG=str(args.config))  # as given: file names match `baton validate`
    print(f"baton: dashboard on http://{args.address}:{args.port} (Ctrl+C stops it)",
          file=sys.stderr, flush=True)
    os.execve(sys.executable, ui_command(args.port, args.address), env)
    return 0  # pragma: no cover - execve does not return


def run_users_add(args: argparse.Namespace) -> int:
    from app.auth import AuthError, add_user, users_path

    password = None
    if not args.oidc:
        if not args.password_stdin and not (sys.stdin and sys.stdin.isatty()):
            print("baton: no terminal to ask for the password on; pipe it in with "
                  "--password-stdin, or add an OIDC user with --oidc", file=sys.stderr)
            return 1
        password = (sys.stdin.readline().rstrip("\n") if args.password_stdin
                    else getpass.getpass(f"Password for {args.name}: "))
    try:
        add_user(users_path(), args.name, args.role, password)
    except AuthError as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 1
    print(f"{args.name} ({args.role}) saved in {users_path()}")
    return 0


def run_users_list(args: argparse.Namespace) -> int:
    from app.auth import AuthError, load_users, users_path

    try:
        users = load_users(users_path())
    except AuthError as exc:
        print(f"baton: {exc}", file=sys.stderr)
        return 1
    if not users:
        print(f"no users in {users_path()}; add one with `baton users add NAME --role editor`")
    for name, entry in sorted(users.items()):
        kind = "password" if "password_hash" in entry else "oidc"
        print(f"{name}\t{entry.get('role', 'viewer')}\t{kind}")
    return 0
