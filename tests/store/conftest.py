"""The store runs against both engines: SQLite always, PostgreSQL when FAILBACK_TEST_PG_URL is set (CI sets it)."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from controller.store import Database
from tests.conftest import skip_or_fail


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database.open(Database.sqlite_in(tmp_path))
        yield db
        db.close()
        return
    base = os.environ.get("FAILBACK_TEST_PG_URL")
    if not base:
        skip_or_fail("set FAILBACK_TEST_PG_URL to a PostgreSQL database (scripts/test starts one)")
    # One throw-away schema-free database per test keeps tests independent.
    name = f"failback_{uuid.uuid4().hex[:12]}"
    url = make_url(base).set(drivername="postgresql+psycopg")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database.open(url.set(database=name).render_as_string(hide_password=False))
    yield db
    db.close()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
