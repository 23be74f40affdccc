"""The controller's whole state as one archive, and putting it back on another machine.

The archive is zstd-compressed JSON::

    {"format": "failback-controller-backup", "version": 1, "created_at": RFC 3339, "controller_name": str,
     "failback_version": str, "schema_revision": str,
     "files": {"ca/ca.pem": base64, "ca/ca.key": base64, "secrets.key": base64},
     "tables": {table: {"columns": [name], "rows": [[value]]}}}

It holds the CA key and the credential key in the clear: it exists only in the controller's memory and, encrypted
with the operator's passphrase, in the backup file. Not included, on purpose: the controller's own TLS certificate
(re-issued for the new host at start), its replica id (a restored controller is a new replica) and job leases (the
replicas that held them are gone; the restored controller resumes the jobs).

Tables are read in one snapshot (REPEATABLE READ on PostgreSQL, one serializable transaction on SQLite), so jobs
and their steps agree. A restore runs in one transaction: it migrates an empty database to the archive's schema
revision, inserts the rows, then migrates to this version's newest revision — so a backup restores into a newer
failback.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard
from sqlalchemy import Column, Connection, Integer, LargeBinary, inspect, select, table, text

from controller.backup.errors import NotABackup
from controller.secrets import KEY_FILE
from controller.store import Database, JobStore, RestoreRefused
from controller.store._models import Base, UtcDateTime
from failback import __version__
from failback.pki import write_private, write_public

__all__ = ["FILES", "RestoreSummary", "export_state", "restore_state"]

FORMAT = "failback-controller-backup"
VERSION = 1
# Paths under the state directory, and whether they are secret (written 0600).
FILES = {"ca/ca.pem": False, "ca/ca.key": True, KEY_FILE: True}
_MAX_ARCHIVE = 4 << 30


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _decoder(column: Column[Any]) -> Any:
    if isinstance(column.type, UtcDateTime):
        return lambda value: None if value is None else dt.datetime.fromisoformat(value)
    if isinstance(column.type, LargeBinary):
        return lambda value: None if value is None else base64.b64decode(value)
    return lambda value: value


def _snapshot_connection(database: Database) -> Connection:
    """A connection whose reads all see one snapshot of the database (SQLite transactions are serializable here)."""
    connection = database.engine.connect()
    if database.engine.dialect.name != "sqlite":
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    connection.begin()
    return connection


def export_state(database: Database, state_dir: Path, *, controller_name: str, now: dt.datetime | None = None) -> bytes:
    tables: dict[str, dict[str, Any]] = {}
    connection = _snapshot_connection(database)
    try:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        for model in Base.metadata.sorted_tables:
            columns = [column.name for column in model.columns]
            rows = connection.execute(select(*model.columns).order_by(*model.primary_key.columns)).all()
            tables[model.name] = {"columns": columns, "rows": [[_encode(value) for value in row] for row in rows]}
    finally:
        connection.close()
    files = {}
    for name in FILES:
        path = state_dir / name
        if path.exists():
            files[name] = base64.b64encode(path.read_bytes()).decode()
    document = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": (now or _utcnow()).isoformat(),
        "controller_name": controller_name,
        "failback_version": __version__,
        "schema_revision": revision,
        "files": files,
        "tables": tables,
    }
    return zstandard.ZstdCompressor(level=3).compress(json.dumps(document).encode())


@dataclass(frozen=True)
class RestoreSummary:
    controller_name: str
    created_at: str
    schema_revision: str
    rows: dict[str, int]
    files: tuple[str, ...]


def read_archive(archive: bytes) -> dict[str, Any]:
    try:
        document = json.loads(zstandard.ZstdDecompressor().decompress(archive, max_output_size=_MAX_ARCHIVE))
    except (zstandard.ZstdError, ValueError) as exc:
        raise NotABackup("the backup's content is damaged", remedy="use another copy of the backup") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise NotABackup("this file is not a failback controller backup")
    if document.get("version") != VERSION:
        raise NotABackup(
            f"this backup has format version {document.get('version')}; this failback reads version {VERSION}",
            remedy="restore it with the failback version that wrote it",
        )
    return document


def restore_state(archive: bytes, *, database: Database, state_dir: Path, controller_name: str) -> RestoreSummary:
    """Put the archive's state into an empty database and an empty state directory."""
    document = read_archive(archive)
    revision = document["schema_revision"]
    if document["controller_name"] != controller_name:
        raise RestoreRefused(
            f"the backup is of the controller named {document['controller_name']!r}, the configuration names "
            f"{controller_name!r}",
            remedy=f'set name = "{document["controller_name"]}" under [controller]: agents verify the controller by '
            "that name",
        )
    if not Database.knows_revision(revision):
        raise RestoreRefused(
            f"the backup was written by a newer failback (schema {revision}, failback "
            f"{document.get('failback_version')})",
            remedy="restore it with that version or a newer one",
        )
    taken = [name for name in FILES if (state_dir / name).exists()]
    if taken:
        raise RestoreRefused(
            f"{state_dir} already holds a controller's state ({', '.join(taken)})",
            remedy="restore into a new, empty state directory (and an empty database)",
        )
    existing = [name for name in inspect(database.engine).get_table_names() if name != "alembic_version"]
    if existing:
        raise RestoreRefused(
            f"the database already has tables ({', '.join(sorted(existing)[:3])}...)",
            remedy="restore into an empty database: a new SQLite state directory, or a new PostgreSQL database",
        )
    rows = _restore_tables(database, document["tables"], revision)
    JobStore(database).clear_leases()
    for name, secret in FILES.items():
        if name in document["files"]:
            data = base64.b64decode(document["files"][name])
            (write_private if secret else write_public)(state_dir / name, data)
    return RestoreSummary(
        controller_name=controller_name,
        created_at=document["created_at"],
        schema_revision=revision,
        rows=rows,
        files=tuple(sorted(document["files"])),
    )


def _restore_tables(database: Database, tables: dict[str, Any], revision: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    with database.engine.begin() as connection:
        database.migrate(revision, connection=connection)
        for model in Base.metadata.sorted_tables:
            saved = tables.get(model.name)
            if saved is None:
                continue
            names = saved["columns"]
            columns = [model.columns[name] for name in names]
            decoders = [_decoder(column) for column in columns]
            target = table(
                model.name, *(Column(name, column.type) for name, column in zip(names, columns, strict=True))
            )
            values = [
                {name: decode(value) for name, decode, value in zip(names, decoders, row, strict=True)}
                for row in saved["rows"]
            ]
            if values:
                connection.execute(target.insert(), values)
            counts[model.name] = len(values)
        if connection.dialect.name == "postgresql":
            _advance_sequences(connection)
        database.migrate("head", connection=connection)
    return counts


def _advance_sequences(connection: Connection) -> None:
    """Rows were inserted with their ids: move each serial sequence past them, or the next job would collide."""
    for model in Base.metadata.sorted_tables:
        keys = list(model.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        name, column = model.name, keys[0].name
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', '{column}'), "  # noqa: S608 - names from our models
                f"COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {name}"
            )
        )
