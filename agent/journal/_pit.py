"""Point in time: hold the target disk at a recovery point, with a rollback window until commit or cancel.

Bringing the disk to a past point P is three durable phases, each announced by a FAILOVER catalog record (the intent)
before its work starts:

``saving``     the current content of every block written since P ("cancel images") goes to the ``rollback`` file,
               which is fsynced with its directory. The target is untouched: a crash here rolls back to the
               previous state (the intent is cleared).
``restoring``  for every block written since P, the first before-image after P is written to the target, then the
               target is fsynced. Every write is an absolute value, so a crash here rolls *forward*: recovery redoes
               the same writes and records ``done``.
``done``       the target is at P; :class:`~agent.journal.PairState` is AT_POINT and appends are refused.

``cancel`` records ``cancelling``, writes the cancel images back (idempotent, so a crash redoes them), fsyncs and
clears the intent: the target is at latest again and replication resumes. ``commit`` records ``committed`` and drops
the history. "Latest" is one catalog record: no history is read.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from agent.journal import _catalog as cat
from agent.journal._records import RecordLog
from agent.journal._types import (
    BLOCK_SIZE,
    AtTime,
    Latest,
    LatestApp,
    LatestGroup,
    PointId,
    PointKind,
    PointSelector,
    RecoveryPoint,
)
from agent.journal._undo import Extent
from agent.journal.errors import JournalFailed, PairNotReplicating, PointUnavailable

if TYPE_CHECKING:
    from agent.journal._engine import PairJournal

__all__ = ["PointInTime"]

MAGIC = b"FBRB"
_CHUNK = 8 << 20
_ALIGN = 4096  # rollback records are padded and written with O_DIRECT, like undo records

# Per undo group: (segment, offset, [(disk offset, offset in the group's data, blocks)])
Plan = list[tuple[int, int, list[tuple[int, int, int]]]]


class PointInTime:
    def __init__(self, engine: PairJournal) -> None:
        self.engine = engine
        self.rollback_path = os.path.join(engine.directory, "rollback")

    # -- recovery -----------------------------------------------------------------------------------------------------

    def recover(self) -> None:
        """Finish or undo whatever bring/cancel/commit was interrupted (called by open, before any apply)."""
        e = self.engine
        intent = e.state.failover
        if e.state.committed:
            self._drop_history()
            return
        if intent is None:
            self._unlink_rollback()
            return
        phase = intent["phase"]
        if phase == "saving":
            self._record(None)
            self._unlink_rollback()
        elif phase == "restoring":
            self._restore(self._plan(e.state.points[intent["point"]]))
            e.target.fsync()
            self._record({"phase": "done", "point": intent["point"]})
        elif phase == "cancelling":
            self._write_back()
            self._record(None)
            self._unlink_rollback()

    # -- operations ---------------------------------------------------------------------------------------------------

    def bring_to(self, selector: PointSelector) -> RecoveryPoint | None:
        e = self.engine
        with e._apply_lock:
            if e.state.committed:
                raise PairNotReplicating(f"pair {e.spec.pair_id} is committed; there is no history to go back to")
            if e.state.failover is not None:
                self._cancel()
            e.apply_pending()
            point = self._resolve(selector)
            try:
                if point is None:
                    if e.apply_state.in_resync:
                        raise PointUnavailable(
                            f"pair {e.spec.pair_id} is inside a resync window: latest is not consistent",
                            remedy="wait for the resync to complete, or choose a recovery point by id or time",
                        )
                    self._record({"phase": "done", "point": None, "seq": e.state.applied_seq})
                    return None
                plan = self._plan(point)
                self._record({"phase": "saving", "point": point.id})
                self._save(plan)
                self._record({"phase": "restoring", "point": point.id})
                self._restore(plan)
                e.target.fsync()
                self._record({"phase": "done", "point": point.id})
            except OSError as exc:
                raise e._fail(f"bringing the disk to a point failed: {exc}") from exc
            return RecoveryPoint(
                point.id,
                PointKind(point.kind),
                point.time,
                point.seq,
                point.tag,
                point.group,
                e.undo.bytes_after(point.undo),
            )

    def cancel(self) -> None:
        e = self.engine
        with e._apply_lock:
            if e.state.failover is None:
                return
            if e.state.committed:
                raise PairNotReplicating(f"pair {e.spec.pair_id} is committed; it cannot be cancelled")
            try:
                self._cancel()
            except OSError as exc:
                raise e._fail(f"returning the disk to latest failed: {exc}") from exc

    def _cancel(self) -> None:
        e = self.engine
        assert e.state.failover is not None
        if e.state.failover["point"] is not None:
            self._record({"phase": "cancelling", "point": e.state.failover["point"]})
            self._write_back()
        self._record(None)
        self._unlink_rollback()

    def commit(self) -> None:
        e = self.engine
        with e._apply_lock:
            if e.state.failover is None:
                raise PairNotReplicating(
                    f"pair {e.spec.pair_id} is not held at a point: nothing to commit",
                    remedy="bring_to() a point first",
                )
            if e._failed is not None:
                raise JournalFailed(f"pair {e.spec.pair_id}: {e._failed}")
            try:
                record = {"failover": dict(e.state.failover, phase="committed"), "committed": True}
                e.state.replay(cat.FAILOVER, record)
                e.catalog.record(cat.FAILOVER, record, e.state)
                self._drop_history()
            except OSError as exc:
                raise e._fail(f"committing the failover failed: {exc}") from exc

    # -- helpers ------------------------------------------------------------------------------------------------------

    def _record(self, intent: dict[str, Any] | None) -> None:
        e = self.engine
        record = {"failover": intent}
        e.state.replay(cat.FAILOVER, record)
        e.catalog.record(cat.FAILOVER, record, e.state)

    def _resolve(self, selector: PointSelector) -> cat.PointRecord | None:
        points = list(self.engine.state.points.values())
        if isinstance(selector, Latest):
            return None
        if isinstance(selector, PointId):
            found = self.engine.state.points.get(selector.id)
        elif isinstance(selector, LatestApp):
            found = next((p for p in reversed(points) if p.kind == PointKind.APP.value), None)
        elif isinstance(selector, AtTime):
            found = next((p for p in reversed(points) if p.time <= selector.time), None)
        elif isinstance(selector, LatestGroup):
            raise PointUnavailable(
                f"group {selector.group!r}: a group point needs every member", remedy="use GroupRegistry.bring_to"
            )
        else:
            raise PointUnavailable(f"unknown point selector {selector!r}")
        if found is None:
            newest = ", ".join(p.id for p in points[-3:]) or "none"
            raise PointUnavailable(
                f"no recovery point matches {selector} on pair {self.engine.spec.pair_id}",
                remedy=f"choose one of the listed points (newest: {newest})",
            )
        return found

    def _plan(self, point: cat.PointRecord) -> Plan:
        """For every block written since ``point``, where its first before-image after the point lies."""
        seen: set[int] = set()
        plan: Plan = []
        skip = point.undo[2]
        for group in self.engine.undo.groups_from(point.undo):
            runs: list[tuple[int, int, int]] = []
            data_at = 0
            for index, item in enumerate(group.items):
                if not isinstance(item, Extent):
                    continue
                if skip and index < skip:
                    data_at += item.blocks * BLOCK_SIZE
                    continue
                first = item.offset // BLOCK_SIZE
                for j in range(item.blocks):
                    block = first + j
                    if block in seen:
                        continue
                    seen.add(block)
                    at = data_at + j * BLOCK_SIZE
                    last = runs[-1] if runs else None
                    if (
                        last
                        and last[0] + last[2] * BLOCK_SIZE == block * BLOCK_SIZE
                        and last[1] + last[2] * BLOCK_SIZE == at
                    ):
                        runs[-1] = (last[0], last[1], last[2] + 1)
                    else:
                        runs.append((block * BLOCK_SIZE, at, 1))
                data_at += item.blocks * BLOCK_SIZE
            skip = 0
            if runs:
                plan.append((group.segment, group.offset, runs))
        return plan

    def _save(self, plan: Plan) -> None:
        e = self.engine
        extents = sorted((offset, blocks) for _, _, runs in plan for offset, _, blocks in runs)
        log = RecordLog(e.io, self.rollback_path, MAGIC, create=True, align=_ALIGN)
        try:
            e.io.ftruncate(log.handle, 0)
            log.end = 0
            for offset, blocks in _merge(extents):
                for at in range(0, blocks * BLOCK_SIZE, _CHUNK):
                    length = min(_CHUNK, blocks * BLOCK_SIZE - at)
                    log.append(1, 0, offset + at, e.target.pread(offset + at, length))
            log.sync()
        finally:
            log.close()
        e.io.fsync_dir(e.directory)

    def _restore(self, plan: Plan) -> None:
        e = self.engine
        for segment, offset, runs in plan:
            data = e.undo.read_group(segment, offset).data()
            for disk_offset, at, blocks in runs:
                e.target.pwrite(disk_offset, memoryview(data)[at : at + blocks * BLOCK_SIZE])

    def _write_back(self) -> None:
        e = self.engine
        log = RecordLog(e.io, self.rollback_path, MAGIC, create=False, align=_ALIGN)
        try:
            for record in log.scan():
                e.target.pwrite(record.aux, record.payload)
        finally:
            log.close()
        e.target.fsync()

    def _unlink_rollback(self) -> None:
        if self.engine.io.exists(self.rollback_path):
            self.engine.io.unlink(self.rollback_path)

    def _drop_history(self) -> None:
        self._unlink_rollback()
        self.engine.undo.delete_all()


def _merge(extents: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for offset, blocks in extents:
        if merged and merged[-1][0] + merged[-1][1] * BLOCK_SIZE == offset:
            merged[-1] = (merged[-1][0], merged[-1][1] + blocks)
        else:
            merged.append((offset, blocks))
    return merged
