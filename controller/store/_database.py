from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from controller.store.errors import DatabaseUnavailable

__all__ = ["Database"]

_MIGRATIONS = Path(__file__).with_name("migrations")


class Database:
    """An engine plus sessions. ``Database.open(url)`` migrates the schema to the newest revision."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Database:
        engine = _create_engine(url)
        database = cls(engine)
        if migrate:
            database.migrate()
        return database

    @classmethod
    def sqlite_in(cls, state_dir: Path) -> str:
        return f"sqlite:///{state_dir / 'controller.db'}"

    def migrate(self, revision: str = "head", *, connection: Connection | None = None) -> None:
        """Upgrade the schema to ``revision``, in ``connection``'s transaction when one is given."""
        config = _alembic_config()
        if connection is not None:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            return
        with self.engine.begin() as own:
            config.attributes["connection"] = own
            command.upgrade(config, revision)

    def revision(self) -> str | None:
        """The schema revision the database is at (None when it was never migrated)."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def knows_revision(revision: str) -> bool:
        """Whether this version of failback has the migration ``revision`` (a backup may come from a newer one)."""
        try:
            return ScriptDirectory.from_config(_alembic_config()).get_revision(revision) is not None
        except CommandError:
            return False

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends normally, rolled back otherwise."""
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as exc:
            raise DatabaseUnavailable(f"the database did not answer: {exc.orig}") from exc

    def close(self) -> None:
        self.engine.dispose()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def _create_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # pysqlite would open transactions itself, lazily and only before writes: a transaction that read first could
    # then fail to upgrade to a writer (SQLITE_BUSY_SNAPSHOT, which the busy timeout does not wait out). SQLAlchemy
    # emits the BEGIN instead (below).
    connection.isolation_level = None
    cursor = connection.cursor()
    # WAL lets readers (CLI listings) run beside the writer; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Every transaction takes the write lock at its start (waiting up to the busy timeout): SQLite transactions
    are then serializable, reads included, and never fail half-way for lock reasons. Writers are serialised by
    SQLite anyway; readers wait at most for one short write transaction."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")
