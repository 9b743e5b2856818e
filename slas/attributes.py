"""Journey attributes in SQL: the JSON text of `data.<name>` of an event, and whether a
journey's attribute (its latest value, at or before T) is one of the wanted values. The two
dialects differ here only.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from sqlalchemy import Text, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from collectors.store import Store
from collectors.tables import events, journey_attrs


def attribute_value(store: Store, attr: str) -> ColumnElement[str]:
    """SQL for the JSON text of `data.<attr>` (NULL when absent), on either dialect, for any
    key: PostgreSQL takes the key as a parameter; SQLite's JSON path quotes it."""
    if store.dialect != "sqlite":
        return cast(cast(events.c.data, JSONB).op("->")(literal(attr)), Text)
    if not _PATH_UNSAFE.search(attr):
        return events.c.data.op("->")(literal('$."' + attr + '"'))
    # SQLite's path syntax has no escape for `"` (3.40 ends the label at it) and reads
    # backslashes in keys differently across versions: match the decoded key instead
    item = func.json_each(events.c.data).table_valued("key", "type", "value").alias("item")
    text = case((item.c.type.in_(["true", "false", "null"]), item.c.type),
                else_=func.json_quote(item.c.value))
    return select(text).where(item.c.key == attr).scalar_subquery()


_PATH_UNSAFE = re.compile(r'["\\\x00-\x1f]')


def where_matches(dialect: str, journey: str, jkey: ColumnElement[str], name: str,
                  wanted: object, at_us: int | None) -> ColumnElement[bool]:
    """The attribute's latest value (at or before T, when given; ties: source, then id) is
    one of the wanted values."""
    a = journey_attrs.alias("a")
    source: Any = a.c.source
    event_id: Any = a.c.event_id
    if dialect == "postgresql":
        source, event_id = source.collate("C"), event_id.collate("C")
    latest = select(a.c.value).where(a.c.journey == journey, a.c.jkey == jkey,
                                     a.c.name == name)
    if at_us is not None:
        latest = latest.where(a.c.time_us <= at_us)
    latest = latest.order_by(a.c.time_us.desc(), source.desc(), event_id.desc()).limit(1)
    values = wanted if isinstance(wanted, list) else [wanted]
    return latest.scalar_subquery().in_([orjson.dumps(v).decode() for v in values])
