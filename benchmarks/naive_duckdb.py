"""A second baseline for benchmarks/evaluate.py: DuckDB recomputing the same numbers from the
same events, the fastest full recompute a data team would write.

The window's events are copied into DuckDB first (not timed: a data team would have them in
their warehouse already); then one SQL statement per journey groups them by journey and
computes every journey SLA's good, bad and latency percentiles, and a scan per freshness SLA
counts its slices. Only the SQL is timed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from sqlalchemy import create_engine, text

from slas.definitions import load_folder
from slas.measure import US
from slas.spec import CompletenessSla, FreshnessSla, LatencySla

ROOT = Path(__file__).resolve().parents[1]


def report(url: str, at_us: int) -> tuple[dict[str, Any], float]:
    """(the numbers, the seconds DuckDB's SQL took)."""
    defs = load_folder(ROOT / "config")
    longest = max(sla.window for sla in defs.slas) * US
    with create_engine(url).connect() as conn:
        frame = pd.read_sql(text(
            "SELECT type, time_us, correlationid, source, event_id, data FROM events "
            "WHERE time_us > :lo AND time_us <= :hi"), conn,
            params={"lo": at_us - longest - 86_400 * US, "hi": at_us})
    db = duckdb.connect()
    db.register("raw", frame)
    db.execute("CREATE TABLE ev AS SELECT * FROM raw")
    started = time.perf_counter()
    out: dict[str, Any] = {}
    journey = defs.journeys["lead"]
    stage_of = {etype: stage.name for stage in journey.stages for etype in stage.on}
    columns = ", ".join(
        f"min(time_us) FILTER (WHERE type IN ({_list(s.on)})) AS \"{s.name}\""
        for s in journey.stages)
    attrs = sorted({k for sla in defs.slas if not isinstance(sla, FreshnessSla)
                    for k in sla.where})
    attr_columns = "".join(
        f", arg_max(json_extract(data, '$.{a}'), (time_us, source, event_id)) FILTER "
        f"(WHERE json_extract(data, '$.{a}') IS NOT NULL) AS \"{a}\"" for a in attrs)
    db.execute(f"CREATE TABLE j AS SELECT correlationid AS k, {columns}{attr_columns} "
               f"FROM ev WHERE type IN ({_list(stage_of)}) AND correlationid IS NOT NULL "
               "GROUP BY 1")
    for sla in defs.slas:
        if isinstance(sla, FreshnessSla):
            out[sla.name] = [*_freshness(db, sla, at_us), None, None, None]
        else:
            out[sla.name] = _journey_sla(db, sla, at_us)
    return out, time.perf_counter() - started


def _list(values: Any) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _journey_sla(db: Any, sla: LatencySla | CompletenessSla, at_us: int) -> list[Any]:
    allowed = (sla.threshold if isinstance(sla, LatencySla) else sla.within) * US
    hi = at_us if isinstance(sla, LatencySla) else at_us - allowed
    f, t = f'"{sla.from_}"', f'"{sla.to}"'
    where = " AND ".join(f"\"{a}\" = '{str(v).lower()}'" for a, v in sla.where.items())
    reached = f"({t} IS NOT NULL AND {t} <= {at_us})"
    good = f"({reached} AND {t} - {f} <= {allowed})"
    bad = (f"(NOT {good} AND {f} < {at_us - allowed})" if isinstance(sla, LatencySla)
           else f"(NOT {good})")
    row = db.execute(
        f"SELECT count(*) FILTER (WHERE {good}), count(*) FILTER (WHERE {bad}), "
        f"quantile_cont({t} - {f}, [0.5, 0.95, 0.99]) FILTER (WHERE {reached}) "
        f"FROM j WHERE {f} > {at_us - sla.window * US} AND {f} <= {hi}"
        + (f" AND {where}" if where else "")).fetchone()
    if isinstance(sla, CompletenessSla):
        return [int(row[0]), int(row[1]), None, None, None]
    return [int(row[0]), int(row[1]), *(round(v / US, 6) if v is not None else None
                                        for v in (row[2] or [None] * 3))]


def _freshness(db: Any, sla: FreshnessSla, at_us: int) -> list[int]:
    minute = 60 * US
    last = at_us // minute * minute
    first = (at_us - sla.window * US) // minute * minute + minute
    fresh = f"newest IS NOT NULL AND e - newest <= {sla.max_age * US}"
    row = db.execute(
        f"WITH ends AS (SELECT range AS e FROM range({first}, {last + 1}, {minute})), "
        f"ts AS (SELECT time_us AS newest FROM ev WHERE type IN ({_list(sla.type)})) "
        f"SELECT count(*) FILTER (WHERE {fresh}), count(*) FILTER (WHERE NOT ({fresh})) "
        "FROM ends ASOF LEFT JOIN ts ON ends.e >= ts.newest").fetchone()
    return [int(row[0]), int(row[1])]
