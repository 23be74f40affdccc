"""Protected items, failback groups and failback plans: the workflows' state.

An item's ``state`` moves only by conditional updates. :meth:`ProtectionStore.claim` takes every item of a workflow
in one transaction — each ``UPDATE ... WHERE key = ? AND state IN (...) AND (no holder, or a finished holder)`` —
and refuses them all if one does not match, so a second concurrent failover of an item fails here, before any
work. Only the job holding an item may record on it or release it. This module knows state names, not their
meaning: which workflow starts from which state is the workflows' business.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from controller.store._conditional import changed
from controller.store._database import Database
from controller.store._models import FailbackGroup, FailbackPlan, Job, ProtectedItemRow
from controller.store.errors import NotFound, TransitionRefused

__all__ = ["GroupRow", "ItemClaim", "ItemRow", "PlanRow", "ProtectionStore"]


@dataclass(frozen=True)
class ItemRow:
    key: str
    vault: str
    name: str
    group_name: str | None
    state: str
    job_id: int | None
    asr: dict[str, Any]
    record: dict[str, Any]
    rollback_until: dt.datetime | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class GroupRow:
    name: str
    vault: str
    protection_group: str
    protection_group_name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class PlanRow:
    name: str
    source: str
    vault: str
    document: dict[str, Any]
    updated_at: dt.datetime


@dataclass(frozen=True)
class ItemClaim:
    """What a workflow asks of its items: they are in one of ``starts_from`` (or already ``during``)."""

    workflow: str
    starts_from: frozenset[str]
    during: str


def _item(row: ProtectedItemRow) -> ItemRow:
    return ItemRow(
        row.key,
        row.vault,
        row.name,
        row.group_name,
        row.state,
        row.job_id,
        dict(row.asr),
        dict(row.record),
        row.rollback_until,
        row.updated_at,
    )


class ProtectionStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    # Import

    def import_items(
        self,
        vault: str,
        items: Iterable[tuple[str, str, str | None, str, dict[str, Any]]],
        *,
        settled: frozenset[str],
        now: dt.datetime,
    ) -> int:
        """Record what a vault import saw: ``(key, name, group, state, asr)`` per item.

        New items are inserted in ``state``. Existing ones get the new ``asr`` facts; their state follows the
        vault's only while no workflow has them (state in ``settled`` and no holder), so an import never disturbs a
        failback in progress. Returns how many items were inserted.
        """
        inserted = 0
        with self._db.session() as session:
            for key, name, group, state, asr in items:
                row = session.get(ProtectedItemRow, key)
                if row is None:
                    session.add(
                        ProtectedItemRow(
                            key=key,
                            vault=vault,
                            name=name,
                            group_name=group,
                            state=state,
                            job_id=None,
                            asr=asr,
                            record={},
                            rollback_until=None,
                            updated_at=now,
                        )
                    )
                    inserted += 1
                    continue
                row.asr, row.name, row.updated_at = asr, name, now
                if row.job_id is None and row.state in settled:
                    row.state, row.group_name = state, group
        return inserted

    def save_group(self, name: str, vault: str, protection_group: str, display: str, now: dt.datetime) -> None:
        with self._db.session() as session:
            if session.get(FailbackGroup, name) is None:
                session.add(
                    FailbackGroup(
                        name=name,
                        vault=vault,
                        protection_group=protection_group,
                        protection_group_name=display,
                        created_at=now,
                    )
                )

    def groups(self, vault: str | None = None) -> list[GroupRow]:
        with self._db.session() as session:
            query = select(FailbackGroup).order_by(FailbackGroup.name)
            if vault is not None:
                query = query.where(FailbackGroup.vault == vault)
            groups = list(session.scalars(query))
            members: dict[str, list[str]] = {}
            for key, group in session.execute(select(ProtectedItemRow.key, ProtectedItemRow.group_name)):
                if group is not None:
                    members.setdefault(group, []).append(key)
            return [
                GroupRow(
                    g.name, g.vault, g.protection_group, g.protection_group_name, tuple(sorted(members.get(g.name, ())))
                )
                for g in groups
            ]

    # Plans

    def save_plan(self, name: str, *, source: str, vault: str, document: dict[str, Any], now: dt.datetime) -> PlanRow:
        with self._db.session() as session:
            row = session.get(FailbackPlan, name)
            if row is None:
                row = FailbackPlan(
                    name=name, source=source, vault=vault, document=document, created_at=now, updated_at=now
                )
                session.add(row)
            elif row.source == "file" and source == "vault":
                # A plan written by an operator wins over the vault's plan of the same name.
                return PlanRow(row.name, row.source, row.vault, dict(row.document), row.updated_at)
            else:
                row.source, row.vault, row.document, row.updated_at = source, vault, document, now
            return PlanRow(row.name, row.source, row.vault, dict(document), now)

    def plan(self, name: str) -> PlanRow:
        with self._db.session() as session:
            row = session.get(FailbackPlan, name)
            if row is None:
                raise NotFound(f"no failback plan named {name!r}", remedy="see 'failbackctl plan list'")
            return PlanRow(row.name, row.source, row.vault, dict(row.document), row.updated_at)

    def plans(self) -> list[PlanRow]:
        with self._db.session() as session:
            return [
                PlanRow(r.name, r.source, r.vault, dict(r.document), r.updated_at)
                for r in session.scalars(select(FailbackPlan).order_by(FailbackPlan.name))
            ]

    # Items

    def items(self, *, vault: str | None = None, keys: Sequence[str] | None = None) -> list[ItemRow]:
        with self._db.session() as session:
            query = select(ProtectedItemRow).order_by(ProtectedItemRow.vault, ProtectedItemRow.name)
            if vault is not None:
                query = query.where(ProtectedItemRow.vault == vault)
            if keys is not None:
                query = query.where(ProtectedItemRow.key.in_(list(keys)))
            return [_item(row) for row in session.scalars(query)]

    def item(self, key: str) -> ItemRow:
        with self._db.session() as session:
            row = session.get(ProtectedItemRow, key)
            if row is None:
                raise NotFound(f"failback does not know the item {key}", remedy="import the vault again")
            return _item(row)

    def claim(self, keys: Sequence[str], claim: ItemClaim, *, job_id: int, now: dt.datetime) -> list[ItemRow]:
        """Move every item to ``claim.during``, held by ``job_id``, or none of them.

        Idempotent for the holder: a job claiming again (after a crash) finds its items already held.
        """
        if not keys:
            raise TransitionRefused(f"{claim.workflow}: no items to work on")
        finished = select(Job.id).where(Job.finished_at.is_not(None))
        with self._db.session() as session:
            for key in keys:
                won = changed(
                    session,
                    update(ProtectedItemRow)
                    .where(
                        ProtectedItemRow.key == key,
                        or_(
                            and_(ProtectedItemRow.job_id == job_id, ProtectedItemRow.state == claim.during),
                            and_(
                                ProtectedItemRow.state.in_(sorted(claim.starts_from | {claim.during})),
                                or_(ProtectedItemRow.job_id.is_(None), ProtectedItemRow.job_id.in_(finished)),
                            ),
                        ),
                    )
                    .values(state=claim.during, job_id=job_id, updated_at=now),
                )
                if not won:
                    raise _refusal(session, key, claim)
            return [
                _item(row) for row in session.scalars(select(ProtectedItemRow).where(ProtectedItemRow.key.in_(keys)))
            ]

    def refuse_held(self, keys: Sequence[str], claim: ItemClaim, held: frozenset[str]) -> None:
        """Raise the claim's :class:`TransitionRefused` for the first item no job holds that is in one of ``held``
        (states an operator puts an item in outside any workflow); change nothing."""
        with self._db.session() as session:
            for key in keys:
                row = session.get(ProtectedItemRow, key)
                if row is None or (row.job_id is None and row.state in held):
                    raise _refusal(session, key, claim)

    def move(self, key: str, *, expected: frozenset[str], state: str, now: dt.datetime) -> ItemRow:
        """Move an item no job holds from one of ``expected`` to ``state`` (an operator's action outside any
        workflow), or raise :class:`TransitionRefused` (naming the job that holds it) and change nothing."""
        finished = select(Job.id).where(Job.finished_at.is_not(None))
        with self._db.session() as session:
            won = changed(
                session,
                update(ProtectedItemRow)
                .where(
                    ProtectedItemRow.key == key,
                    ProtectedItemRow.state.in_(sorted(expected)),
                    or_(ProtectedItemRow.job_id.is_(None), ProtectedItemRow.job_id.in_(finished)),
                )
                .values(state=state, job_id=None, updated_at=now),
            )
            if not won:
                raise _refusal(session, key, ItemClaim(state, expected, state))
            row = session.get(ProtectedItemRow, key)
            assert row is not None  # the update above matched it
            return _item(row)

    def record(self, key: str, *, job_id: int, record: dict[str, Any], now: dt.datetime) -> None:
        """Replace what the workflows recorded on the item; only its holder may."""
        with self._db.session() as session:
            won = changed(
                session,
                update(ProtectedItemRow)
                .where(ProtectedItemRow.key == key, ProtectedItemRow.job_id == job_id)
                .values(record=record, updated_at=now),
            )
            if not won:
                raise TransitionRefused(f"job {job_id} no longer holds item {key}")

    def release(
        self,
        keys: Sequence[str],
        *,
        job_id: int,
        during: str,
        state: str,
        now: dt.datetime,
        rollback_until: dt.datetime | None = None,
    ) -> None:
        """End the workflow on the items: ``state``, no holder. Idempotent: items already released are left alone."""
        with self._db.session() as session:
            session.execute(
                update(ProtectedItemRow)
                .where(
                    ProtectedItemRow.key.in_(list(keys)),
                    ProtectedItemRow.job_id == job_id,
                    ProtectedItemRow.state == during,
                )
                .values(state=state, job_id=None, rollback_until=rollback_until, updated_at=now)
            )


def _refusal(session: Session, key: str, claim: ItemClaim) -> NotFound | TransitionRefused:
    row = session.get(ProtectedItemRow, key)
    if row is None:
        return NotFound(f"failback does not know the item {key}", remedy="import the vault again")
    if row.job_id is not None:
        holder = session.get(Job, row.job_id)
        if holder is not None and holder.finished_at is None:
            return TransitionRefused(
                f"{claim.workflow} of {row.name} refused: job {holder.id} ({holder.type}) is working on it",
                remedy=f"wait for job {holder.id} to finish, or cancel it",
            )
    return TransitionRefused(
        f"{claim.workflow} of {row.name} refused: it is {row.state}, and {claim.workflow} starts from "
        f"{', '.join(sorted(claim.starts_from))}",
        remedy="see 'failbackctl items' for where each item stands",
    )
