"""Kong log entries made for tests, from the http-log fixture."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson

FIXTURES = Path(__file__).parent / "fixtures"
TEMPLATE = orjson.loads((FIXTURES / "kong-http-log-single.json").read_bytes())
# 12 Kong entries: 9 answered below 400, two failed deliveries (a 429 and a 503), and one
# that is not a Kong entry at all (`twelve`)
STATUSES = [201, 201, 429, 201, 201, 503, 201, 201, 201, 201, 201]


def kong_entry(n: int, status: int, route: str = "lead-intake") -> dict[str, Any]:
    entry = copy.deepcopy(TEMPLATE)
    entry["request"]["id"] = f"{n:032x}"
    entry["request"]["headers"]["x-lead-id"] = f"L-{2000 + n}"
    entry["response"]["status"] = status
    entry["upstream_status"] = str(status)
    entry["started_at"] = 1767268800123 + n * 1000
    entry["route"]["name"] = route
    return entry


def twelve() -> list[Any]:
    entries: list[Any] = [kong_entry(n, s) for n, s in enumerate(STATUSES)]
    entries.insert(7, {"request": {"id": "broken"}})  # no started_at: rejected
    return entries


def jsonl(path: Path, records: list[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path
