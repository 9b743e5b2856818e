"""Record formats for `baton ingest --format X FILE` (backfills), beside `cloudevents`.

Formats: `kong` (file-log / http-log entries, or batched arrays), `hubspot` (contacts, or
whole search response pages), `salesforce` (Lead records, or whole query responses) and `otlp`
(OTLP/JSON export requests, one per line, as the Collector file exporter writes them).

A backfill for a configured source (`--source NAME`) maps records with that source's key,
rules, data and event source, exactly as its live collector does, so the two store each
record once. Without one, the kind's default rules apply (docs/collectors.md) and events get
the CloudEvents `source` `<kind>://<kind>`, the same as a source named after its kind.
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


def _mapped(parse: Callable[[Any, SourceMap], list[Event]], mapping: SourceMap) -> Parser:
    def parser(obj: Any, _received_us: int) -> Sequence[Event]:
        return parse(obj, mapping)

    return parser


class OtlpParser:
    """OTLP/JSON -> events now, spans (and bad-span rejects) when the pipeline flushes."""

    def __init__(self, mapping: SourceMap) -> None:
        self.mapping = mapping
        self.rows: list[dict[str, Any]] = []
        self.problems: list[Reject] = []

    def __call__(self, obj: Any, received_us: int) -> Sequence[Event]:
        batch = parse_otlp(obj, self.mapping, received_us)
        self.rows.extend(batch.rows)
        self.problems.extend(Reject(self.mapping.name, "otlp", "backfill", reason, raw,
                                    received_us)
                             for reason, raw in batch.problems)
        return batch.events

    def flush(self, store: Store, conn: Connection) -> int:
        """Write the spans gathered since the last flush; returns the rejects written."""
        rows, problems, self.rows, self.problems = self.rows, self.problems, [], []
        write_spans(store.dialect, conn, rows)
        return store.write_rejects(problems, conn=conn)


_PARSERS: dict[str, Callable[[SourceMap], Parser]] = {
    "otlp": OtlpParser,
    "kong": lambda mapping: _mapped(parse_kong, mapping),
    "hubspot": lambda mapping: _mapped(parse_hubspot, mapping),
    "salesforce": lambda mapping: _mapped(parse_salesforce, mapping),
}


def backfill_parser(kind: str, mapping: SourceMap | None = None) -> Parser:
    """The parser of format `kind`, mapping with `mapping` (default: the kind's defaults)."""
    return _PARSERS[kind](mapping or default_map(kind))


FORMATS: dict[str, Parser] = {kind: backfill_parser(kind) for kind in _PARSERS}
