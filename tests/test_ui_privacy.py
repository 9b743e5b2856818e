"""Personal data on the dashboard: an anonymous viewer or a viewer never sees an e-mail
address (or other personal field) held in a stored reject or event, anywhere on the Sources
and Journeys pages; an operator and an editor see the records as stored."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from streamlit.testing.v1 import AppTest
from test_ui_support import PASSWORD, app_test, copy_config, populate, sign_in

from app import data
from app.auth import add_user
from app.commands import ingest_file
from collectors.schema import format_time, to_us
from collectors.store import Store

ADDRESSES = ["ana.reject@example.org", "ana.reason@example.org", "ana.broken@example.org",
             "ana.event@example.org", "ana.subject@example.org", "ana.key@example.org",
             "ana.upload@example.org"]
ON_SOURCES = [0, 1, 2, 6]  # in rejects, and the name the file was ingested under
ON_JOURNEYS = [3, 4, 5]  # in a lead's events, and a lead keyed by an address
PHONE = "+44 20 7946 0958"
LEAD = "L-PRIVATE"


def private_records(now: datetime) -> bytes:
    """Rejects and events that carry personal data, as a file `baton ingest` reads."""
    at = format_time(to_us(now - timedelta(minutes=30)))
    lines = [
        orjson.dumps({"specversion": "1.0", "id": "r1", "source": "form", "time": at,
                      "data": {"email": ADDRESSES[0], "phone": PHONE, "firstname": "Ana"}}),
        orjson.dumps({"specversion": "1.0", "id": "r2", "source": "form", "type": "x",
                      "time": ADDRESSES[1]}),
        f'{{"specversion": "1.0", "email": "{ADDRESSES[2]}", "phone": "{PHONE}"'.encode(),
        orjson.dumps({"specversion": "1.0", "id": "e1", "source": "form", "time": at,
                      "type": "com.acme.lead.submitted", "correlationid": LEAD,
                      "subject": f"contacts/{ADDRESSES[4]}",
                      "data": {"email": ADDRESSES[3], "phone": PHONE, "qualified": True}}),
        orjson.dumps({"specversion": "1.0", "id": "e2", "source": "form", "time": at,
                      "type": "com.acme.lead.submitted", "correlationid": ADDRESSES[5]}),
    ]
    return b"\n".join(lines) + b"\n"


@pytest.fixture(scope="module")
def private_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A SQLite store of sample journeys plus the records above (the masking happens after
    the read, so one database shows it), and a users file with one user per role."""
    folder = tmp_path_factory.mktemp("private")
    config = copy_config(folder)
    url = f"sqlite:///{folder / 'baton.db'}"
    store = Store.open(url)
    payload = private_records(datetime.now(UTC).replace(second=0, microsecond=0))
    ingest_file(store, io.BytesIO(payload), "private.jsonl", len(payload), "cloudevents",
                f"uploads/{ADDRESSES[6]}.jsonl")
    populate(store, config, leads=20, days=1)
    store.close()
    users = folder / "users.yaml"
    for name, role in [("erin", "editor"), ("olga", "operator"), ("victor", "viewer")]:
        add_user(users, name, role, PASSWORD, rounds=4)
    yield url, config
    data._store.clear()


def everything(at: AppTest) -> str:
    """All the page sent to the browser: every element's message, and every table's cells."""
    parts = []
    for node in at._tree:
        parts.append(str(getattr(node, "proto", "")))
        if getattr(node, "type", "") in ("arrow_data_frame", "dataframe", "table"):
            parts.append(node.value.to_csv())
    return "\n".join(parts)


def open_as(monkeypatch, private_store, tmp_path, who: str | None, page: str) -> AppTest:
    url, config = private_store
    users = config.parent / "users.yaml" if who else tmp_path / "no-users.yaml"
    at = app_test(monkeypatch, url, config, users)
    if who:
        sign_in(at, who)
    else:
        at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sources_seen(at: AppTest) -> str:
    """The Sources page with the raw payload of every reject shown in turn."""
    seen = [everything(at)]
    picker = next(s for s in at.selectbox if s.label == "Show the raw payload of")
    for option in picker.options:
        picker.set_value(int(option.lstrip("#"))).run()
        seen.append(everything(at))
    return "\n".join(seen)


def journeys_seen(at: AppTest) -> str:
    """The Journeys page with the private lead's timeline and the e-mail-keyed lead open."""
    seen = [everything(at)]
    key_box = next(t for t in at.text_input if t.label == "Lead key")
    key_box.input(LEAD).run()
    seen.append(everything(at))
    stuck = at.dataframe[0]
    row = next((i for i, lead in enumerate(stuck.value["Lead"])
                if lead in (ADDRESSES[5], "[masked]")), None)
    assert row is not None, "the e-mail-keyed lead is listed as stuck"
    at.session_state["stuck"] = {"selection": {"rows": [row], "columns": []}}
    seen.append(everything(at.run()))
    return "\n".join(seen)


@pytest.mark.parametrize("who", [None, "victor"], ids=["anonymous", "viewer"])
@pytest.mark.parametrize("page", ["sources", "journeys"])
def test_a_viewer_never_sees_a_stored_email_address_or_phone_number(
        monkeypatch, private_store, tmp_path, who, page):
    at = open_as(monkeypatch, private_store, tmp_path, who, page)
    seen = sources_seen(at) if page == "sources" else journeys_seen(at)
    leaked = [a for a in [*ADDRESSES, PHONE] if a in seen]
    assert leaked == [] and "[masked]" in seen


@pytest.mark.parametrize("who", ["olga", "erin"], ids=["operator", "editor"])
def test_an_operator_and_an_editor_see_rejects_and_events_as_stored(
        monkeypatch, private_store, tmp_path, who):
    sources = sources_seen(open_as(monkeypatch, private_store, tmp_path, who, "sources"))
    assert all(ADDRESSES[i] in sources for i in ON_SOURCES) and PHONE in sources
    journeys = journeys_seen(open_as(monkeypatch, private_store, tmp_path, who, "journeys"))
    assert all(ADDRESSES[i] in journeys for i in ON_JOURNEYS) and "[masked]" not in journeys


def test_the_viewer_is_told_that_personal_fields_are_masked(monkeypatch, private_store,
                                                            tmp_path):
    at = open_as(monkeypatch, private_store, tmp_path, None, "sources")
    assert any("masked for the viewer role" in c.value for c in at.caption)
