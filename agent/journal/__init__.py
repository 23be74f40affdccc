"""The master-target storage engine: redo journal, apply, undo history, recovery points, point in time.

Contract with the receive path (the gRPC servicer, which decompresses and verifies every block first)::

    journal = PairJournal.open(directory, PairSpec(pair_id, generation, disk_size), target_path,
                               policy=RetentionPolicy(...), clock=time.time)
    durable = journal.append(Batch(generation, seq, [BlockWrite(offset, data, digest), Bookmark(...), ...]))
    # acknowledge seqs <= durable to the sender only now: they survive a crash and power loss

- Blocks are 4096 bytes. ``BlockWrite.offset`` and ``len(data)`` are multiples of 4096 inside the disk;
  ``digest`` is blake3-256 of ``data``, already verified by the caller (recovery re-checks it on the journal).
- ``seq`` counts from 1 per (pair, generation). seq <= :attr:`PairJournal.durable_seq` is a replay and is ignored
  (``append`` returns durable_seq); seq > durable_seq + 1 raises :class:`SequenceGap` (``.expected`` says where to
  resume); another generation raises :class:`StaleGeneration`.
- Entries are in write order; a :class:`Bookmark` marks the state after every entry before it. APP bookmarks become
  points; CRASH bookmarks become points at most every ``policy.crash_interval`` seconds, and the engine adds its own
  crash point at a batch boundary when none came in that time. ``RESYNC_START`` opens a resync window (a new pair
  starts inside one: the initial sync), ``RESYNC_COMPLETE`` closes it and is itself a point. No point exists inside
  a window, and no before-image is kept while the disk has never been consistent, so the initial sync costs only
  the redo journal and the target writes.
- Errors: :class:`RetentionFull` (a TemporaryError) means stop acknowledging and retry the same batch later;
  it clears by itself when space returns. :class:`JournalFailed` means an fsync or write failed: the journal
  refuses everything until reopened, and :attr:`PairJournal.needs_verify` stays set until :meth:`mark_verified`.
  :class:`InvalidBatch` and its subclasses mean nothing was written.
- ``bring_to(selector)`` holds the disk at a point (failover) until ``commit()`` or ``cancel()``.

On disk (one directory per pair on a retention volume): ``catalog`` (state log), ``wal/`` (redo), ``undo/``
(before-images), ``rollback`` (during a failover). Formats are described in the modules that own them: _records
(framing), _wal, _undo, _catalog, _pit.
"""

from agent.journal._crashsim import CrashState, FaultPlan, Op, RecordingIO, crash_states
from agent.journal._engine import JournalOptions, PairJournal, SpaceProbe
from agent.journal._io import IO, Handle, OsIO
from agent.journal._target import TargetDisk
from agent.journal._types import (
    BLOCK_SIZE,
    AtTime,
    Batch,
    BlockWrite,
    Bookmark,
    BookmarkKind,
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
    "CrashState",
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
    "crash_states",
]
