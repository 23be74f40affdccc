"""One apply round: capture before-images from the logical state, write them as one undo record, then the target.

The engine (_engine) calls :func:`apply_round` under its apply lock and fsyncs the target and the catalog after it.
This module must never write the target before the round's undo record is durable.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.journal._catalog import PointRecord
from agent.journal._types import BLOCK_SIZE, PointKind
from agent.journal._undo import Extent, UndoGroup
from agent.journal._wal import PendingBatch, PointEntry, ResyncStart, WriteEntry

if TYPE_CHECKING:
    from agent.journal._engine import PairJournal

__all__ = ["ApplyState", "apply_round"]


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
    threads (several requests in flight instead of one at a time), then patched with the round's own earlier writes."""

    def __init__(self, engine: PairJournal, capture_possible: bool) -> None:
        self.engine = engine
        self.track = capture_possible
        self.overlay: dict[int, WriteEntry] = {}  # block -> the round's latest write covering it
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
        entry = self.overlay[block]
        at = (block - entry.offset // BLOCK_SIZE) * BLOCK_SIZE
        return entry.data[at : at + BLOCK_SIZE]

    def _image(self, seq: int, index: int, start: int, count: int) -> None:
        blocks = range(start, start + count)
        self.items.append(Extent(seq, index, start * BLOCK_SIZE, count))
        patches = (
            []
            if self.overlay.keys().isdisjoint(blocks)
            else [(block, self._block(block)) for block in blocks if block in self.overlay]
        )
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
            list(self.engine.readers().map(self._read, self._reads))
        else:
            for request in self._reads:
                self._read(request)

    def remember(self, entry: WriteEntry) -> None:
        if self.track:
            first = entry.offset // BLOCK_SIZE
            self.overlay.update(zip(range(first, first + entry.blocks), itertools.repeat(entry), strict=False))


def _reused_position(group: UndoGroup, point_id: str) -> tuple[int, int, int]:
    return (group.segment, group.offset, group.items.index(point_id))


def apply_round(engine: PairJournal, round_: list[PendingBatch]) -> list[PointRecord]:
    """Capture, write undo (fdatasync), write the target (not fsynced here). Returns the points published."""
    state = engine.apply_state
    capture_possible = state.ever_consistent or any(
        isinstance(e, PointEntry) and e.kind == PointKind.RESYNC_COMPLETE.value for b in round_ for e in b.entries
    )
    work = _Round(engine, capture_possible)
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
    for batch in round_:
        for entry in batch.entries:
            if isinstance(entry, WriteEntry):
                engine.target.pwrite(entry.offset, entry.data)
    return [point for point, _ in published]
