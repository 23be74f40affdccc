"""PairJournal: append (durable redo), apply (undo first, then target), recovery, pruning and health of one pair.

Owns the ordering rules that make the invariants hold; never talks to the network and never acknowledges anything
itself (the receive path acknowledges after :meth:`PairJournal.append` returns).

Why this design: the target is kept at "latest" and history is kept as before-images (undo), so failover to latest
reads no history at all (one catalog record), and going back to a point reads only the undo written after it. Redo
(the WAL) exists so that an append can be acknowledged after one sequential write and one flush, while the slower
read-before-write of the undo capture runs behind it.

Ordering, per apply round of one or more durable batches (_apply):

1. Before-images of the first overwrite of each block after each point are taken from the *logical* state (the
   target, overlaid with the earlier batches of the same round and with the previous round, whose target writes
   may still be in flight), written as one undo record and fdatasynced.
2. Only then are the round's batches written to the target, and the target fdatasynced.
3. Then an APPLIED catalog record (applied seq, undo end, the points this round published) is fdatasynced, and the
   redo segments holding only applied batches are unlinked.

Round N+1 runs step 1 while round N runs steps 2-3 on the writer thread. A crash between 1 and 3 leaves valid undo
records past the catalog's undo end. Recovery keeps them and re-applies those batches without capturing again: the
target may already hold their new data, and a before-image recomputed from an overwritten block would be a lie. A
torn undo record means step 2 never started for its round (the target is only written after the fdatasync returned),
so the round is captured again from an untouched target.

While the disk has never been consistent (initial sync), batches skip the redo copy and go straight to the target
(_append.append_direct): there is no point to protect yet, so nothing is captured either.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.journal import _append, _housekeeping
from agent.journal import _catalog as cat
from agent.journal._apply import ApplyState, Captured, capture_round, write_round
from agent.journal._io import IO, OsIO
from agent.journal._pit import PointInTime
from agent.journal._target import TargetDisk
from agent.journal._types import (
    Batch,
    Health,
    PairSpec,
    PairState,
    PointKind,
    PointSelector,
    RecoveryPoint,
)
from agent.journal._undo import UndoGroup, UndoLog
from agent.journal._wal import PendingBatch, PointEntry, ResyncStart, Wal, encode_table
from agent.journal.errors import (
    InvalidBatch,
    JournalError,
    JournalFailed,
    PairNotReplicating,
    SequenceGap,
    StaleGeneration,
    TargetUnusable,
)
from agent.retention._policy import RetentionPolicy

__all__ = ["JournalOptions", "PairJournal", "SpaceProbe"]

SpaceProbe = Callable[[str], tuple[int, int]]  # directory -> (capacity bytes, used bytes) of its volume


@dataclass(frozen=True, slots=True)
class JournalOptions:
    """Sizes and behaviour knobs; the defaults suit a production retention volume."""

    wal_segment_bytes: int = 256 << 20
    undo_segment_bytes: int = 64 << 20
    apply_round_bytes: int = 16 << 20  # data applied per undo record / target fsync
    max_pending_bytes: int = 256 << 20  # past this, append applies inline (back-pressure without waiting)
    background_apply: bool = True
    compress_undo: bool = True
    catalog_compact_bytes: int = 4 << 20  # past this the catalog is rewritten as one snapshot
    direct_initial_sync: bool = True  # initial-sync batches go straight to the target (see _append_direct)
    housekeeping_interval: float = 5.0  # seconds between background prune/RPO passes


class PairJournal:
    """The storage engine of one replication pair. Thread safe; one instance per pair and directory."""

    def __init__(self) -> None:
        raise TypeError("use PairJournal.open(...)")

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        spec: PairSpec,
        target: str | os.PathLike[str] | TargetDisk,
        *,
        io: IO | None = None,
        policy: RetentionPolicy | None = None,
        clock: Callable[[], float] = time.time,
        space: SpaceProbe = _housekeeping.disk_usage,
        options: JournalOptions | None = None,
    ) -> PairJournal:
        """Open (creating on first use) the journal in ``directory`` and recover it.

        Recovery truncates torn tails, keeps durable undo, re-applies every durable batch not yet applied and finishes
        or rolls back an interrupted point-in-time operation. ``target`` is a path (opened as :class:`TargetDisk`)
        or an open TargetDisk. A higher ``spec.generation`` than the journal holds starts a fresh journal (reprotect);
        a lower one raises :class:`StaleGeneration`.
        """
        self = object.__new__(cls)
        try:
            self._setup(
                os.fspath(directory),
                spec,
                target,
                io or OsIO(),
                policy or RetentionPolicy(),
                clock,
                space,
                options or JournalOptions(),
            )
        except OSError as exc:
            raise JournalFailed(
                f"opening the journal of pair {spec.pair_id} in {os.fspath(directory)} failed: {exc}",
                remedy="check the retention volume (mounted, writable, not full) and the target disk",
            ) from exc
        return self

    # -- opening and recovery -----------------------------------------------------------------------------------------

    def _setup(
        self,
        directory: str,
        spec: PairSpec,
        target: str | os.PathLike[str] | TargetDisk,
        io: IO,
        policy: RetentionPolicy,
        clock: Callable[[], float],
        space: SpaceProbe,
        options: JournalOptions,
    ) -> None:
        self.directory, self.spec, self.io, self.policy = directory, spec, io, policy
        self.clock, self._space, self.options = clock, space, options
        self._append_lock = threading.Lock()
        self._apply_lock = threading.RLock()
        self._pending_lock = threading.Lock()
        self._pending: collections.deque[PendingBatch] = collections.deque()
        self._pending_bytes = 0
        self._failed: str | None = None
        self._full_reason: str | None = None
        self._shortened: str | None = None
        self._thread: threading.Thread | None = None
        self._readers: concurrent.futures.ThreadPoolExecutor | None = None
        self._writer_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        for path in (directory, os.path.join(directory, "wal"), os.path.join(directory, "undo")):
            if not io.exists(path):
                io.mkdir(path)
                io.fsync_dir(os.path.dirname(os.path.abspath(path)))
        self.catalog = cat.Catalog(io, directory, compact_bytes=options.catalog_compact_bytes)
        fresh = cat.CatalogState(spec.pair_id, spec.generation, spec.disk_size)
        if not self.catalog.exists():
            self.catalog.create(fresh)
            self.state = fresh
        else:
            self.state = self.catalog.load()
            self._check_identity(fresh)
        self.wal = Wal(io, os.path.join(directory, "wal"), options.wal_segment_bytes)
        self.undo = UndoLog(
            io, os.path.join(directory, "undo"), options.undo_segment_bytes, compress=options.compress_undo
        )
        self.target = target if isinstance(target, TargetDisk) else TargetDisk.open(target, size=spec.disk_size, io=io)
        if self.target.size < spec.disk_size:
            raise TargetUnusable(
                f"target disk {self.target.path} holds {self.target.size} bytes, the pair needs {spec.disk_size}",
                remedy="attach a target disk at least as large as the source disk",
            )
        recovered = self.undo.recover(self.state.undo_end)
        self.undo.delete_before(self.state.undo_floor)
        self._recovered: dict[int, UndoGroup] = {}
        for group in recovered:
            for seq in range(group.first_seq, group.last_seq + 1):
                self._recovered[seq] = group
        for batch in self.wal.recover(self.state.applied_seq):
            self._pending.append(batch)
            self._pending_bytes += batch.nbytes
        self.durable_seq_value = max(self.state.applied_seq, self.wal.last_seq or 0)
        self.apply_state = ApplyState(self.state.in_resync, self.state.ever_consistent)
        self._init_append_state()
        self.pit = PointInTime(self)
        self.pit.recover()
        if self.state.failover is None and not self.state.committed:
            self.apply_pending()
            self._start_applier()

    def _check_identity(self, fresh: cat.CatalogState) -> None:
        held = self.state
        if held.pair_id != fresh.pair_id:
            raise InvalidBatch(
                f"{self.directory} holds the journal of pair {held.pair_id!r}, not {fresh.pair_id!r}",
                remedy="give every pair its own journal directory",
            )
        if fresh.generation < held.generation:
            raise StaleGeneration(
                f"pair {held.pair_id} is at generation {held.generation}; generation {fresh.generation} is stale",
                remedy="the sender must re-register with the current generation (after reprotect)",
            )
        if fresh.generation > held.generation:
            self._reset_generation(fresh)
        elif fresh.disk_size != held.disk_size:
            raise InvalidBatch(
                f"pair {held.pair_id} was created for {held.disk_size} bytes, not {fresh.disk_size}",
                remedy="a resized disk needs a new generation (reprotect)",
            )

    def _reset_generation(self, fresh: cat.CatalogState) -> None:
        """A new generation (reprotect) starts afresh: old redo, undo and rollback data describe another source."""
        for sub in ("wal", "undo"):
            folder = os.path.join(self.directory, sub)
            for name in self.io.listdir(folder):
                self.io.unlink(os.path.join(folder, name))
            # Redo records carry no generation: an old segment resurrected under the new catalog would be replayed
            # as the new generation's batches. The unlinks must be durable before the new catalog is.
            self.io.fsync_dir(folder)
        rollback = os.path.join(self.directory, "rollback")
        if self.io.exists(rollback):
            self.io.unlink(rollback)
        self.catalog.close()
        self.catalog.create(fresh)
        self.state = fresh

    def _init_append_state(self) -> None:
        """What the next append needs to know, derived from the catalog plus the durable batches not yet applied."""
        self._point_ids: set[str] = set(self.state.points)
        self._in_resync = self.state.in_resync
        self._ever_consistent = self.state.ever_consistent
        self._last_point_clock = self.clock()
        self._writes_since_point = False
        for batch in self._pending:
            for entry in batch.entries:
                if isinstance(entry, PointEntry):
                    self._point_ids.add(entry.id)
                    self._writes_since_point = False
                    if entry.kind == PointKind.RESYNC_COMPLETE.value:
                        self._in_resync, self._ever_consistent = False, True
                elif isinstance(entry, ResyncStart):
                    self._in_resync = True
                else:
                    self._writes_since_point = True

    def _reader_pool(self) -> concurrent.futures.ThreadPoolExecutor:
        """Threads that read before-images concurrently (the GIL is released in pread)."""
        if self._readers is None:
            self._readers = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix=f"undo-{self.spec.pair_id}")
        return self._readers

    def _start_applier(self) -> None:
        if self.options.background_apply and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run_applier, name=f"apply-{self.spec.pair_id}", daemon=True)
            self._thread.start()

    def _stop_applier(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join()
            self._thread = None

    def _run_applier(self) -> None:
        last_prune = self.clock()
        while not self._stop.is_set():
            self._wake.wait(self.options.housekeeping_interval)
            self._wake.clear()
            try:
                self.apply_pending()
                if self.clock() - last_prune >= self.options.housekeeping_interval:
                    last_prune = self.clock()
                    self.prune()
            except JournalError:
                return  # the failure is recorded in health; the next append reports it

    # -- properties ---------------------------------------------------------------------------------------------------

    @property
    def durable_seq(self) -> int:
        """The highest seq that is durable (acknowledgeable); the sender resumes after it."""
        return self.durable_seq_value

    @property
    def applied_seq(self) -> int:
        return self.state.applied_seq

    @property
    def pending(self) -> bool:
        """Whether durable batches wait to be applied (the target does not show them yet)."""
        with self._pending_lock:
            return bool(self._pending)

    @property
    def pair_state(self) -> PairState:
        if self.state.committed:
            return PairState.COMMITTED
        return PairState.AT_POINT if self.state.failover is not None else PairState.REPLICATING

    @property
    def in_resync(self) -> bool:
        """True while the disk is inside a resync window (or the initial sync): no point can be taken there."""
        return self._in_resync

    @property
    def needs_verify(self) -> str | None:
        """Why the target must be verified (a durable operation failed at some time), or None."""
        return self._failed or self.state.failed

    # -- append -------------------------------------------------------------------------------------------------------

    def append(self, batch: Batch) -> int:
        """Make ``batch`` durable and return :attr:`durable_seq`; acknowledge the batch only after this returns.

        A seq at or below durable_seq is a replay and is ignored. Raises :class:`SequenceGap`,
        :class:`StaleGeneration`, :class:`InvalidBatch`/:class:`OutOfBounds` (nothing written),
        :class:`RetentionFull` (temporary: stop acknowledging, retry later), :class:`PairNotReplicating`, and
        :class:`JournalFailed` (an I/O error: this journal acknowledges nothing more until reopened).
        """
        with self._append_lock:
            self._check_usable()
            if batch.generation != self.spec.generation:
                raise StaleGeneration(
                    f"batch for generation {batch.generation} sent to pair {self.spec.pair_id} at generation "
                    f"{self.spec.generation}",
                    remedy="the sender must reconnect with the current generation",
                )
            if batch.seq <= self.durable_seq_value:
                return self.durable_seq_value
            if batch.seq != self.durable_seq_value + 1:
                expected = self.durable_seq_value + 1
                raise SequenceGap(
                    f"pair {self.spec.pair_id} expected seq {expected}, got {batch.seq}",
                    expected=expected,
                    remedy=f"resend from seq {expected}",
                )
            table, writes, data_len, decisions = _append.translate(self, batch)
            direct = self.options.direct_initial_sync and not self._ever_consistent
            if data_len and direct and _append.writes_before_consistency(table):
                _append.append_direct(self, batch.seq, table, writes, data_len, decisions)
                return self.durable_seq_value
            capturing = self._ever_consistent or any(isinstance(e, PointEntry) for _, e in table)
            _housekeeping.ensure_space(self, data_len * (2 if capturing else 1) + 8192)
            buffer, length, data_start = self.wal.build(encode_table(table), batch.seq, writes)
            try:
                self.wal.write(batch.seq, buffer, length)
            except OSError as exc:
                self.wal.pool.give(buffer)
                raise self._fail(f"writing batch {batch.seq} to the redo journal failed: {exc}") from exc
            _append.commit_append(self, batch.seq, table, buffer, data_start, data_len, decisions)
            if self._pending_bytes > self.options.max_pending_bytes:
                self.apply_pending()
            elif self.options.background_apply:
                self._wake.set()
            return self.durable_seq_value

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise JournalFailed(
                f"pair {self.spec.pair_id}: {self._failed}",
                remedy="reopen the journal (it recovers) and verify or resync the pair",
            )
        if self.state.committed:
            raise PairNotReplicating(
                f"pair {self.spec.pair_id} generation {self.spec.generation} is committed",
                remedy="reprotect the pair: open the journal with a new generation",
            )
        if self.state.failover is not None:
            raise PairNotReplicating(
                f"pair {self.spec.pair_id} is held at a recovery point",
                remedy="cancel() the failover to resume replication, or commit() it",
            )

    def _fail(self, reason: str) -> JournalFailed:
        """Stop acknowledging for good (PostgreSQL fsync lesson); record why, if the catalog can still take it."""
        self._failed = reason
        self.state.failed = reason
        # Best effort: the in-memory flag already refuses everything, and reopening re-applies from the redo journal.
        with contextlib.suppress(OSError):
            self.catalog.record(cat.FAILED, {"reason": reason}, self.state)
        return JournalFailed(
            f"pair {self.spec.pair_id}: {reason}",
            remedy="reopen the journal (it recovers) and verify or resync the pair",
        )

    def mark_verified(self) -> None:
        """Clear the verify-needed flag after the dataplane verified (or resynced) the target against the source."""
        with self._apply_lock:
            if self.state.failed is not None and self._failed is None:
                self.state.failed = None
                self.catalog.record(cat.FAILED, {"reason": None}, self.state)

    # -- space --------------------------------------------------------------------------------------------------------

    # -- apply --------------------------------------------------------------------------------------------------------

    def apply_pending(self) -> int:
        """Apply every durable batch to the target (undo first); returns :attr:`applied_seq`."""
        with self._apply_lock:
            if self._failed is not None:
                raise JournalFailed(
                    f"pair {self.spec.pair_id}: {self._failed}",
                    remedy="reopen the journal and verify or resync the pair",
                )
            writing: concurrent.futures.Future[None] | None = None
            previous: Captured | None = None
            try:
                while True:
                    round_ = self._next_round(previous)
                    if not round_:
                        break
                    if (
                        writing is not None
                        and previous is not None
                        and (previous.overlay is None or not previous.recorded)
                    ):
                        # Overlap only after a round that kept a copy of its writes (to read them from) and wrote an
                        # undo record. After a round without one, the next round's undo record must not become
                        # durable before that round is recorded as applied: recovery would re-capture the earlier
                        # round (its captured-block set is gone) into a record *after* the later one, and going
                        # back would then find the later before-image first.
                        self._finish(writing, previous)
                        writing = None
                    try:
                        captured = capture_round(self, round_, previous if writing is not None else None)
                    except OSError as exc:
                        if writing is not None:
                            with contextlib.suppress(JournalFailed):
                                self._finish(writing, previous)
                            writing = None
                        reason = f"capturing before-images from batch {round_[0].seq} on failed: {exc}"
                        raise self._fail(reason) from exc
                    if writing is not None:
                        self._finish(writing, previous)
                    writing = self._writer().submit(write_round, self, captured)
                    previous = captured
            finally:
                if writing is not None:
                    self._finish(writing, previous)
            return self.state.applied_seq

    def _next_round(self, previous: Captured | None) -> list[PendingBatch]:
        after = previous.batches[-1].seq if previous is not None else 0
        with self._pending_lock:
            round_: list[PendingBatch] = []
            size = 0
            for batch in self._pending:
                if batch.seq <= after:
                    continue
                if round_ and size + batch.nbytes > self.options.apply_round_bytes:
                    break
                round_.append(batch)
                size += batch.nbytes
            return round_

    def _writer(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._writer_pool is None:
            self._writer_pool = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix=f"write-{self.spec.pair_id}"
            )
        return self._writer_pool

    def _finish(self, writing: concurrent.futures.Future[None], done: Captured | None) -> None:
        """Wait for a round's target writes; then its buffers may be reused. Called only once no capture still
        reads them (the next round's capture takes the blocks this round writes from these very buffers)."""
        try:
            writing.result()
        except OSError as exc:
            first = done.batches[0].seq if done is not None else "?"
            raise self._fail(f"writing batches from {first} on to the target failed: {exc}") from exc
        if done is not None:
            for batch in done.batches:
                if batch.buffer is not None:
                    batch.entries.clear()
                    self.wal.pool.give(batch.buffer)
                    batch.buffer = None

    def _retire(self, batches: list[PendingBatch]) -> None:
        """Forget applied batches (their buffers are recycled by :meth:`_finish`); their redo segments may go."""
        with self._pending_lock:
            for batch in batches:
                self._pending.popleft()
                self._pending_bytes -= batch.nbytes
                self._recovered.pop(batch.seq, None)
        self.wal.drop_applied(self.state.applied_seq)

    # -- points, pruning, health --------------------------------------------------------------------------------------

    def points(self) -> list[RecoveryPoint]:
        """Every exposed point, oldest first: published ones, then durable ones whose batches await apply."""
        with self._apply_lock:
            result = [
                RecoveryPoint(p.id, PointKind(p.kind), p.time, p.seq, p.tag, p.group, self.undo.bytes_after(p.undo))
                for p in self.state.points.values()
            ]
            with self._pending_lock:
                for batch in self._pending:
                    for entry in batch.entries:
                        if isinstance(entry, PointEntry):
                            result.append(
                                RecoveryPoint(
                                    entry.id,
                                    PointKind(entry.kind),
                                    entry.time,
                                    batch.seq,
                                    entry.tag,
                                    entry.group,
                                    0,
                                    pending=True,
                                )
                            )
            return result

    def prune(self, *, now: float | None = None, need_bytes: int = 0) -> list[str]:
        """Drop points outside the policy; with ``need_bytes`` > 0 and ``policy.shorten_when_full``, then the oldest
        ones until that much is freed.

        The newest published point is never dropped, nor anything while the disk is held at a point. Returns the ids
        removed. Space comes back when whole undo segments fall behind the oldest kept point.
        """
        return _housekeeping.prune(self, now, need_bytes)[0]

    def health(self) -> Health:
        """Health as data: ERROR for failures and back-pressure, WARNING for RPO and shortened retention."""
        return _housekeeping.health(self)

    # -- point in time ------------------------------------------------------------------------------------------------

    def bring_to(self, selector: PointSelector) -> RecoveryPoint | None:
        """Hold the target at a point (failover); returns the point, or None for :class:`Latest`.

        Latest costs no work in history; a past point costs the blocks written since it. Interrupted at any instant,
        reopening ends at the previous state or the chosen point, never a mix. Appends are refused until
        :meth:`cancel` (back to latest, replication resumes) or :meth:`commit`.
        """
        with self._append_lock:
            self._stop_applier()
            return self.pit.bring_to(selector)

    def cancel(self) -> None:
        """Return the target to the state before :meth:`bring_to` and resume replication."""
        with self._append_lock:
            self.pit.cancel()
            self._start_applier()

    def commit(self) -> None:
        """Make the failover final: the rollback data and history are dropped and this generation is closed."""
        with self._append_lock:
            self.pit.commit()

    def close(self) -> None:
        self._stop_applier()
        for pool in (self._readers, self._writer_pool):
            if pool is not None:
                pool.shutdown()
        self.wal.close()
        self.undo.close()
        self.catalog.close()
        self.target.close()

    def __enter__(self) -> PairJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
