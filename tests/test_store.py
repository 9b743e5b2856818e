"""The metrics store on SQLite and PostgreSQL: migrations, idempotent writes, cursors."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from collectors.errors import StoreUnavailable
from collectors.schema import parse_event
from collectors.store import Reject, Store
from collectors.tables import events, metadata, rejects

RECEIVED = 1_767_225_600_000_000


def event(n: int, source: str = "urn:test", **extra: object):
    body = {"specversion": "1.0", "id": f"e-{n}", "source": source, "type": "t.x",
            "time": f"2026-01-01T12:00:{n % 60:02d}Z", "correlationid": f"L-{n}", **extra}
    return parse_event(body, RECEIVED)


def stored_ids(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(events.c.source, events.c.event_id).order_by(events.c.seq))
        return [tuple(r) for r in rows]


def test_the_schema_is_created_on_first_use_and_matches_the_tables(store: Store):
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_opening_a_current_store_again_changes_nothing(store_url: str):
    Store.open(store_url).close()
    again = Store.open(store_url)
    assert again.count(events) == 0
    again.close()


def test_the_same_event_written_twice_is_stored_once(store: Store):
    first = store.write_events([event(1), event(2)])
    second = store.write_events([event(2), event(3)])
    assert (first.accepted, first.duplicate) == (2, 0)
    assert (second.accepted, second.duplicate) == (1, 1)
    assert stored_ids(store) == [("urn:test", "e-1"), ("urn:test", "e-2"), ("urn:test", "e-3")]


def test_duplicates_inside_one_batch_are_counted_once(store: Store):
    counts = store.write_events([event(1), event(1), event(1, source="urn:other")])
    assert (counts.accepted, counts.duplicate) == (2, 1)
    assert sorted(stored_ids(store)) == [("urn:other", "e-1"), ("urn:test", "e-1")]


def test_event_fields_are_stored_as_given(store: Store):
    store.write_events([event(7, tenant="acme", data={"qualified": True})])
    with store.engine.connect() as conn:
        row = conn.execute(select(events)).mappings().one()
    assert row["type"] == "t.x" and row["correlationid"] == "L-7"
    assert row["time_us"] == RECEIVED + 12 * 3600 * 10**6 + 7 * 10**6
    assert row["data"] == '{"qualified":true}' and row["extensions"] == '{"tenant":"acme"}'


def test_rejects_keep_the_raw_payload_and_reason(store: Store):
    store.write_rejects([Reject("file:x", "cloudevents", "x.jsonl:3", "bad", "{raw", RECEIVED)])
    with store.engine.connect() as conn:
        row = conn.execute(select(rejects)).mappings().one()
    assert (row["location"], row["reason"], row["raw"]) == ("x.jsonl:3", "bad", "{raw")


def test_a_cursor_is_saved_and_overwritten(store: Store):
    assert store.get_cursor("kong:offset") is None
    store.set_cursor("kong:offset", "10")
    store.set_cursor("kong:offset", "25")
    assert store.get_cursor("kong:offset") == "25"


@pytest.mark.parametrize(("url", "message"), [
    ("not a url", "is not a database URL"),
    ("mysql://root@127.0.0.1/test", "Baton stores in SQLite or PostgreSQL"),
    ("postgresql+psycopg://root@127.0.0.1:1/test", "cannot open the store"),
    ("sqlite:////proc/baton/x.db", "cannot create the folder"),
], ids=["garbage", "unsupported-database", "nothing-listening", "unwritable-folder"])
def test_a_store_that_cannot_be_opened_is_one_clear_error(url: str, message: str):
    with pytest.raises(StoreUnavailable, match=message):
        Store.open(url)
