"""The master target's pairs: each pair's journal, the one process server allowed to send to it, the stream that
currently may, and what it reports.

Owns the checks that come before any write (the sender's identity, the generation, the current stream) and the pair's
state as the controller and the health service see it. Never decodes blocks (the servicer does, with
agent.dataplane.decode_batch, before calling :meth:`TargetPair.receive`) and never acknowledges anything itself: the
servicer acknowledges the watermark :meth:`TargetPair.receive` returns, which the journal made durable.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.dataplane import DiskHasher, Extent, disk_digest
from agent.journal import (
    IO,
    Batch,
    BlockWrite,
    HealthState,
    JournalError,
    JournalFailed,
    JournalOptions,
    PairJournal,
    PairNotReplicating,
    PairSpec,
    PairState,
    RetentionFull,
)
from agent.replication._specs import TargetPairSpec
from agent.replication.errors import PairUnavailable, SenderRefused, SessionSuperseded, WrongGeneration
from failback.identity import Identity

__all__ = ["StreamOpened", "TargetPair", "TargetState", "TargetStatus", "open_pair_journal"]

log = logging.getLogger(__name__)
audit_log = logging.getLogger("failback.audit")


class TargetState(enum.IntEnum):
    """As the protobuf PairState."""

    RESYNCING = 2
    REPLICATING = 3
    BACKPRESSURE = 5
    AT_POINT = 6
    COMMITTED = 7
    FAILED = 8


@dataclass(frozen=True, slots=True)
class StreamOpened:
    session: int
    durable_seq: int
    disk_size: int


@dataclass(frozen=True, slots=True)
class TargetStatus:
    spec: TargetPairSpec
    state: TargetState
    reason: str
    health: HealthState
    health_reasons: tuple[str, ...]
    durable_seq: int
    applied_seq: int
    bytes_received: int
    batches_received: int
    batches_replayed: int
    batches_rejected: int
    sender_connected: bool
    points: int
    latest_point_time: float
    last_error: str
    last_error_time: float

    @property
    def serving(self) -> bool:
        """What the pair's health service entry says: NOT_SERVING only when the pair needs attention."""
        return self.state not in (TargetState.BACKPRESSURE, TargetState.FAILED)


class TargetPair:
    """One pair on the master target. Thread safe: appends, stream changes and the digest take the pair's lock."""

    def __init__(
        self,
        spec: TargetPairSpec,
        target_path: str | None,
        *,
        journal_options: JournalOptions,
        open_journal: Callable[[TargetPairSpec, str, JournalOptions], PairJournal],
        on_change: Callable[[TargetPair], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.target_path = target_path
        self._options = journal_options
        self._open = open_journal
        self._on_change = on_change
        self._clock = clock
        self._lock = threading.RLock()
        self._hasher_lock = threading.Lock()
        self.journal: PairJournal | None = None
        self._hasher: DiskHasher | None = None
        self._open_error: str | None = None
        self._failed: str | None = None
        self._backpressure: str | None = None
        self._session = 0
        self._streams = 0
        self._bytes = self._batches = self._replayed = self._rejected = 0
        self._last_error = ""
        self._last_error_time = 0.0

    # -- life cycle ----------------------------------------------------------------------------------------------

    def open(self) -> None:
        """Open (and recover) the journal; a failure leaves the pair FAILED with the reason, and raises."""
        with self._lock:
            if self.journal is not None:
                return
            if self.target_path is None:
                raise PairUnavailable(self._open_error or f"pair {self.spec.pair_id} has no target disk")
            try:
                self.journal = self._open(self.spec, self.target_path, self._options)
            except JournalError as exc:
                self._open_error = f"the journal cannot be opened: {exc}"
                self._note_error(self._open_error)
                raise
            self._open_error = None
        self._on_change(self)

    def changed(self) -> None:
        """Something outside the stream moved the pair (point in time, cancel, commit): report its state again."""
        self._on_change(self)

    def set_unusable(self, reason: str) -> None:
        """The pair cannot be opened (its target disk is not found, ...): FAILED with ``reason`` until put again."""
        with self._lock:
            self._open_error = reason
            self._note_error(reason)
        self._on_change(self)

    def close(self) -> None:
        """Fence every stream and close the journal (and the hasher)."""
        with self._lock, self._hasher_lock:
            self._session += 1
            if self._hasher is not None:
                self._hasher.close()
                self._hasher = None
            if self.journal is not None:
                try:
                    self.journal.close()
                except (JournalError, OSError) as exc:
                    log.warning("closing the journal of pair %s: %s", self.spec.pair_id, exc)
                self.journal = None

    def update(self, spec: TargetPairSpec) -> None:
        """Same generation and disk: a new sender, group or policy. A new sender fences the current stream."""
        with self._lock:
            if spec.sender != self.spec.sender:
                self._session += 1
            if self.journal is not None and spec.policy != self.spec.policy:
                # The engine reads its policy at every append and prune; it holds no state derived from it.
                self.journal.policy = spec.policy
            self.spec = spec
        self._on_change(self)

    # -- the stream ------------------------------------------------------------------------------------------------

    def check_sender(self, sender: Identity, generation: int, what: str) -> PairJournal:
        """The journal, if ``sender`` may act on this pair at ``generation``; the refusals are audited."""
        if sender.name != self.spec.sender:
            audit_log.warning(
                "refused %s of pair %s from %s: the pair is bound to process server %s",
                what,
                self.spec.pair_id,
                sender,
                self.spec.sender,
            )
            raise SenderRefused(
                f"pair {self.spec.pair_id} accepts data only from process server {self.spec.sender}, not {sender.name}",
                remedy="the controller binds a pair to one process server; reconfigure the pair to move it",
            )
        if generation != self.spec.generation:
            audit_log.info(
                "refused %s of pair %s generation %d from %s: the pair is at generation %d",
                what,
                self.spec.pair_id,
                generation,
                sender,
                self.spec.generation,
            )
            raise WrongGeneration(
                f"pair {self.spec.pair_id} is at generation {self.spec.generation}, not {generation}",
                remedy="a sender of an older generation is fenced off; the controller updates both sides together",
            )
        return self._journal_for_data()

    def _journal_for_data(self) -> PairJournal:
        journal = self.journal
        reason = self._unavailable(journal)
        if reason is not None:
            raise PairUnavailable(reason)
        assert journal is not None
        return journal

    def _unavailable(self, journal: PairJournal | None) -> str | None:
        if self._open_error is not None:
            return self._open_error
        if journal is None:
            return f"pair {self.spec.pair_id} is not open"
        if self._failed is not None:
            return self._failed
        if journal.needs_verify:
            return (
                f"pair {self.spec.pair_id}: a durable write failed earlier ({journal.needs_verify}); "
                "resync the pair with a new generation"
            )
        if journal.pair_state is PairState.AT_POINT:
            return f"pair {self.spec.pair_id} is held at a recovery point: cancel or commit the failover first"
        if journal.pair_state is PairState.COMMITTED:
            return f"pair {self.spec.pair_id} generation {self.spec.generation} is committed: reprotect it"
        return None

    def open_stream(self, sender: Identity, generation: int) -> StreamOpened:
        """Start a stream for ``sender``: every older stream of this pair is fenced off from now on."""
        with self._lock:
            journal = self.check_sender(sender, generation, "a stream")
            self._session += 1
            self._streams += 1
            opened = StreamOpened(self._session, journal.durable_seq, self.spec.disk_size)
        log.info(
            "pair %s: stream %d opened by %s at seq %d", self.spec.pair_id, opened.session, sender, opened.durable_seq
        )
        self._on_change(self)
        return opened

    def end_stream(self, session: int) -> None:
        with self._lock:
            self._streams -= 1
        self._on_change(self)

    def receive(self, session: int, batch: Batch) -> int:
        """Append a decoded batch and return the durable watermark (acknowledge it only now).

        Raises :class:`SessionSuperseded`, :class:`PairUnavailable` (the journal failed: the pair stays FAILED and
        acknowledges nothing more), the journal's :class:`RetentionFull` (temporary: retry the same batch later) and
        its :class:`InvalidBatch` family (nothing written)."""
        with self._lock:
            if session != self._session:
                raise SessionSuperseded(f"pair {self.spec.pair_id}: a newer stream took over")
            journal = self._journal_for_data()
            before = journal.durable_seq
            try:
                durable = journal.append(batch)
            except RetentionFull as exc:
                changed = self._backpressure is None
                self._backpressure = str(exc)
                self._note_error(str(exc))
                if changed:
                    self._on_change(self)
                raise
            except JournalFailed as exc:
                self._failed = f"pair {self.spec.pair_id}: the journal failed ({exc}); resync it with a new generation"
                self._note_error(self._failed)
                log.error("%s", self._failed)
                self._on_change(self)
                raise PairUnavailable(self._failed) from exc
            except PairNotReplicating as exc:
                raise PairUnavailable(str(exc)) from exc
            released = self._backpressure is not None
            self._backpressure = None
            if batch.seq <= before:
                self._replayed += 1
            else:
                self._batches += 1
                self._bytes += sum(e.length for e in batch.entries if isinstance(e, BlockWrite))
        if released:
            log.info("pair %s: retention space is back; acknowledging again", self.spec.pair_id)
            self._on_change(self)
        return durable

    def rejected(self, error: BaseException) -> None:
        with self._lock:
            self._rejected += 1
            self._note_error(str(error))

    def _note_error(self, message: str) -> None:
        self._last_error, self._last_error_time = message, self._clock()

    # -- reading the target ----------------------------------------------------------------------------------------

    def hashes(self, sender: Identity, generation: int, extents: list[Extent], unit: int) -> list[bytes]:
        """Resync hashes of the target as the journal holds it (durable batches are applied first).

        Not under the pair's lock: an append holding it for its flushes must not delay the scan's round trips; the
        checks read the pair as it is now, and a reprotect that replaces the journal fences the stream anyway."""
        journal = self.check_sender(sender, generation, "a hash request")
        with self._hasher_lock:
            if self._hasher is None:
                self._hasher = DiskHasher(journal.target.path, self.spec.disk_size)
            hasher = self._hasher
        if journal.pending:
            journal.apply_pending()
        return hasher.hashes(extents, unit)

    def digest(self) -> tuple[bytes, int, str | None]:
        """The disk digest of the target now, the batch it covers, and the point it is held at (if any)."""
        with self._lock:
            journal = self.journal
            if journal is None:
                raise PairUnavailable(self._open_error or f"pair {self.spec.pair_id} is not open")
            point: str | None = None
            if journal.pair_state is PairState.REPLICATING:
                journal.apply_pending()
            elif journal.state.failover is not None:
                point = journal.state.failover.get("point")
            return disk_digest(journal.target.path, self.spec.disk_size), journal.applied_seq, point

    # -- reporting -------------------------------------------------------------------------------------------------

    def status(self) -> TargetStatus:
        with self._lock:
            journal = self.journal
            reason = self._unavailable(journal)
            state = TargetState.FAILED if reason is not None else TargetState.REPLICATING
            health_state = HealthState.ERROR
            health_reasons: tuple[str, ...] = (reason,) if reason else ()
            durable = applied = points = 0
            latest = 0.0
            if journal is not None:
                durable, applied = journal.durable_seq, journal.applied_seq
                health = journal.health()
                health_state, health_reasons = health.state, health.reasons
                listed = journal.points()
                points = len(listed)
                latest = max((p.time for p in listed), default=0.0)
                if journal.pair_state is PairState.AT_POINT:
                    state, reason = TargetState.AT_POINT, "held at a recovery point"
                elif journal.pair_state is PairState.COMMITTED:
                    state, reason = TargetState.COMMITTED, "the failover is committed"
                elif reason is not None:
                    state = TargetState.FAILED
                elif self._backpressure is not None:
                    state, reason = TargetState.BACKPRESSURE, self._backpressure
                elif journal.in_resync:
                    state, reason = TargetState.RESYNCING, "inside a resync: no recovery point yet"
            if reason is not None and state is TargetState.FAILED and reason not in health_reasons:
                health_state, health_reasons = HealthState.ERROR, (reason, *health_reasons)
            return TargetStatus(
                spec=self.spec,
                state=state,
                reason=reason or "",
                health=health_state,
                health_reasons=tuple(health_reasons),
                durable_seq=durable,
                applied_seq=applied,
                bytes_received=self._bytes,
                batches_received=self._batches,
                batches_replayed=self._replayed,
                batches_rejected=self._rejected,
                sender_connected=self._streams > 0,
                points=points,
                latest_point_time=latest,
                last_error=self._last_error,
                last_error_time=self._last_error_time,
            )


def open_pair_journal(
    io_factory: Callable[[str], IO] | None = None,
) -> Callable[[TargetPairSpec, str, JournalOptions], PairJournal]:
    """How the registry opens a journal: ``io_factory(journal_dir)`` lets tests inject a recording I/O layer."""

    def open_journal(spec: TargetPairSpec, target: str, options: JournalOptions) -> PairJournal:
        return PairJournal.open(
            spec.journal_dir,
            PairSpec(spec.pair_id, spec.generation, spec.disk_size),
            target,
            io=io_factory(spec.journal_dir) if io_factory is not None else None,
            policy=spec.policy,
            options=options,
        )

    return open_journal
