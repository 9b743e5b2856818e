"""What an edit would have scored: the named SLAs, as currently defined and as edited,
evaluated at past times over the stored history, storing nothing.

A journey SLA is measured on the population its definition selects (`slas.population`): when
an SLA in force already selects it (a threshold, objective or window edit), on those rows;
otherwise (a `where`, `from` or `to` edit, or a new SLA) on rows built for the preview under a
key of its own, for the journeys the preview's times can read, and dropped afterwards. The
live rows are never touched. Status needs the 1h burn rate (at risk above 14.4), so the
preview measures that span and no latency percentiles (its chart shows neither).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from collectors.store import Store
from slas.definitions import Definitions
from slas.judge import judge
from slas.measure import STATUS_SPANS, freshness, journey, reach_us
from slas.population import build, drop, is_current, population_key
from slas.spec import FreshnessSla, JourneySla, Sla


@dataclass(frozen=True)
class Point:
    """One SLA, in one version, evaluated at one time."""

    version: str  # "current" | "edited"
    at_us: int
    sla: str
    sli: float | None
    status: str
    total: int
    bad: int
    objective: float


def preview(store: Store, current: Definitions, edited: Definitions, names: Sequence[str],
            times: Sequence[int]) -> list[Point]:
    """Every named SLA at every time, as defined in `current` and in `edited` (an SLA
    missing from a version has no points in it). The stage table must be current."""
    versions = [("current", current), ("edited", edited)]
    chosen = [(version, defs, defs.sla(name)) for version, defs in versions for name in names
              if name in {s.name for s in defs.slas}]
    points: list[Point] = []
    with _populations(store, chosen, min(times, default=0)) as keys:
        with store.engine.connect() as conn:
            for version, _defs, sla in chosen:
                for at in times:
                    if isinstance(sla, JourneySla):
                        counts = journey(conn, sla, keys[(version, sla.name)], at,
                                         percentiles=False, spans=STATUS_SPANS)
                    else:
                        assert isinstance(sla, FreshnessSla)
                        counts = freshness(conn, sla, at, STATUS_SPANS)
                    result = judge(sla, counts)
                    points.append(Point(version, at, sla.name, result.sli, result.status,
                                        result.total, result.bad, result.objective))
    return points


@contextmanager
def _populations(store: Store, chosen: list[tuple[str, Definitions, Sla]], first_at: int
                 ) -> Iterator[dict[tuple[str, str], str]]:
    """(version, SLA) -> the key of the rows to measure it on: its live population's, or a
    preview population built now for the journeys the times read, dropped on the way out."""
    keys: dict[tuple[str, str], str] = {}
    needed: dict[str, tuple[JourneySla, int]] = {}  # population key -> (an SLA, since)
    for version, defs, sla in chosen:
        if not isinstance(sla, JourneySla):
            continue
        key = population_key(sla, defs)
        keys[(version, sla.name)] = key
        if not is_current(store, key):
            since = first_at - reach_us(sla, STATUS_SPANS)
            needed[key] = (sla, min(since, needed.get(key, (sla, since))[1]))
    token = uuid.uuid4().hex[:8]
    built = {key: f"preview-{token}-{key}" for key in needed}
    try:
        for key, (selects, since) in needed.items():
            with store.engine.begin() as conn:
                build(store, conn, built[key], selects, since)
        keys = {which: built.get(key, key) for which, key in keys.items()}
        yield keys
    finally:
        if built:
            with store.engine.begin() as conn:
                for key in built.values():
                    drop(conn, key)
