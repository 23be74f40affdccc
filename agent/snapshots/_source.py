"""SnapshotSource: one pair's :class:`~agent.dataplane.ChangeSource` over Azure snapshots of its managed disk.

Each cycle streams what changed between two points of the group as 4 KiB-aligned blocks of at most 1 MiB, then a
bookmark carrying the point's name, Azure's snapshot time and its consistency (CRASH per disk for incremental
snapshots; CRASH or APP with the group for VM restore points). Every bookmark is crash-consistent by construction:
the blocks before it are exactly the point's content where it differs from the previous point. The blocks of a cycle
are in offset order, not in the guest's write order, so every cycle is bracketed RESYNC_START ... RESYNC_COMPLETE:
the master target keeps no point inside (the states there are ones the source never had).

A cycle without a usable base (the first one, or after the base was deleted) is a resync: a hash compare with the
master target when ``remote`` hashes are given
(reading only the allocated ranges; the rest of the image is zeros and costs no read), otherwise every allocated
range plus zero blocks for the rest (just the allocated ranges when ``target_empty``). A point deleted under the
cycle is replaced by a new one and the cycle restarts from the same base; both recoveries start a new cycle number,
so cursors keep growing. The source never writes anything but its group's state, and yields each block's own
buffer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import blake3

from agent.dataplane import (
    BLOCK_SIZE,
    BandwidthLimiter,
    BlockWrite,
    Bookmark,
    BookmarkKind,
    RemoteHashes,
    ScanSource,
    SourceEntry,
    zero_digest,
)
from agent.snapshots._config import PointMode
from agent.snapshots._cursor import DONE, make_cursor
from agent.snapshots._group import Cycle, SnapshotGroup
from agent.snapshots._ranges import PageRange, complement, plan_blocks
from agent.snapshots._reader import ImageReader, ReadStats
from agent.snapshots.errors import ImageGone, PreviousImageUnusable

__all__ = ["CycleStats", "SnapshotSource"]

_SCAN_WINDOW = 16 << 20


def _closed(size: int) -> int:
    """A cycle's position after its RESYNC_COMPLETE."""
    return size // BLOCK_SIZE + 2


@dataclass
class CycleStats:
    """One cycle of one pair: what Azure reported changed (written and cleared bytes at its 512-byte granularity),
    what was sent (block bytes, of which zeros that needed no read) and what was read (``read``)."""

    pair: str
    cycle: int
    point: str
    mode: str
    consistency: str
    snapshot_time: float
    started: float
    finished: float | None = None
    changed_bytes: int = 0
    cleared_bytes: int = 0
    sent_bytes: int = 0
    zero_bytes: int = 0
    read: ReadStats = field(default_factory=ReadStats)

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started


class SnapshotSource:
    """The change source of ``pair`` in ``group``. ``remote`` (the master target's hashes of its disk) enables the
    hash resync; ``target_empty`` says the target disk is known to be all zeros; ``limiter`` paces the reads from
    Azure; ``on_cycle`` is called with each cycle's :class:`CycleStats` when its bookmark is yielded."""

    def __init__(
        self,
        group: SnapshotGroup,
        pair: str,
        *,
        remote: RemoteHashes | None = None,
        target_empty: bool = False,
        limiter: BandwidthLimiter | None = None,
        on_cycle: Callable[[CycleStats], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if pair not in group.pairs:
            raise ValueError(f"group {group.group} has no pair {pair!r}")
        self.group = group
        self.pair = pair
        self.last_cycle: CycleStats | None = None
        self._remote = remote
        self._target_empty = target_empty
        self._limiter = limiter
        self._on_cycle = on_cycle
        self._clock = clock

    def changes(self, cursor: int) -> Iterator[SourceEntry]:
        options = {"can_scan": self._remote is not None, "target_empty": self._target_empty}
        cycle = self.group.begin(self.pair, cursor, **options)
        while cycle is not None:
            try:
                yield from self._stream(cycle)
            except ImageGone:
                cycle = self.group.image_gone(self.pair, cycle, **options)
            except PreviousImageUnusable:
                cycle = self.group.base_unusable(self.pair, cycle, **options)
            else:
                return

    def acknowledged(self, cursor: int) -> None:
        """Pass as the sender's ``on_acknowledged``: the master target holds everything up to ``cursor``."""
        self.group.acknowledged(self.pair, cursor)

    def rpo(self, now: float | None = None) -> float | None:
        """Age of the newest point the master target has acknowledged (None before the first one)."""
        return self.group.rpo(self.pair, now)

    def worst_rpo(self) -> float | None:
        return self.group.worst_rpo(self.pair)

    # -- one cycle ---------------------------------------------------------------------------------------------

    def _stream(self, cycle: Cycle) -> Iterator[SourceEntry]:
        """One cycle: RESYNC_START, the blocks in offset order, RESYNC_COMPLETE, the point's bookmark. Positions:
        0 nothing sent, 1 after RESYNC_START, 1 + k after the block ending at 4 KiB block k, ``_closed(size)``
        after RESYNC_COMPLETE (then DONE after the bookmark)."""
        point = cycle.point
        size = point.sizes[self.pair]
        taken = point.times[self.pair]
        stats = CycleStats(self.pair, cycle.number, point.name, cycle.mode, point.consistency, taken, self._clock())
        reader = self.group.reader(point, self.pair, stats.read, self._limiter)
        if cycle.position == 0:
            # Blocks come in offset order, not the guest's write order: the master target keeps no point before the
            # cycle closes (it would otherwise add crash points of its own between batches).
            opened = Bookmark(f"{point.name}-open{cycle.number}", BookmarkKind.RESYNC_START, None, None, taken)
            yield SourceEntry(opened, make_cursor(cycle.number, 1), taken)
        if cycle.mode == "scan":
            yield from self._scan(cycle, reader, size, taken, stats)
        else:
            ranges = self._ranges(cycle, reader, size)
            stats.changed_bytes = sum(r.length for r in ranges if not r.cleared)
            stats.cleared_bytes = sum(r.length for r in ranges if r.cleared)
            resume = max(cycle.position - 1, 0) * BLOCK_SIZE
            blocks = [b for b in plan_blocks(ranges, size, max_block=self.group.policy.max_block) if b.end > resume]
            for block, data in reader.read_blocks(blocks):
                digest = zero_digest(block.length) if block.zero else blake3.blake3(data).digest()
                stats.sent_bytes += block.length
                stats.zero_bytes += block.length if block.zero else 0
                cursor = make_cursor(cycle.number, 1 + block.end // BLOCK_SIZE)
                yield SourceEntry(BlockWrite(block.offset, data, digest), cursor, taken)
            if cycle.position < _closed(size):
                closed = Bookmark(self._resync_id(cycle), BookmarkKind.RESYNC_COMPLETE, None, None, taken)
                yield SourceEntry(closed, make_cursor(cycle.number, _closed(size)), taken)
        stats.finished = self._clock()
        self.last_cycle = stats
        if self._on_cycle is not None:
            self._on_cycle(stats)
        yield SourceEntry(self._bookmark(point.name, point.consistency, taken), make_cursor(cycle.number, DONE), taken)

    def _ranges(self, cycle: Cycle, reader: ImageReader, size: int) -> list[PageRange]:
        if cycle.mode == "diff":
            assert cycle.base is not None
            return reader.changed_ranges(self.group.grant(cycle.base, self.pair))
        if cycle.mode == "full":
            return complement(reader.allocated_ranges(), size)
        return list(reader.allocated_ranges())

    def _scan(
        self, cycle: Cycle, reader: ImageReader, size: int, taken: float, stats: CycleStats
    ) -> Iterator[SourceEntry]:
        assert self._remote is not None
        scan = ScanSource(reader, self._remote, size=size, window=_SCAN_WINDOW, resync_id=self._resync_id(cycle))
        position = max(cycle.position, 1)
        start = scan.done_cursor if position >= _closed(size) else (position - 1) * BLOCK_SIZE
        for item in scan.changes(start):
            done = item.cursor == scan.done_cursor
            if isinstance(item.entry, BlockWrite):
                stats.changed_bytes += item.entry.length
                stats.sent_bytes += item.entry.length
            position = _closed(size) if done else 1 + item.cursor // BLOCK_SIZE
            yield SourceEntry(item.entry, make_cursor(cycle.number, position), taken)

    @staticmethod
    def _resync_id(cycle: Cycle) -> str:
        return f"{cycle.point.name}-resync{cycle.number}"

    def _bookmark(self, name: str, consistency: str, taken: float) -> Bookmark:
        if consistency == PointMode.APP_RESTORE_POINTS.value:
            return Bookmark(
                name, BookmarkKind.APP, "azure-restore-point:ApplicationConsistent", self.group.group, taken
            )
        if consistency == PointMode.CRASH_RESTORE_POINTS.value:
            return Bookmark(name, BookmarkKind.CRASH, "azure-restore-point:CrashConsistent", self.group.group, taken)
        return Bookmark(name, BookmarkKind.CRASH, "azure-incremental-snapshot", None, taken)
