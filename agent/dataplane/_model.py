"""The block model as the data path sees it: the shared values (defined once, in :mod:`agent.journal`, the lowest
layer that uses them), byte ranges, and the check of a bookmark that arrives from a peer.

Constructing a value validates nothing (the hot path builds hundreds of thousands per second). Everything that
arrives from a peer is checked by :func:`agent.dataplane.decode_and_validate` / :func:`agent.dataplane.decode_batch`
before it becomes one of these.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from agent.dataplane.errors import InvalidBookmark
from agent.journal import BLOCK_SIZE, Batch, BlockWrite, Bookmark, BookmarkKind, Entry

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

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_MAX_LABEL = 256
_NO_LABELS = (BookmarkKind.RESYNC_START, BookmarkKind.RESYNC_COMPLETE)


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
    if kind in _NO_LABELS and (bookmark.tag is not None or bookmark.group is not None):
        raise InvalidBookmark(f"bookmark {bookmark.id}: a {kind.name.lower()} bookmark carries no tag or group")
    source_time = bookmark.source_time
    if source_time is not None and (
        isinstance(source_time, bool)
        or not isinstance(source_time, float | int)
        or not math.isfinite(source_time)
        or source_time < 0
    ):
        raise InvalidBookmark(f"bookmark {bookmark.id}: source_time must be a finite, non-negative number")
    return bookmark
