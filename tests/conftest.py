"""Shared fixtures: a real store on SQLite (in tmp_path) and on PostgreSQL (a schema per test).

`store` is parametrised over both databases, so every store test runs twice. PostgreSQL is
reached at $BATON_TEST_POSTGRES_URL (default postgresql+psycopg://root@127.0.0.1:5432/test);
`.ci/run` makes sure it is up. Set BATON_TEST_DATABASES=sqlite to run on SQLite alone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.sink import Sink
from peers import Alertmanager, running_alertmanager
from sqlalchemy import create_engine, text

from collectors.store import Store

POSTGRES_URL = os.environ.get(
    "BATON_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
DATABASES = os.environ.get("BATON_TEST_DATABASES", "sqlite,postgresql").split(",")


def _sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'baton.db'}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return _sqlite_url(tmp_path)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections live in a fresh, empty PostgreSQL schema."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=DATABASES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return _sqlite_url(tmp_path)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    yield opened
    opened.close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A recording HTTP server on 127.0.0.1 (tests/fakes/sink.py)."""
    with Sink() as running:
        yield running


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    """Debian's prometheus-alertmanager on a free loopback port (tests/peers.py)."""
    with running_alertmanager(tmp_path / "alertmanager") as peer:
        yield peer
