"""A straightforward Python reading of DESIGN.md's SLA semantics, for checking the SQL engine.

Deliberately naive: every event in memory, loops, no cleverness. Events are dicts with
`source`, `id`, `type`, `time_us`, `correlationid` and optional `data`.
"""

from __future__ import annotations

import math
from typing import Any

from slas.definitions import Definitions
from slas.measure import SPANS, US, Counts, slice_ends
from slas.spec import CompletenessSla, FreshnessSla, LatencySla, Sla


def unique(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        seen.setdefault((event["source"], event["id"]), event)
    return list(seen.values())


def journeys(events: list[dict[str, Any]], defs: Definitions, name: str, at_us: int
             ) -> dict[str, dict[str, Any]]:
    """key -> {"stages": {stage: first time}, "attrs": {...}} from events up to T."""
    journey = defs.journeys[name]
    stage_of = {etype: stage.name for stage in journey.stages for etype in stage.on}
    out: dict[str, dict[str, Any]] = {}
    ordered = sorted(unique(events), key=lambda e: (e["time_us"], e["source"], e["id"]))
    for event in ordered:
        key = event.get(journey.key)
        if key is None or event["type"] not in stage_of or event["time_us"] > at_us:
            continue
        entry = out.setdefault(key, {"stages": {}, "attrs": {}})
        entry["stages"].setdefault(stage_of[event["type"]], event["time_us"])
        if isinstance(event.get("data"), dict):
            entry["attrs"].update(event["data"])
    return out


def matches(attrs: dict[str, Any], where: dict[str, Any]) -> bool:
    for name, wanted in where.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        if name not in attrs or not any(_same(attrs[name], w) for w in options):
            return False
    return True


def _same(value: Any, wanted: Any) -> bool:
    return type(value) is type(wanted) and value == wanted


def measure(events: list[dict[str, Any]], defs: Definitions, sla: Sla, at_us: int,
            spans: dict[str, int] = SPANS) -> Counts:
    if isinstance(sla, FreshnessSla):
        return _freshness(events, sla, at_us, spans)
    allowed = (sla.threshold if isinstance(sla, LatencySla) else sla.within) * US
    hi = at_us if isinstance(sla, LatencySla) else at_us - allowed
    lo = at_us - sla.window * US
    window: list[tuple[str, int | None]] = []  # (verdict, waited) of the window's population
    known: list[tuple[str, int]] = []  # (verdict, when it became known) of every journey
    for entry in journeys(events, defs, sla.journey, at_us).values():
        f = entry["stages"].get(sla.from_)
        if f is None or not matches(entry["attrs"], sla.where):
            continue
        t = entry["stages"].get(sla.to)
        verdict = _verdict(sla, f, t, allowed, at_us)
        if verdict != "pending":  # good when `to` was reached, bad when the deadline passed
            known.append((verdict, t if verdict == "good" else f + allowed))
        if lo < f <= hi:
            window.append((verdict, None if t is None else t - f))
    good = sum(v == "good" for v, _ in window)
    bad = sum(v == "bad" for v, _ in window)
    by_span = {name: (sum(v == "good" for v, k in known if k > at_us - span),
                      sum(v == "bad" for v, k in known if k > at_us - span))
               for name, span in spans.items()}
    waits = sorted(w for v, w in window if w is not None and v != "pending")
    percentiles = tuple(percentile_cont(waits, p) for p in (0.5, 0.95, 0.99))
    if not isinstance(sla, LatencySla):
        percentiles = (None, None, None)
    return Counts(good, bad, by_span, percentiles)


def _verdict(sla: Sla, f: int, t: int | None, allowed: int, at_us: int) -> str:
    if isinstance(sla, CompletenessSla):
        if t is not None and t - f <= allowed:
            return "good"
        return "bad" if at_us - f >= allowed else "pending"
    if t is not None and t - f <= allowed:
        return "good"
    return "bad" if at_us - f > allowed else "pending"


def percentile_cont(values: list[int], p: float) -> float | None:
    if not values:
        return None
    position = p * (len(values) - 1)
    lo, hi = math.floor(position), math.ceil(position)
    return (values[lo] + (values[hi] - values[lo]) * (position - lo)) / US


def _freshness(events: list[dict[str, Any]], sla: FreshnessSla, at_us: int,
               spans: dict[str, int]) -> Counts:
    times = sorted(e["time_us"] for e in unique(events) if e["type"] in sla.type
                   and (not sla.source or e["source"] in sla.source) and e["time_us"] <= at_us)

    def good(end: int) -> bool | None:
        newest = max((t for t in times if t <= end), default=None)
        if newest is None:  # no matching event yet: the slice is not counted (no data)
            return None
        return end - newest <= sla.max_age * US

    verdicts = [v for end in slice_ends(at_us, sla.window * US) if (v := good(end)) is not None]
    by_span = {}
    for name, span in spans.items():
        recent = [v for end in slice_ends(at_us, span) if (v := good(end)) is not None]
        by_span[name] = (sum(recent), len(recent) - sum(recent))
    return Counts(sum(verdicts), len(verdicts) - sum(verdicts), by_span)


def stalls(events: list[dict[str, Any]], defs: Definitions, name: str, at_us: int,
           window_us: int) -> list[tuple[str, str, int]]:
    """(key, last stage, its time) of every journey stalled at T."""
    names = [s.name for s in defs.journeys[name].stages]
    out = []
    for key, entry in journeys(events, defs, name, at_us).items():
        reached = entry["stages"]
        if not at_us - window_us < min(reached.values()) <= at_us:
            continue
        last = max(names.index(stage) for stage in reached)
        if last == len(names) - 1:
            continue
        if at_us - reached[names[last]] > defs.stall_after(name, last + 1) * US:
            out.append((key, names[last], reached[names[last]]))
    return sorted(out)


