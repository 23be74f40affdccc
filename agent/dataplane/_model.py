"""The block model shared by the process server, the stream and the master target's storage engine.

These are plain values: constructing one validates nothing (the hot path builds hundreds of thousands per second).
Everything that arrives from a peer is checked by :func:`agent.dataplane.decode_and_validate` /
:func:`agent.dataplane.decode_batch` before it becomes one of these.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

from agent.dataplane.errors import InvalidBookmark

__all__ = [
    "BLOCK_SIZE",
    "Batch",
    "BlockWrite",
    "Bookmark",
    "BookmarkKind",
    "Entry",
    "Extent",
    "validate_bookmark",
]

#: Offsets and lengths on the wire and on disk are multiples of this.
BLOCK_SIZE = 4096

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_MAX_LABEL = 256


@dataclass(frozen=True, slots=True)
class BlockWrite:
    """``data`` written at ``offset``; ``digest`` is the 32-byte blake3 of ``data``. ``data`` is a byte buffer."""

    offset: int
    data: bytes | memoryview
    digest: bytes

    @property
    def length(self) -> int:
        return len(self.data)


class BookmarkKind(enum.IntEnum):
    """CRASH: every earlier write is in, nothing later. APP: the same, quiesced by the application (``tag`` names
    the provider, e.g. a VSS writer set). RESYNC_COMPLETE: a full resync pass ended here. RESYNC_START: the writes
    that follow are not in the source's write order (a resync pass, or a snapshot cycle sent in offset order), so no
    state before the next RESYNC_COMPLETE is one the source had: the master target keeps no point in between."""

    CRASH = 1
    APP = 2
    RESYNC_COMPLETE = 3
    RESYNC_START = 4


@dataclass(frozen=True, slots=True)
class Bookmark:
    """A point in the write order. ``group`` names a multi-disk consistency group the bookmark belongs to;
    ``source_time`` is the source's wall-clock time (seconds since the epoch) when it was taken."""

    id: str
    kind: BookmarkKind
    tag: str | None
    group: str | None
    source_time: float


Entry: TypeAlias = BlockWrite | Bookmark


@dataclass(frozen=True, slots=True)
class Batch:
    """A decoded, validated batch: ``entries`` in write order. ``seq`` starts at 1 per (pair, generation)."""

    seq: int
    entries: Sequence[Entry]


class Extent(NamedTuple):
    """A byte range of a disk."""

    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


def validate_bookmark(bookmark: Bookmark) -> Bookmark:
    """Return ``bookmark`` if its fields are within the contract, else raise :class:`InvalidBookmark`."""
    if not isinstance(bookmark.id, str) or _ID_PATTERN.fullmatch(bookmark.id) is None:
        raise InvalidBookmark(
            f"bookmark id {bookmark.id!r} is not 1-128 characters of letters, digits and ._:@- (starting with a "
            "letter or digit)"
        )
    try:
        kind = BookmarkKind(bookmark.kind)
    except ValueError:
        raise InvalidBookmark(f"bookmark {bookmark.id}: unknown kind {bookmark.kind!r}") from None
    for name, value in (("tag", bookmark.tag), ("group", bookmark.group)):
        if value is not None and (
            not isinstance(value, str) or not 0 < len(value) <= _MAX_LABEL or not value.isprintable()
        ):
            raise InvalidBookmark(f"bookmark {bookmark.id}: {name} must be 1-{_MAX_LABEL} printable characters")
    if kind is BookmarkKind.APP and bookmark.tag is None:
        raise InvalidBookmark(f"bookmark {bookmark.id}: an application-consistent bookmark needs a tag")
    if kind in (BookmarkKind.RESYNC_COMPLETE, BookmarkKind.RESYNC_START) and (
        bookmark.tag is not None or bookmark.group is not None
    ):
        raise InvalidBookmark(f"bookmark {bookmark.id}: a resync bookmark carries no tag or group")
    if (
        not isinstance(bookmark.source_time, float | int)
        or not math.isfinite(bookmark.source_time)
        or bookmark.source_time < 0
    ):
        raise InvalidBookmark(f"bookmark {bookmark.id}: source_time must be a finite, non-negative number")
    return bookmark
