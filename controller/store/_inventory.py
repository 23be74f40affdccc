"""Inventory snapshots: everything one refresh of one source saw, keyed by stable ids.

A snapshot is written in one transaction, so readers see the previous snapshot or the new one, never half of one.
Saving is idempotent per job: a refresh step that runs again after a crash finds the snapshot its first run wrote.
Only the newest few snapshots per source are kept; readers use the newest.

Objects are ``(kind, key, name, parent_key, details)``. ``key`` is the stable id (VM instance UUID, disk backing
UUID, datastore URL, ARM id) and ``details`` a JSON object whose fields per kind are documented in
``controller.inventory``. This is a read model of what the sources said; workflow state lives in its own tables.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from controller.store._database import Database
from controller.store._models import InventoryObject, InventorySnapshot
from controller.store.errors import StoreError

__all__ = ["InventoryItem", "InventoryStore", "SnapshotRow", "SourcedItem"]


@dataclass(frozen=True)
class InventoryItem:
    kind: str
    key: str
    name: str
    parent_key: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class SnapshotRow:
    id: int
    source_kind: str
    source_name: str
    job_id: int | None
    taken_at: dt.datetime
    counts: dict[str, int]


@dataclass(frozen=True)
class SourcedItem:
    source_kind: str
    source_name: str
    item: InventoryItem


class InventoryStore:
    def __init__(self, database: Database, *, keep: int = 3) -> None:
        self._db = database
        self._keep = keep

    def save(
        self,
        *,
        source_kind: str,
        source_name: str,
        items: Iterable[InventoryItem],
        job_id: int | None,
        taken_at: dt.datetime,
    ) -> SnapshotRow:
        """Store a snapshot and prune old ones; with ``job_id``, a second call returns the first call's snapshot."""
        objects = list(items)
        keys = Counter((item.kind, item.key) for item in objects)
        repeated = [f"{kind} {key}" for (kind, key), count in keys.items() if count > 1]
        if repeated:
            raise StoreError(
                f"the inventory of {source_kind} {source_name} lists {repeated[0]} more than once",
                remedy="this is a bug in the adapter: report it with the controller log",
            )
        with self._db.session() as session:
            if job_id is not None:
                existing = session.scalar(select(InventorySnapshot).where(InventorySnapshot.job_id == job_id))
                if existing is not None:
                    return _snapshot(existing)
            snapshot = InventorySnapshot(
                source_kind=source_kind,
                source_name=source_name,
                job_id=job_id,
                taken_at=taken_at,
                counts=dict(sorted(Counter(item.kind for item in objects).items())),
            )
            session.add(snapshot)
            session.flush()
            session.add_all(
                InventoryObject(
                    snapshot_id=snapshot.id,
                    kind=item.kind,
                    key=item.key,
                    name=item.name[:255],
                    parent_key=item.parent_key,
                    details=item.details or {},
                )
                for item in objects
            )
            session.flush()
            self._prune(session, source_kind, source_name)
            return _snapshot(snapshot)

    def _prune(self, session: Session, source_kind: str, source_name: str) -> None:
        kept = select(InventorySnapshot.id).where(
            InventorySnapshot.source_kind == source_kind, InventorySnapshot.source_name == source_name
        )
        newest = list(session.scalars(kept.order_by(InventorySnapshot.id.desc()).limit(self._keep)))
        if len(newest) == self._keep:
            old = kept.where(InventorySnapshot.id < newest[-1])
            session.execute(delete(InventoryObject).where(InventoryObject.snapshot_id.in_(old)))
            session.execute(delete(InventorySnapshot).where(InventorySnapshot.id.in_(old)))

    def for_job(self, job_id: int) -> SnapshotRow | None:
        """The snapshot a refresh job stored, if it got that far."""
        with self._db.session() as session:
            row = session.scalar(select(InventorySnapshot).where(InventorySnapshot.job_id == job_id))
            return _snapshot(row) if row is not None else None

    def latest(self, source_kind: str, source_name: str) -> SnapshotRow | None:
        with self._db.session() as session:
            row = session.scalar(
                select(InventorySnapshot)
                .where(InventorySnapshot.source_kind == source_kind, InventorySnapshot.source_name == source_name)
                .order_by(InventorySnapshot.id.desc())
                .limit(1)
            )
            return _snapshot(row) if row is not None else None

    def items(
        self, kinds: Iterable[str], *, source_kind: str | None = None, source_name: str | None = None
    ) -> list[SourcedItem]:
        """Objects of ``kinds`` from the newest snapshot of every source (or of one), ordered by source and name."""
        newest = select(func.max(InventorySnapshot.id)).group_by(
            InventorySnapshot.source_kind, InventorySnapshot.source_name
        )
        query = (
            select(InventoryObject, InventorySnapshot.source_kind, InventorySnapshot.source_name)
            .join(InventorySnapshot, InventorySnapshot.id == InventoryObject.snapshot_id)
            .where(InventoryObject.snapshot_id.in_(newest), InventoryObject.kind.in_(list(kinds)))
            .order_by(InventorySnapshot.source_name, InventoryObject.kind, InventoryObject.name, InventoryObject.key)
        )
        if source_kind is not None:
            query = query.where(InventorySnapshot.source_kind == source_kind)
        if source_name is not None:
            query = query.where(InventorySnapshot.source_name == source_name)
        with self._db.session() as session:
            return [SourcedItem(kind, name, _item(row)) for row, kind, name in session.execute(query)]


def _item(row: InventoryObject) -> InventoryItem:
    return InventoryItem(row.kind, row.key, row.name, row.parent_key, dict(row.details))


def _snapshot(row: InventorySnapshot) -> SnapshotRow:
    return SnapshotRow(row.id, row.source_kind, row.source_name, row.job_id, row.taken_at, dict(row.counts))
