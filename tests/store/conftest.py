"""The store runs against both engines: SQLite always, PostgreSQL when FAILBACK_TEST_PG_URL is set (CI sets it)."""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from controller.store import Database
from tests.conftest import skip_or_fail

MakeDatabase = Callable[..., Database]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def make_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeDatabase]:
    """Fresh databases of one engine: ``make_database()`` is migrated, ``make_database(migrate=False)`` empty."""
    opened: list[Database] = []
    created: list[str] = []
    base = os.environ.get("FAILBACK_TEST_PG_URL")
    if request.param == "postgresql" and not base:
        skip_or_fail("set FAILBACK_TEST_PG_URL to a PostgreSQL database (scripts/test starts one)")
    admin = (
        create_engine(make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        if request.param == "postgresql" and base
        else None
    )

    def make(*, migrate: bool = True) -> Database:
        if admin is None:
            directory = tmp_path / f"db-{len(opened)}"
            directory.mkdir()
            url = Database.sqlite_in(directory)
        else:
            # One throw-away database per use keeps tests independent.
            name = f"failback_{uuid.uuid4().hex[:12]}"
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            created.append(name)
            url = admin.url.set(database=name).render_as_string(hide_password=False)
        db = Database.open(url, migrate=migrate)
        opened.append(db)
        return db

    yield make
    for db in opened:
        db.close()
    if admin is not None:
        with admin.connect() as connection:
            for name in created:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database(make_database: MakeDatabase) -> Database:
    return make_database()
