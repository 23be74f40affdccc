"""Page sets: sorted, disjoint half-open byte ranges at 512-byte page granularity, as a page blob tracks them.

A small interval-set type the disk store uses for a disk's allocated pages and for the pages a write or a clear
touched. Nothing here knows about files or HTTP.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

__all__ = ["PAGE", "PageSet"]

#: A page blob's page: every range Azure reports starts and ends on a multiple of this.
PAGE = 512


class PageSet:
    """Disjoint ``[start, end)`` ranges, kept sorted and merged (adjacent ranges coalesce, as Azure reports them)."""

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in ranges:
            self.add(start, end)

    def copy(self) -> PageSet:
        other = PageSet()
        other._starts = list(self._starts)
        other._ends = list(self._ends)
        return other

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(zip(self._starts, self._ends, strict=True))

    def __len__(self) -> int:
        return len(self._starts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PageSet) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"PageSet({list(self)!r})"

    @property
    def total(self) -> int:
        return sum(end - start for start, end in self)

    def add(self, start: int, end: int) -> None:
        if end <= start:
            return
        # Every range touching [start, end) (including adjacent ones) merges into one.
        lo = bisect.bisect_left(self._ends, start)
        hi = bisect.bisect_right(self._starts, end)
        if lo < hi:
            start = min(start, self._starts[lo])
            end = max(end, self._ends[hi - 1])
        self._starts[lo:hi] = [start]
        self._ends[lo:hi] = [end]

    def remove(self, start: int, end: int) -> None:
        if end <= start:
            return
        lo = bisect.bisect_right(self._ends, start)
        hi = bisect.bisect_left(self._starts, end)
        if lo >= hi:
            return
        keep_starts: list[int] = []
        keep_ends: list[int] = []
        if self._starts[lo] < start:
            keep_starts.append(self._starts[lo])
            keep_ends.append(start)
        if self._ends[hi - 1] > end:
            keep_starts.append(end)
            keep_ends.append(self._ends[hi - 1])
        self._starts[lo:hi] = keep_starts
        self._ends[lo:hi] = keep_ends

    def clip(self, start: int, end: int) -> list[tuple[int, int]]:
        """The ranges inside ``[start, end)``, cut at its edges."""
        lo = bisect.bisect_right(self._ends, start)
        out: list[tuple[int, int]] = []
        for i in range(lo, len(self._starts)):
            if self._starts[i] >= end:
                break
            out.append((max(self._starts[i], start), min(self._ends[i], end)))
        return out

    def contains(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` lies wholly inside one range."""
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end
