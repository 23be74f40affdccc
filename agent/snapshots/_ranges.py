"""From Azure's page ranges to the blocks the data path sends: pure functions, no I/O.

Azure reports page blob ranges at 512-byte granularity (``PageRange`` for written pages, ``ClearRange`` for cleared
ones); the data path moves 4096-byte-aligned blocks of at most 1 MiB. :func:`plan_blocks` widens every written range
to 4 KiB boundaries (the extra bytes are read, so the block carries the snapshot's content around the change),
turns 4 KiB blocks that lie wholly inside cleared ranges into zero blocks that need no read, and cuts the result into
runs of at most ``max_block`` bytes. A block touched by both a written and a cleared page is read: the snapshot
holds its zeros and its data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from agent.dataplane import BLOCK_SIZE
from agent.snapshots.errors import InvalidPageList

__all__ = ["MAX_BLOCK", "PAGE", "PageRange", "PlannedBlock", "check_ranges", "complement", "plan_blocks"]

#: A page blob's page.
PAGE = 512
#: Largest block the planner emits (the data path's batches are about this size).
MAX_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class PageRange:
    """``[start, end)`` of a page blob; ``cleared`` for a range Azure reports as cleared (reads as zeros)."""

    start: int
    end: int
    cleared: bool = False

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class PlannedBlock:
    """``length`` bytes at ``offset`` to send; ``zero`` blocks are all zeros and need no read."""

    offset: int
    length: int
    zero: bool = False

    @property
    def end(self) -> int:
        return self.offset + self.length


def check_ranges(ranges: Sequence[PageRange], size: int) -> Sequence[PageRange]:
    """``ranges`` if they are 512-byte aligned, inside ``[0, size)``, sorted and disjoint; else
    :class:`InvalidPageList` (Azure promised all of it; data must not be sent from a list that breaks it)."""
    previous_end = 0
    for r in ranges:
        if r.start % PAGE or r.end % PAGE or r.start < 0 or r.end > size or r.end <= r.start:
            raise InvalidPageList(
                f"Azure returned the page range [{r.start}, {r.end}) for a {size}-byte disk: not 512-byte aligned "
                "inside the disk"
            )
        if r.start < previous_end:
            raise InvalidPageList(f"Azure returned overlapping or unsorted page ranges at {r.start}")
        previous_end = r.end
    return ranges


def complement(allocated: Sequence[PageRange], size: int) -> list[PageRange]:
    """``allocated`` as written ranges, and every gap between them (up to ``size``) as a cleared range: the image
    as a change against an unknown disk (what never was written reads as zeros)."""
    out: list[PageRange] = []
    position = 0
    for r in allocated:
        if r.start > position:
            out.append(PageRange(position, r.start, cleared=True))
        out.append(PageRange(r.start, r.end))
        position = r.end
    if position < size:
        out.append(PageRange(position, size, cleared=True))
    return out


def _down(offset: int) -> int:
    return offset - offset % BLOCK_SIZE


def _up(offset: int) -> int:
    return -(-offset // BLOCK_SIZE) * BLOCK_SIZE


def _coalesce(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans merged where they touch or overlap."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def plan_blocks(ranges: Sequence[PageRange], size: int, *, max_block: int = MAX_BLOCK) -> Iterator[PlannedBlock]:
    """The blocks that bring a copy of the older image up to the newer one, in offset order (see module doc).

    ``size`` must be a multiple of 4096; ``max_block`` a positive multiple of 4096.
    """
    if size % BLOCK_SIZE:
        raise InvalidPageList(f"the disk is {size} bytes, not a multiple of {BLOCK_SIZE}; it cannot be replicated")
    if max_block <= 0 or max_block % BLOCK_SIZE:
        raise ValueError(f"max_block must be a positive multiple of {BLOCK_SIZE}")
    check_ranges(ranges, size)
    down, up = _down, _up
    reads: list[tuple[int, int]] = [(down(r.start), up(r.end)) for r in ranges if not r.cleared]
    zeros: list[tuple[int, int]] = []
    for start, end in _coalesce((r.start, r.end) for r in ranges if r.cleared):
        inner_start, inner_end = up(start), down(end)
        if inner_start < inner_end:
            zeros.append((inner_start, inner_end))
            reads += [(down(start), inner_start), (inner_end, up(end))]
        else:
            reads.append((down(start), up(end)))  # a cleared part of one block: the block is read whole
    read_spans = _coalesce((s, e) for s, e in reads if s < e)
    # Zero spans lose every block a read span touches (reads win: the block holds data besides the cleared pages).
    runs: list[tuple[int, int, bool]] = [(s, e, False) for s, e in read_spans]
    i = 0
    for start, end in zeros:
        position = start
        while i < len(read_spans) and read_spans[i][1] <= position:
            i += 1
        j = i
        while position < end:
            if j < len(read_spans) and read_spans[j][0] < end:
                if read_spans[j][0] > position:
                    runs.append((position, read_spans[j][0], True))
                position = max(position, read_spans[j][1])
                j += 1
            else:
                runs.append((position, end, True))
                position = end
    for start, end, zero in sorted(runs):
        for offset in range(start, end, max_block):
            yield PlannedBlock(offset, min(max_block, end - offset), zero)
