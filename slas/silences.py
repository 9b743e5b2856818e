"""Silences: alerts matching one are recorded (state `silenced`) but not sent.

A silence matches by SLA, team and alert name: every kind given must match, any of its values.
It runs from its start to its end (wall-clock), or until someone ends it; silences are never
deleted, so who silenced what, when and why stays on record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from collectors.schema import format_time
from collectors.store import Store, now_us
from collectors.tables import silences
from slas.errors import EvaluationError

KINDS = ("sla", "team", "alertname")


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: Mapping[str, tuple[str, ...]]
    starts_us: int
    ends_us: int
    reason: str
    created_by: str
    created_us: int
    ended_by: str | None = None
    ended_us: int | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(kind) in values for kind, values in self.matchers.items())

    def active(self, at_us: int) -> bool:
        end = self.ends_us if self.ended_us is None else min(self.ends_us, self.ended_us)
        return self.starts_us <= at_us < end

    def as_json(self, at_us: int) -> dict[str, Any]:
        return {"id": self.id, "matchers": {k: list(v) for k, v in self.matchers.items()},
                "starts_at": format_time(self.starts_us), "ends_at": format_time(self.ends_us),
                "reason": self.reason, "created_by": self.created_by,
                "created_at": format_time(self.created_us), "ended_by": self.ended_by,
                "ended_at": None if self.ended_us is None else format_time(self.ended_us),
                "active": self.active(at_us)}


def add_silence(store: Store, matchers: Mapping[str, Sequence[str]], ends_us: int,
                reason: str, by: str, *, starts_us: int | None = None) -> Silence:
    """Record a silence from now (or `starts_us`) to `ends_us`."""
    start = now_us() if starts_us is None else starts_us
    kept = {kind: tuple(values) for kind, values in matchers.items() if values}
    if not kept:
        raise EvaluationError("a silence needs at least one of --sla, --team or --alertname; "
                              "a silence of everything would hide every page")
    if ends_us <= start:
        raise EvaluationError("the silence would end before it starts; give --for 2h or an "
                              "--until time in the future")
    if not reason.strip() or not by.strip():
        raise EvaluationError("say why (--reason) and who (--by): silences are audited")
    with store.engine.begin() as conn:
        result = conn.execute(insert(silences).values(
            matchers=orjson.dumps(kept).decode(), starts_us=start, ends_us=ends_us,
            reason=reason.strip(), created_by=by.strip(), created_us=now_us()))
        silence_id = int(_key(result))
    return Silence(silence_id, kept, start, ends_us, reason.strip(), by.strip(), now_us())


def end_silence(store: Store, silence_id: int, by: str) -> Silence:
    """End a silence now (it stays on record, with who ended it)."""
    now = now_us()
    with store.engine.begin() as conn:
        found = _load(conn, silence_id)
        if found is None:
            raise EvaluationError(f"no silence {silence_id}; `baton silence list` shows them")
        if not found.active(now):
            ended = min(found.ends_us, found.ended_us or found.ends_us)
            raise EvaluationError(f"silence {silence_id} is not active (it ended at "
                                  f"{format_time(ended)})")
        conn.execute(update(silences).where(silences.c.id == silence_id).values(
            ended_us=now, ended_by=by.strip() or "unknown"))
    return Silence(**{**found.__dict__, "ended_us": now, "ended_by": by.strip() or "unknown"})


def list_silences(store: Store, *, include_ended: bool = True) -> list[Silence]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(silences).order_by(silences.c.id.desc())).mappings()
        found = [_silence(dict(row)) for row in rows]
    now = now_us()
    return found if include_ended else [s for s in found if s.active(now)]


def active_silences(conn: Connection, at_us: int) -> list[Silence]:
    rows = conn.execute(select(silences).where(silences.c.starts_us <= at_us,
                                               silences.c.ends_us > at_us)).mappings()
    return [s for s in (_silence(dict(row)) for row in rows) if s.active(at_us)]


def _load(conn: Connection, silence_id: int) -> Silence | None:
    row = conn.execute(select(silences).where(silences.c.id == silence_id)).mappings().first()
    return None if row is None else _silence(dict(row))


def _silence(row: Mapping[str, Any]) -> Silence:
    matchers = {k: tuple(v) for k, v in orjson.loads(row["matchers"]).items()}
    return Silence(int(row["id"]), matchers, int(row["starts_us"]), int(row["ends_us"]),
                   row["reason"], row["created_by"], int(row["created_us"]), row["ended_by"],
                   row["ended_us"])


def _key(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
