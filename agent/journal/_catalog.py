"""The catalog: the engine's small durable state, as a log of JSON records over the shared framing.

File ``catalog`` (magic b"FBCT"). Kinds: 1 SNAPSHOT (the whole state), 2 APPLIED (an apply round finished: new
applied seq, undo end, points it published, resync flags), 3 PRUNED (points dropped, undo floor), 4 FAILOVER (the
point-in-time intent and its phase), 5 FAILED (a durable operation failed: verify before trusting the target).
Loading replays the records over the first snapshot. Past ``compact_bytes`` the state is rewritten as one snapshot in
``catalog.new``, fsynced, renamed over ``catalog`` and the directory fsynced, so a crash leaves one or the other.
A point exists for operators only once its APPLIED record (or its durable redo batch) exists.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from agent.journal._io import IO
from agent.journal._records import RecordLog
from agent.journal.errors import JournalCorrupt

__all__ = ["Catalog", "CatalogState", "PointRecord"]

MAGIC = b"FBCT"
SNAPSHOT, APPLIED, PRUNED, FAILOVER, FAILED = 1, 2, 3, 4, 5


@dataclass(slots=True)
class PointRecord:
    """A published point: its description and where its history starts in the undo log."""

    id: str
    kind: str
    time: float
    seq: int
    tag: str | None
    group: str | None
    undo: tuple[int, int, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "time": self.time,
            "seq": self.seq,
            "tag": self.tag,
            "group": self.group,
            "undo": list(self.undo),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PointRecord:
        undo = raw["undo"]
        return cls(
            raw["id"], raw["kind"], raw["time"], raw["seq"], raw["tag"], raw["group"], (undo[0], undo[1], undo[2])
        )


@dataclass(slots=True)
class CatalogState:
    pair_id: str
    generation: int
    disk_size: int
    applied_seq: int = 0
    undo_end: tuple[int, int] = (0, 0)
    undo_floor: int = 0
    in_resync: bool = True
    ever_consistent: bool = False
    points: dict[str, PointRecord] = field(default_factory=dict)
    failover: dict[str, Any] | None = None
    committed: bool = False
    failed: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "pair_id": self.pair_id,
            "generation": self.generation,
            "disk_size": self.disk_size,
            "applied_seq": self.applied_seq,
            "undo_end": list(self.undo_end),
            "undo_floor": self.undo_floor,
            "in_resync": self.in_resync,
            "ever_consistent": self.ever_consistent,
            "points": [p.to_json() for p in self.points.values()],
            "failover": self.failover,
            "committed": self.committed,
            "failed": self.failed,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CatalogState:
        state = cls(raw["pair_id"], raw["generation"], raw["disk_size"])
        state.applied_seq = raw["applied_seq"]
        state.undo_end = (raw["undo_end"][0], raw["undo_end"][1])
        state.undo_floor = raw["undo_floor"]
        state.in_resync = raw["in_resync"]
        state.ever_consistent = raw["ever_consistent"]
        state.points = {p["id"]: PointRecord.from_json(p) for p in raw["points"]}
        state.failover = raw["failover"]
        state.committed = raw["committed"]
        state.failed = raw["failed"]
        return state

    def replay(self, kind: int, raw: dict[str, Any]) -> None:
        if kind == APPLIED:
            self.applied_seq = raw["applied_seq"]
            self.undo_end = (raw["undo_end"][0], raw["undo_end"][1])
            self.in_resync = raw["in_resync"]
            self.ever_consistent = raw["ever_consistent"]
            for point in raw["points"]:
                self.points[point["id"]] = PointRecord.from_json(point)
        elif kind == PRUNED:
            for point_id in raw["removed"]:
                self.points.pop(point_id, None)
            self.undo_floor = max(self.undo_floor, raw["undo_floor"])
        elif kind == FAILOVER:
            self.failover = raw["failover"]
            if raw.get("committed"):
                self.committed = True
                self.points.clear()
        elif kind == FAILED:
            self.failed = raw["reason"]


class Catalog:
    def __init__(self, io: IO, directory: str, *, compact_bytes: int = 4 << 20) -> None:
        self.io = io
        self.dir = directory
        self.path = os.path.join(directory, "catalog")
        self.compact_bytes = compact_bytes
        self._log: RecordLog | None = None
        # The applier's writer thread and a failing append may record at the same time.
        self._lock = threading.Lock()

    def exists(self) -> bool:
        return self.io.exists(self.path)

    def create(self, state: CatalogState) -> None:
        """Write the first snapshot atomically (tmp, fsync, rename, fsync dir)."""
        self._write_snapshot(state)
        self._log = RecordLog(self.io, self.path, MAGIC, create=False)

    def load(self) -> CatalogState:
        log = RecordLog(self.io, self.path, MAGIC, create=False)
        state: CatalogState | None = None
        for record in log.scan():
            raw = json.loads(record.payload)
            if record.kind == SNAPSHOT:
                if state is not None:
                    raise JournalCorrupt(f"catalog {self.path} holds a second snapshot at byte {record.offset}")
                state = CatalogState.from_json(raw)
            elif state is not None:
                state.replay(record.kind, raw)
        if state is None:
            log.close()
            raise JournalCorrupt(
                f"catalog {self.path} has no valid snapshot",
                remedy="the pair's journal directory is damaged: remove it and resync the pair",
            )
        log.truncate_torn_tail(log.valid_end)
        self._log = log
        return state

    def record(self, kind: int, raw: dict[str, Any], state: CatalogState) -> None:
        """Append one record durably; ``state`` must already include it (used if the log is compacted)."""
        with self._lock:
            assert self._log is not None
            self._log.append(kind, 0, 0, json.dumps(raw, sort_keys=True).encode())
            self._log.sync()
            if self._log.end > self.compact_bytes:
                self._log.close()
                self._log = None
                self._write_snapshot(state)
                self._log = RecordLog(self.io, self.path, MAGIC, create=False)

    def _write_snapshot(self, state: CatalogState) -> None:
        tmp = self.path + ".new"
        log = RecordLog(self.io, tmp, MAGIC, create=True)
        try:
            self.io.ftruncate(log.handle, 0)
            log.end = 0
            log.append(SNAPSHOT, 0, 0, json.dumps(state.to_json(), sort_keys=True).encode())
            log.sync()
        finally:
            log.close()
        self.io.rename(tmp, self.path)
        self.io.fsync_dir(self.dir)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
