"""The SLA editor's logic: read the files, validate edits, diff, save with a version, roll back.

Saving is refused unless the user has the editor role, the edited file (checked together with
every other file, as `baton validate` does) is valid, and the file on disk has not changed since
the edit began. A save writes the YAML file and records the version (who, when, diff, message)
in `sla_versions`; the first save of a file also records what was on disk before, so the
history can always roll back to it.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, func, insert, select

from app.auth import User
from collectors.store import Store, now_us
from collectors.tables import sla_versions
from collectors.yamlfile import YamlSyntaxError, load_yaml
from slas.definitions import check_texts, load_texts
from slas.errors import DefinitionError
from slas.stages import attributes


class EditorError(Exception):
    """A save or rollback that was refused; the message says why and what to do."""


class NotAllowed(EditorError):
    pass


class Invalid(EditorError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"the file has {len(errors)} error(s); fix them before saving")
        self.errors = errors


class Conflict(EditorError):
    pass


@dataclass(frozen=True)
class Saved:
    version_id: int
    file: str
    diff: str


def sla_files(config: str | Path) -> dict[str, str]:
    """Every SLA file of the config folder, by the name `baton validate` reports it under."""
    folder = Path(config)
    folder = folder / "slas" if (folder / "slas").is_dir() else folder
    paths = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    return {str(path): path.read_text(encoding="utf-8") for path in paths}


def validate(files: Mapping[str, str], name: str, text: str) -> list[str]:
    """`file:line: path: message` errors of the edited file checked with all the others."""
    return check_texts({**files, name: text})


def diff(old: str, new: str, name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True),
                                        fromfile=f"{name} (saved)", tofile=f"{name} (edited)"))


def changed_slas(files: Mapping[str, str], name: str, text: str) -> list[str]:
    """SLAs that the edit adds or defines differently than now (none while it is invalid)."""
    try:
        before = {s.name: s for s in load_texts(files).slas}
        after = load_texts({**files, name: text})
    except DefinitionError:
        return []
    return [s.name for s in after.slas if before.get(s.name) != s]


def unindexed_attributes(files: Mapping[str, str], name: str, text: str) -> list[str]:
    """`where` attributes the edit starts using that the store does not index yet (a dry run
    cannot match them; the first evaluation after saving indexes them)."""
    try:
        before, after = load_texts(files), load_texts({**files, name: text})
    except DefinitionError:
        return []
    return sorted({attr for journey in after.journeys for attr in attributes(after, journey)}
                  - {attr for journey in before.journeys for attr in attributes(before, journey)})


def file_slas(text: str) -> list[str]:
    """Names of the SLAs written in one file's text (best effort, for pickers)."""
    try:
        data = load_yaml(text, "edit")[0]
    except YamlSyntaxError:
        return []
    items = data.get("slas") if isinstance(data, dict) else None
    return [str(i["name"]) for i in items or [] if isinstance(i, dict) and "name" in i]


def save(store: Store, files: Mapping[str, str], name: str, text: str, user: User,
         message: str, *, expected: str) -> Saved:
    """Write `text` to the file `name` and record the version; `expected` is the file's text
    when the edit began (a different text on disk means someone else saved meanwhile)."""
    if not user.can_edit:
        raise NotAllowed(f"{user.name} has the {user.role} role; only editors may save. Ask an "
                         "editor, or create one with `baton users add NAME --role editor`")
    if name not in files:
        raise EditorError(f"{name} is not one of the SLA files; pick a file from the list")
    errors = validate(files, name, text)
    if errors:
        raise Invalid(errors)
    on_disk = Path(name).read_text(encoding="utf-8")
    if on_disk != expected:
        raise Conflict(f"{name} changed on disk since you started editing; copy your edit, "
                       "reload the page and apply it again")
    if text == on_disk:
        raise EditorError("nothing changed; edit the file before saving")
    change = diff(on_disk, text, name)
    with store.engine.begin() as conn:
        if _count(conn, name) == 0:
            _record(conn, name, on_disk, "file on disk", None, "before the first edit in Baton")
        version = _record(conn, name, text, user.name, change, message.strip() or None)
        _write(Path(name), text)
    return Saved(version, name, change)


def rollback(store: Store, files: Mapping[str, str], name: str, version: pd.Series | dict,
             user: User) -> Saved:
    """Save an earlier version's content again, as a new version."""
    current = files[name] if name in files else ""
    return save(store, files, name, str(version["content"]), user,
                f"rollback to version {int(version['id'])}", expected=current)


def breach_periods(points: pd.DataFrame) -> list[tuple[int, int]]:
    """Runs of consecutive `breached` evaluations (columns at_us, status) as (first, last)."""
    periods: list[tuple[int, int]] = []
    start = last = None
    for at, status in zip(points["at_us"], points["status"], strict=True):
        if status == "breached":
            start = at if start is None else start
            last = at
        elif start is not None:
            periods.append((int(start), int(last)))  # type: ignore[arg-type]
            start = None
    if start is not None:
        periods.append((int(start), int(last)))  # type: ignore[arg-type]
    return periods


def _count(conn: Connection, name: str) -> int:
    return int(conn.execute(select(func.count()).select_from(sla_versions)
                            .where(sla_versions.c.file == name)).scalar() or 0)


def _record(conn: Connection, name: str, content: str, author: str, change: str | None,
            message: str | None) -> int:
    result = conn.execute(insert(sla_versions).values(
        file=name, content=content, author=author, created_us=now_us(), diff=change,
        message=message))
    return int(result.inserted_primary_key[0])


def _write(path: Path, text: str) -> None:
    """Replace the file atomically, so the evaluator never reads half a file, keeping its
    mode (and owner and group, where this process may set them): mkstemp makes 0600."""
    before = path.stat()
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), stat.S_IMODE(before.st_mode))
            with contextlib.suppress(PermissionError):
                os.fchown(out.fileno(), before.st_uid, before.st_gid)
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
