"""Apply rounds: capture before-images from the logical state into one durable undo record, then write the target.

The engine runs two rounds at once: while round N is written to the target (:func:`write_round`, on the writer
thread), round N+1's before-images are captured (:func:`capture_round`), taking the blocks round N writes from round
N's data rather than from the target. A round's target writes never start before its own undo record is durable,
and rounds are recorded as applied in order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.journal._catalog import APPLIED, PointRecord
from agent.journal._types import BLOCK_SIZE, PointKind
from agent.journal._undo import Extent, UndoGroup
from agent.journal._wal import PendingBatch, PointEntry, ResyncStart, WriteEntry

if TYPE_CHECKING:
    from agent.journal._engine import PairJournal

__all__ = ["ApplyState", "Captured", "capture_round", "write_round"]


@dataclass(slots=True)
class ApplyState:
    """Resync flags as of the last applied batch, and the blocks already captured since the last point.

    ``captured`` is only an optimisation (it is empty after a restart): capturing a block twice in one interval costs
    space, never correctness, because going back to a point restores the *first* before-image after it.
    """

    in_resync: bool
    ever_consistent: bool
    captured: set[int] = field(default_factory=set)


class _Round:
    """Before-images of one round. Target reads are collected first and issued together from the engine's reader
    threads (several requests in flight instead of one at a time), then patched with the writes the target may not
    hold yet: the round's own earlier writes and the previous round's."""

    def __init__(self, engine: PairJournal, capture_possible: bool, base: dict[int, WriteEntry]) -> None:
        self.engine = engine
        self.track = capture_possible
        self.overlay: dict[int, WriteEntry] = {}  # block -> the round's latest write covering it
        self.base = base  # the previous round's writes, which may still be on their way to the target
        self.items: list[Extent | str] = []
        self.chunks: list[bytes | bytearray] = []
        self._reads: list[tuple[int, int, int, list[tuple[int, memoryview]]]] = []

    def capture(self, seq: int, index: int, entry: WriteEntry) -> None:
        captured = self.engine.apply_state.captured
        first = entry.offset // BLOCK_SIZE
        blocks = range(first, first + entry.blocks)
        if captured.isdisjoint(blocks):  # the common case, checked in C
            self._image(seq, index, first, entry.blocks)
            captured.update(blocks)
            return
        run: list[int] = []
        for block in blocks:
            if block in captured:
                if run:
                    self._image(seq, index, run[0], len(run))
                run = []
            else:
                run.append(block)
        if run:
            self._image(seq, index, run[0], len(run))
        captured.update(blocks)

    def _block(self, block: int) -> memoryview:
        entry = self.overlay.get(block) or self.base[block]
        at = (block - entry.offset // BLOCK_SIZE) * BLOCK_SIZE
        return entry.data[at : at + BLOCK_SIZE]

    def _image(self, seq: int, index: int, start: int, count: int) -> None:
        blocks = range(start, start + count)
        self.items.append(Extent(seq, index, start * BLOCK_SIZE, count))
        if self.overlay.keys().isdisjoint(blocks) and self.base.keys().isdisjoint(blocks):
            patches = []
        else:
            patches = [(b, self._block(b)) for b in blocks if b in self.overlay or b in self.base]
        if len(patches) == count:
            self.chunks.append(b"".join(view for _, view in patches))
        else:
            self.chunks.append(b"")
            self._reads.append((len(self.chunks) - 1, start, count, patches))

    def _read(self, request: tuple[int, int, int, list[tuple[int, memoryview]]]) -> None:
        slot, start, count, patches = request
        image = bytearray(self.engine.target.pread(start * BLOCK_SIZE, count * BLOCK_SIZE))
        for block, view in patches:
            at = (block - start) * BLOCK_SIZE
            image[at : at + BLOCK_SIZE] = view
        self.chunks[slot] = image

    def read_all(self) -> None:
        if len(self._reads) > 1:
            list(self.engine._reader_pool().map(self._read, self._reads))
        else:
            for request in self._reads:
                self._read(request)

    def remember(self, entry: WriteEntry) -> None:
        if self.track:
            first = entry.offset // BLOCK_SIZE
            self.overlay.update(zip(range(first, first + entry.blocks), itertools.repeat(entry), strict=False))


def _reused_position(group: UndoGroup, point_id: str) -> tuple[int, int, int]:
    return (group.segment, group.offset, group.items.index(point_id))


@dataclass(slots=True)
class Captured:
    """A round whose undo record is durable and whose target writes are still to do."""

    batches: list[PendingBatch]
    points: list[PointRecord]
    undo_end: tuple[int, int]
    in_resync: bool
    ever_consistent: bool
    overlay: dict[int, WriteEntry] | None  # the round's writes by block (None: not tracked, no capture possible)
    recorded: bool  # it wrote an undo record


def capture_round(engine: PairJournal, round_: list[PendingBatch], previous: Captured | None) -> Captured:
    """Capture the round's before-images and write them as one undo record (fdatasync). ``previous`` is the round
    whose target writes may still be running: its blocks are taken from its data, never read from the target."""
    state = engine.apply_state
    capture_possible = state.ever_consistent or any(
        isinstance(e, PointEntry) and e.kind == PointKind.RESYNC_COMPLETE.value for b in round_ for e in b.entries
    )
    base = previous.overlay if previous is not None and previous.overlay is not None else {}
    work = _Round(engine, capture_possible, base)
    published: list[tuple[PointRecord, int | None]] = []  # (point, index of its marker in the new record)
    first_new: int | None = None
    for batch in round_:
        reused = engine._recovered.get(batch.seq)
        if reused is None and first_new is None:
            first_new = batch.seq
        for index, entry in enumerate(batch.entries):
            if isinstance(entry, PointEntry):
                state.captured.clear()
                if entry.kind == PointKind.RESYNC_COMPLETE.value:
                    state.in_resync, state.ever_consistent = False, True
                point = PointRecord(entry.id, entry.kind, entry.time, batch.seq, entry.tag, entry.group, (0, 0, 0))
                if reused is not None:
                    point.undo = _reused_position(reused, entry.id)
                    published.append((point, None))
                else:
                    published.append((point, len(work.items)))
                    work.items.append(entry.id)
            elif isinstance(entry, ResyncStart):
                state.in_resync = True
            elif isinstance(entry, WriteEntry):
                if reused is None and state.ever_consistent:
                    work.capture(batch.seq, index, entry)
                work.remember(entry)
    work.read_all()
    if any(isinstance(item, Extent) for item in work.items):
        assert first_new is not None
        segment, offset = engine.undo.append(first_new, round_[-1].seq, work.items, work.chunks)
        engine.undo.sync()
    else:
        segment, offset = engine.undo.end()
        work.items = []
    for point, marker in published:
        if marker is not None:
            point.undo = (segment, offset, marker if work.items else 0)
    return Captured(
        round_,
        [point for point, _ in published],
        engine.undo.end(),
        state.in_resync,
        state.ever_consistent,
        work.overlay if work.track else None,
        bool(work.items),
    )


def write_round(engine: PairJournal, done: Captured) -> None:
    """Write a captured round to the target, fsync it, then record it as applied (catalog, fdatasync)."""
    writes = [entry for batch in done.batches for entry in batch.entries if isinstance(entry, WriteEntry)]
    blocks: set[int] = set()
    for entry in writes:
        blocks.update(range(entry.offset // BLOCK_SIZE, entry.offset // BLOCK_SIZE + entry.blocks))
    if len(writes) > 1 and len(blocks) == sum(entry.blocks for entry in writes):
        # No block written twice in the round, so order does not matter: keep several writes in flight.
        list(engine._reader_pool().map(lambda entry: engine.target.pwrite(entry.offset, entry.data), writes))
    else:
        for entry in writes:
            engine.target.pwrite(entry.offset, entry.data)
    engine.target.fsync()
    record = {
        "applied_seq": done.batches[-1].seq,
        "undo_end": list(done.undo_end),
        "in_resync": done.in_resync,
        "ever_consistent": done.ever_consistent,
        "points": [p.to_json() for p in done.points],
    }
    engine.state.replay(APPLIED, record)
    engine.catalog.record(APPLIED, record, engine.state)
    engine._retire(done.batches)
