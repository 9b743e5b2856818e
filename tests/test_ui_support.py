"""Shared by the dashboard tests: a populated store (real sample journeys, ingested through the
real pipeline, evaluated by the real engine) and an AppTest of `app/ui.py` pointed at it.

Kept in a test module (imported by the other `test_ui_*` modules) because the dashboard's tests
own no conftest.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, text
from streamlit.testing.v1 import AppTest

from app.auth import add_user
from app.commands import ingest_file
from collectors.sample import generate
from collectors.schema import format_time, parse_time, to_us
from collectors.store import Store
from slas.definitions import load_folder
from slas.engine import evaluate

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "BATON_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
DATABASES = os.environ.get("BATON_TEST_DATABASES", "sqlite,postgresql").split(",")
HOUR_US = 3600 * 1_000_000
PASSWORD = "correct horse battery"
ANCHOR = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def populate(store: Store, config: Path, leads: int = 300, days: float = 7.0) -> int:
    """Sample journeys ending now (one bad line among them), evaluated every 6 hours over the
    week and every 15 minutes over the last 2 hours. Returns the last evaluation time.

    The journeys are generated for a fixed week (ending on a Wednesday afternoon, `ANCHOR`) and
    shifted to end now, so what they hold (business hours, incidents, breaches) does not depend
    on the day or the minute the tests run."""
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    shift = to_us(end) - to_us(ANCHOR)
    # product activations (the freshness SLA) for the last day only: they are most of the
    # records, and PostgreSQL ingests them slowly
    records = [*generate(leads, end=ANCHOR, days=days, seed=7, activations=False),
               *generate(0, end=ANCHOR, days=1, seed=7)]
    for record in records:
        record["time"] = format_time(parse_time(record["time"]) + shift)
    lines = [orjson.dumps(e) for e in records]
    lines.insert(5, b'{"specversion": "1.0", "id": "broken"}')
    payload = b"\n".join(lines) + b"\n"
    ingest_file(store, io.BytesIO(payload), "sample.jsonl", len(payload), "cloudevents",
                "sample")
    definitions = load_folder(config)
    end_us = to_us(end)
    times = sorted({end_us - h * HOUR_US for h in range(0, int(days * 24), 6)}
                   | {end_us - m * 15 * 60 * 1_000_000 for m in range(9)})
    for at in times:
        evaluate(store, definitions, at)
    return end_us


def copy_config(folder: Path) -> Path:
    target = folder / "config"
    shutil.copytree(ROOT / "config", target)
    return target


@pytest.fixture(scope="session", params=DATABASES)
def populated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[str, Path]]:
    """(store URL, config folder) of one populated store per database, shared by the session."""
    folder = tmp_path_factory.mktemp(f"populated-{request.param}")
    config = copy_config(folder)
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'baton.db'}"
        store = Store.open(url)
        populate(store, config)
        store.close()
        yield url, config
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    store = Store.open(url)
    populate(store, config)
    store.close()
    try:
        yield url, config
    finally:
        from app import data

        data._store.clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def app_test(monkeypatch: pytest.MonkeyPatch, url: str, config: Path, users: Path
             ) -> AppTest:
    """An AppTest of the router, reading `url` and `config`, with `users` as users file."""
    monkeypatch.setenv("BATON_STORE_URL", url)
    monkeypatch.setenv("BATON_CONFIG", str(config))
    monkeypatch.setenv("BATON_USERS_FILE", str(users))
    return AppTest.from_file(str(ROOT / "app" / "ui.py"), default_timeout=60)


def sign_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    at.run()
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click()
    return at.run()


def make_users(path: Path) -> Path:
    add_user(path, "erin", "editor", PASSWORD, rounds=4)
    add_user(path, "victor", "viewer", PASSWORD, rounds=4)
    return path


def texts(at: AppTest) -> str:
    """Every piece of text the page shows, as one string (for `in` checks)."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                 "error", "success", "metric", "code", "text"):
        for element in getattr(at, kind):
            parts.append(str(getattr(element, "value", "")))
            parts.append(str(getattr(element, "label", "")))
    return "\n".join(parts)
