"""The baseline for benchmarks/evaluate.py: a naive pandas report over the window's events.

Reads every event of the window into a DataFrame, groups by journey, and computes the same
SLIs, latency percentiles and stall counts as the engine, the way a first version would.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text

from slas.definitions import Definitions, load_folder
from slas.measure import US, slice_ends
from slas.spec import CompletenessSla, FreshnessSla, LatencySla

ROOT = Path(__file__).resolve().parents[1]


def report(url: str, at_us: int) -> dict[str, Any]:
    defs = load_folder(ROOT / "config")
    longest = max(sla.window for sla in defs.slas) * US
    with create_engine(url).connect() as conn:
        df = pd.read_sql(text(
            "SELECT type, time_us, correlationid, source, event_id, data FROM events "
            "WHERE time_us > :lo AND time_us <= :hi"), conn,
            params={"lo": at_us - longest - 86_400 * US, "hi": at_us})
    journey = _journey_frame(df, defs, "lead")
    out: dict[str, Any] = {}
    for sla in defs.slas:
        if isinstance(sla, FreshnessSla):
            out[sla.name] = [*_freshness(df, sla, at_us), None, None, None]
        else:
            out[sla.name] = _journey_sla(journey, sla, at_us)
    out["stalls"] = _stalls(journey, defs, "lead", at_us)
    return out


def _journey_frame(df: pd.DataFrame, defs: Definitions, name: str) -> pd.DataFrame:
    spec = defs.journeys[name]
    stage_of = {etype: stage.name for stage in spec.stages for etype in stage.on}
    js = df[df["type"].isin(list(stage_of)) & df["correlationid"].notna()].copy()
    js["stage"] = js["type"].map(stage_of)
    first = js.groupby(["correlationid", "stage"])["time_us"].min().unstack()
    js = js.sort_values(["time_us", "source", "event_id"])
    parsed = js["data"].map(lambda d: json.loads(d) if isinstance(d, str) else None)
    for attr in {key for sla in defs.slas if not isinstance(sla, FreshnessSla)
                 for key in sla.where}:
        js[attr] = parsed.map(lambda d, a=attr: d.get(a, np.nan) if isinstance(d, dict)
                              else np.nan)
        first[attr] = js.groupby("correlationid")[attr].last()
    return first


def _journey_sla(first: pd.DataFrame, sla: LatencySla | CompletenessSla, at_us: int
                 ) -> list[Any]:
    f, t = first[sla.from_], first[sla.to]
    allowed = (sla.threshold if isinstance(sla, LatencySla) else sla.within) * US
    hi = at_us if isinstance(sla, LatencySla) else at_us - allowed
    pop = (f > at_us - sla.window * US) & (f <= hi)
    for attr, wanted in sla.where.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        pop &= first[attr].map(lambda v, o=options: any(v is w or (type(v) is type(w)
                                                                   and v == w) for w in o))
    f, t = f[pop], t[pop]
    reached = t.notna() & (t <= at_us)
    waited = t - f
    good = reached & (waited <= allowed)
    if isinstance(sla, CompletenessSla):
        return [int(good.sum()), int((~good).sum()), None, None, None]
    bad = (reached & (waited > allowed)) | (~reached & (at_us - f > allowed))
    values = np.sort(waited[reached].to_numpy(dtype=np.int64))
    return [int(good.sum()), int(bad.sum()), *(_percentile(values, p)
                                               for p in (0.5, 0.95, 0.99))]


def _percentile(values: np.ndarray, p: float) -> float | None:
    if len(values) == 0:
        return None
    position = p * (len(values) - 1)
    lo, hi = math.floor(position), math.ceil(position)
    value = (int(values[lo]) + (int(values[hi]) - int(values[lo])) * (position - lo)) / US
    return round(value, 6)


def _freshness(df: pd.DataFrame, sla: FreshnessSla, at_us: int) -> list[int]:
    times = np.sort(df.loc[df["type"].isin(sla.type), "time_us"].to_numpy(dtype=np.int64))
    good = bad = 0
    for end in slice_ends(at_us, sla.window * US):
        index = np.searchsorted(times, end, side="right") - 1
        if index >= 0 and end - times[index] <= sla.max_age * US:
            good += 1
        else:
            bad += 1
    return [good, bad]


def _stalls(first: pd.DataFrame, defs: Definitions, name: str, at_us: int) -> dict[str, int]:
    names = [s.name for s in defs.journeys[name].stages]
    times = first[names]
    started = times.min(axis=1)
    recent = times[(started > at_us - 7 * 86400 * US) & (started <= at_us)].to_numpy()
    reached = ~np.isnan(recent)
    last = len(names) - 1 - np.argmax(reached[:, ::-1], axis=1)
    last_time = recent[np.arange(len(recent)), last]
    waits = np.array([defs.stall_after(name, i + 1) * US for i in range(len(names) - 1)] + [0])
    stalled = (last < len(names) - 1) & (at_us - last_time > waits[last])
    return {stage: int(((last == i) & stalled).sum()) for i, stage in enumerate(names[:-1])}


