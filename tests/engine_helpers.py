"""Helpers for engine tests: a small definitions set with short windows, and loading events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from collectors.schema import parse_event
from collectors.store import Store
from collectors.tables import (
    cursors,
    events,
    journey_attrs,
    journey_open,
    journey_stages,
    sla_population,
)
from slas.definitions import Definitions, load_texts

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
MIN = 60_000_000

CONFIG = """
version: baton/v1
teams:
  web: {name: Web}
  ops: {name: Ops}
  sales: {name: Sales}
journeys:
  lead:
    stages:
      - {name: submitted, owner: web, on: [lead.submitted]}
      - {name: routed, owner: ops, on: [lead.routed, lead.rerouted], stall_after: 5m}
      - {name: assigned, owner: sales, on: [lead.assigned]}
slas:
  - {name: fast, team: sales, kind: latency, journey: lead, from: submitted, to: assigned,
     threshold: 10m, objective: 90%, window: 1h}
  - {name: fast-hot, team: sales, kind: latency, journey: lead, from: submitted,
     to: assigned, threshold: 10m, objective: 90%, window: 1h, where: {hot: true}}
  - {name: fast-region, team: sales, kind: latency, journey: lead, from: routed,
     to: assigned, threshold: 5m, objective: 90%, window: 2h, where: {region: [emea, na]}}
  - {name: complete, team: ops, kind: completeness, journey: lead, from: submitted,
     to: routed, within: 10m, objective: 90%, window: 1h}
  - {name: fresh, team: web, kind: freshness, type: [lead.submitted], max_age: 2m,
     objective: 90%, window: 30m}
"""


def definitions(text: str = CONFIG) -> Definitions:
    return load_texts({"test.yaml": text})


def ev(key: str | None, etype: str, minute: float, n: int | str, source: str = "s",
       **data: Any) -> dict[str, Any]:
    """An event dict for the reference and for the store (time in minutes after T0)."""
    body: dict[str, Any] = {"source": source, "id": f"{key}-{etype}-{n}", "type": etype,
                            "time_us": T0 + int(minute * MIN), "correlationid": key}
    if data:
        body["data"] = data
    return body


def cloudevent(event: dict[str, Any]) -> dict[str, Any]:
    from collectors.schema import format_time

    out = {"specversion": "1.0", "id": event["id"], "source": event["source"],
           "type": event["type"], "time": format_time(event["time_us"])}
    if event.get("correlationid") is not None:
        out["correlationid"] = event["correlationid"]
    if "data" in event:
        out["data"] = event["data"]
    return out


def load(store: Store, batch: list[dict[str, Any]]) -> None:
    store.write_events([parse_event(cloudevent(e), T0) for e in batch])


def clear(store: Store) -> None:
    with store.engine.begin() as conn:
        for table in (events, journey_stages, journey_attrs, journey_open, sla_population,
                      cursors):
            conn.execute(delete(table))
