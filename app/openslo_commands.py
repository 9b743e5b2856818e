"""`baton openslo export [--sla NAME]...` and `baton openslo import FILE`: thin wrappers over
slas.openslo (export) and slas.openslo_import.

Exit codes: 0 when everything maps; 1 when something cannot (each refusal one sentence on
stderr; what maps is still printed on stdout), or when the file cannot be read at all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from slas.alert_config import load_alerting
from slas.openslo_export import documents_text, export_documents
from slas.openslo_import import import_text
from slas.openslo_v1 import OpenSloError


def add_openslo(commands: Any) -> None:
    p = commands.add_parser("openslo", help="export SLAs as OpenSLO v1, or import OpenSLO "
                            "documents as baton/v1", description="Convert between Baton's SLA "
                            "definitions and OpenSLO v1 (docs/openslo.md).")
    p.set_defaults(run=lambda args: p.print_help() or 2)
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    export = actions.add_parser("export", help="print OpenSLO v1 documents",
                                description="Print the teams, journeys, SLAs and their "
                                "alerting as OpenSLO v1 documents (multi-document YAML).")
    export.add_argument("--sla", action="append", default=[], metavar="NAME",
                        help="only this SLA, with the teams and journey it needs (repeatable)")
    export.set_defaults(run=run_export)
    imp = actions.add_parser("import", help="print the baton/v1 YAML of OpenSLO documents",
                             description="Print the teams, journeys and SLAs of an OpenSLO v1 "
                             "file as baton/v1 YAML; each document that cannot be mapped is "
                             "one sentence on stderr (exit 1).")
    imp.add_argument("file", help="OpenSLO v1 YAML file, or - for standard input")
    imp.set_defaults(run=run_import)


def run_export(args: argparse.Namespace) -> int:
    definitions, alerts = load_alerting(args.config)
    exported = export_documents(definitions, alerts, args.sla)
    sys.stdout.write(documents_text(exported.documents))
    for note in exported.notes:
        print(f"baton: note: {note}", file=sys.stderr)
    for refusal in exported.refused:
        print(f"baton: {refusal}", file=sys.stderr)
    return 1 if exported.refused else 0


def run_import(args: argparse.Namespace) -> int:
    name, text = _read(args.file)
    imported = import_text(text, name)
    sys.stdout.write(imported.text)
    for refusal in imported.refused:
        print(f"baton: {refusal}", file=sys.stderr)
    if imported.refused:
        print(f"baton: {len(imported.refused)} document(s) not imported; imported "
              f"{len(imported.teams)} team(s), {len(imported.journeys)} journey(s), "
              f"{len(imported.slas)} SLA(s)", file=sys.stderr)
        return 1
    return 0


def _read(file: str) -> tuple[str, str]:
    if file == "-":
        return "<stdin>", sys.stdin.read()
    path = Path(file)
    try:
        return file, path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OpenSloError(f"{file}: no such file; give the path of an OpenSLO v1 YAML "
                           "file, or - for standard input") from None
    except UnicodeDecodeError:
        raise OpenSloError(f"{file} is not text; give an OpenSLO v1 YAML file") from None
    except OSError as exc:
        raise OpenSloError(f"{file} cannot be read ({exc.strerror})") from None
