"""The master-target storage engine: redo journal, apply, undo history, recovery points, point in time.

Contract with the receive path (the gRPC servicer, which decompresses and verifies every block first)::

    journal = PairJournal.open(directory, PairSpec(pair_id, generation, disk_size), target_path,
                               policy=RetentionPolicy(...))
    durable = journal.append(Batch(generation, seq, [BlockWrite(offset, data, digest), Bookmark(...), ...]))
    # acknowledge every seq <= durable to the sender only now: it survives a crash and power loss

- Blocks are 4096 bytes. ``BlockWrite.offset`` and ``len(data)`` are multiples of 4096 inside the disk (``data``
  is bytes or a memoryview; the engine copies it before ``append`` returns, so the caller may reuse its buffer);
  ``digest`` is blake3-256 of ``data``, already verified by the caller (recovery re-checks it on the journal).
- ``seq`` counts from 1 per (pair, generation); ``append`` returns :attr:`PairJournal.durable_seq`. seq <=
  durable_seq is a replay and is ignored; seq > durable_seq + 1 raises :class:`SequenceGap` (``.expected`` says
  where to resume); another generation raises :class:`StaleGeneration`. After a restart, the sender resumes from
  the reopened journal's durable_seq + 1.
- Entries are in write order; a :class:`Bookmark` marks the state after every entry before it. APP bookmarks become
  points; CRASH bookmarks after a write become points at most every ``policy.crash_interval`` seconds (default
  30), a CRASH bookmark with no write since the last point always does (it holds that point's state), and the
  engine adds its own crash point (id ``crash-g<generation>-s<seq>``) at a batch boundary when none came in that
  time. ``RESYNC_START`` opens a resync window (a new pair, or a new generation, starts inside one: the initial
  sync); ``RESYNC_COMPLETE`` closes it and is itself a point. No point exists inside a window. While the disk has
  never been consistent, batches go straight to the target (no redo copy, no before-image): the initial sync runs
  at the target's speed. Bookmark ids are unique per pair and generation; a group point shares its id across the
  member pairs and names the group in ``Bookmark.group``.
- Batch size is the receive path's choice; every append costs one or two device flushes, so batches of a few MiB
  (several 1 MiB messages) run faster than one message per batch (see scripts/bench/rto.py).
- Errors (agent.journal.errors): :class:`RetentionFull` (a TemporaryError) means stop acknowledging and retry the
  same batch later; it clears by itself once space returns. :class:`JournalFailed` means a write or fsync failed:
  the journal refuses every call until reopened, and :attr:`PairJournal.needs_verify` stays set until
  :meth:`PairJournal.mark_verified`. :class:`InvalidBatch` and its subclasses mean nothing was written.
- Point in time: :meth:`PairJournal.bring_to` (``Latest()``, ``LatestApp()``, ``PointId(id)``, ``AtTime(t)``;
  groups through :class:`agent.retention.GroupRegistry`) holds the disk at a point until :meth:`PairJournal.commit`
  or :meth:`PairJournal.cancel` (back to latest, replication resumes); appends raise :class:`PairNotReplicating`
  meanwhile.

On disk (one directory per pair on a retention volume): ``catalog`` (state log), ``wal/`` (redo), ``undo/``
(before-images), ``rollback`` (during a failover). Formats are described in the modules that own them: _records
(framing and checksums), _wal, _undo, _catalog, _pit; the ordering rules in _engine.
"""

from agent.journal._crashsim import CrashState, FaultPlan, Op, RecordingIO, crash_states
from agent.journal._engine import JournalOptions, PairJournal, SpaceProbe
from agent.journal._io import IO, Buffer, Handle, OsIO, append_all, ensure_directory, lock_directory, write_all
from agent.journal._target import TargetDisk
from agent.journal._types import (
    BLOCK_SIZE,
    AtTime,
    Batch,
    BlockWrite,
    Bookmark,
    BookmarkKind,
    Entry,
    Health,
    HealthState,
    Latest,
    LatestApp,
    LatestGroup,
    PairSpec,
    PairState,
    PointId,
    PointKind,
    PointSelector,
    RecoveryPoint,
)
from agent.journal.errors import (
    InvalidBatch,
    JournalCorrupt,
    JournalError,
    JournalFailed,
    OutOfBounds,
    PairNotReplicating,
    PointUnavailable,
    RetentionFull,
    SequenceGap,
    StaleGeneration,
    TargetUnusable,
)

__all__ = [
    "BLOCK_SIZE",
    "IO",
    "AtTime",
    "Batch",
    "BlockWrite",
    "Bookmark",
    "BookmarkKind",
    "Buffer",
    "CrashState",
    "Entry",
    "FaultPlan",
    "Handle",
    "Health",
    "HealthState",
    "InvalidBatch",
    "JournalCorrupt",
    "JournalError",
    "JournalFailed",
    "JournalOptions",
    "Latest",
    "LatestApp",
    "LatestGroup",
    "Op",
    "OsIO",
    "OutOfBounds",
    "PairJournal",
    "PairNotReplicating",
    "PairSpec",
    "PairState",
    "PointId",
    "PointKind",
    "PointSelector",
    "PointUnavailable",
    "RecordingIO",
    "RecoveryPoint",
    "RetentionFull",
    "SequenceGap",
    "SpaceProbe",
    "StaleGeneration",
    "TargetDisk",
    "TargetUnusable",
    "append_all",
    "crash_states",
    "ensure_directory",
    "lock_directory",
    "write_all",
]
