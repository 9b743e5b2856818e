"""Record formats for `baton ingest --format X FILE` (backfills), beside `cloudevents`.

Each parser maps records with the default rules of its source kind (docs/collectors.md):
`kong` (file-log / http-log entries, or batched arrays), `hubspot` (contacts, or whole search
response pages), `salesforce` (Lead records, or whole query responses) and `otlp` (OTLP/JSON
export requests, one per line, as the Collector file exporter writes them). Events get the
CloudEvents `source` `<kind>://<kind>`, the same as a configured source named after its kind,
so a backfill and a live collector of that name store each record once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection

from collectors.crm import parse_hubspot, parse_salesforce
from collectors.gateway import parse_kong
from collectors.ingest import Parser
from collectors.mapping import SourceMap
from collectors.schema import Event
from collectors.sources import default_map
from collectors.store import Reject, Store
from collectors.traces import parse_otlp, write_spans


def _mapped(parse: Callable[[Any, SourceMap], list[Event]], kind: str) -> Parser:
    mapping = default_map(kind)

    def parser(obj: Any, _received_us: int) -> Sequence[Event]:
        return parse(obj, mapping)

    return parser


class OtlpParser:
    """OTLP/JSON -> events now, spans (and bad-span rejects) when the pipeline flushes."""

    def __init__(self) -> None:
        self.mapping = default_map("otlp")
        self.rows: list[dict[str, Any]] = []
        self.problems: list[Reject] = []

    def __call__(self, obj: Any, received_us: int) -> Sequence[Event]:
        batch = parse_otlp(obj, self.mapping, received_us)
        self.rows.extend(batch.rows)
        self.problems.extend(Reject("otlp", "otlp", "backfill", reason, raw, received_us)
                             for reason, raw in batch.problems)
        return batch.events

    def flush(self, store: Store, conn: Connection) -> int:
        """Write the spans gathered since the last flush; returns the rejects written."""
        rows, problems, self.rows, self.problems = self.rows, self.problems, [], []
        write_spans(store.dialect, conn, rows)
        return store.write_rejects(problems, conn=conn)


FORMATS: dict[str, Parser] = {
    "otlp": OtlpParser(),
    "kong": _mapped(lambda obj, m: parse_kong(obj, m), "kong"),
    "hubspot": _mapped(parse_hubspot, "hubspot"),
    "salesforce": _mapped(parse_salesforce, "salesforce"),
}
