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

from collectors.crm import hubspot_page, parse_hubspot, parse_salesforce, salesforce_page
from collectors.gateway import kong_entries, parse_kong
from collectors.ingest import Parser
from collectors.mapping import SourceMap
from collectors.schema import Event
from collectors.sources import default_map
from collectors.store import Reject, Store, WriteCounts
from collectors.traces import parse_otlp, write_spans

# What a record of each kind is called in summaries; a kind not here (CloudEvents, on a push
# or a bus) has records that are events themselves.
RECORD_NOUNS = {"kong": "entries", "hubspot": "contacts", "salesforce": "leads",
                "otlp": "spans"}


class MappedParser:
    """A vendor format mapped through rules: `split` finds the records in a JSON value (the
    entries of a Kong batch, the contacts of a page), and each record is parsed on its own."""

    def __init__(self, parse: Callable[[Any, SourceMap], list[Event]],
                 split: Callable[[Any], list[Any]], mapping: SourceMap) -> None:
        self.parse, self.split, self.mapping = parse, split, mapping

    def __call__(self, obj: Any, _received_us: int) -> Sequence[Event]:
        return self.parse(obj, self.mapping)


def _page(records: Callable[[Any], list[Any] | None]) -> Callable[[Any], list[Any]]:
    def split(obj: Any) -> list[Any]:
        found = records(obj)
        return [obj] if found is None else found

    return split


class OtlpParser:
    """OTLP/JSON -> events now, spans (and bad-span rejects) when the pipeline flushes. The
    spans are the records; the events are made from them (`RecordBatch(derived=True)`)."""

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

    def flush(self, store: Store, conn: Connection) -> WriteCounts:
        """Write the spans (and bad spans) gathered since the last flush; their counts."""
        rows, problems, self.rows, self.problems = self.rows, self.problems, [], []
        counts = write_spans(store.dialect, conn, rows)
        return counts + WriteCounts(rejected=store.write_rejects(problems, conn=conn))


_PARSERS: dict[str, Callable[[SourceMap], Parser]] = {
    "otlp": OtlpParser,
    "kong": lambda mapping: MappedParser(parse_kong, kong_entries, mapping),
    "hubspot": lambda mapping: MappedParser(parse_hubspot, _page(hubspot_page), mapping),
    "salesforce": lambda mapping: MappedParser(parse_salesforce, _page(salesforce_page),
                                               mapping),
}


def backfill_parser(kind: str, mapping: SourceMap | None = None) -> Parser:
    """The parser of format `kind`, mapping with `mapping` (default: the kind's defaults)."""
    return _PARSERS[kind](mapping or default_map(kind))


FORMATS: dict[str, Parser] = {kind: backfill_parser(kind) for kind in _PARSERS}


def counts_json(counts: WriteCounts, kind: str) -> dict[str, int]:
    """The counts a summary of records of `kind` reports; they add up to the records read.
    CloudEvents: accepted, duplicate, rejected. Other kinds also say how many events the
    records made; those kept only as events (not spans) also how many no rule matched."""
    out = {"accepted": counts.accepted}
    if kind in RECORD_NOUNS:
        out["events"] = counts.events
    out.update(duplicate=counts.duplicate, rejected=counts.rejected)
    if kind in RECORD_NOUNS and kind != "otlp":
        out["skipped"] = counts.skipped
    return out


def summary(counts: WriteCounts, kind: str) -> str:
    """One line for `baton ingest` and `baton collect --once`, e.g. `accepted 3, duplicate 0,
    rejected 0` (CloudEvents), `accepted 15 spans, 0 events, duplicate 0, rejected 0` or
    `accepted 9 entries, 9 events, duplicate 0, rejected 1, skipped 2 (no rule)`."""
    noun = RECORD_NOUNS.get(kind)
    labels = {"accepted": f"accepted {{}} {noun}" if noun else "accepted {}",
              "events": "{} events", "skipped": "skipped {} (no rule)"}
    return ", ".join(labels.get(name, name + " {}").format(value)
                     for name, value in counts_json(counts, kind).items())
