"""The snapshot source's cursor: one ``int`` per pair, as the data path's backlog stores it.

::

    cursor = cycle << 36 | position       position: how far the cycle got (0: nothing sent; then its opening
                                          bookmark, its blocks by 4 KiB end offset, its closing one);
                                          DONE = 2**36 - 1 after its point's bookmark

Cycle 0 position 0 (cursor 0) is a pair that never sent anything; a disk of up to 2**34 blocks (64 TiB, Azure's
largest) fits the position, and cursors only grow (a later cycle always has a larger cursor).
"""

from __future__ import annotations

__all__ = ["DONE", "make_cursor", "split_cursor"]

_POSITION_BITS = 36
#: Position of a cycle's cursor after its bookmark.
DONE = (1 << _POSITION_BITS) - 1
_MAX_CYCLE = (1 << (63 - _POSITION_BITS)) - 1


def make_cursor(cycle: int, position: int) -> int:
    if not 0 <= cycle <= _MAX_CYCLE or not 0 <= position <= DONE:
        raise ValueError(f"cursor ({cycle}, {position}) is out of range")
    return cycle << _POSITION_BITS | position


def split_cursor(cursor: int) -> tuple[int, int]:
    if not 0 <= cursor < 1 << 63:
        raise ValueError(f"snapshot cursor {cursor} is out of range")
    return cursor >> _POSITION_BITS, cursor & DONE
