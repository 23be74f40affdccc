"""A compact binary form of bookmarks and encoded batches, for the on-disk backlog and the change log.

This is not the network format (the stream uses protobuf, mapped field by field in the servicer); it is how this
package stores what it must be able to resend byte for byte. Unpacking never trusts a length it has not checked
against the buffer, and returns payloads as views of the buffer it was given (no copies). Malformed input raises
``ValueError``; callers translate it into their own error.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from agent.dataplane._codec import Codec, EncodedBlock
from agent.dataplane._model import Bookmark, BookmarkKind

__all__ = ["EncodedBatch", "pack_batch", "pack_bookmark", "packed_size", "unpack_batch", "unpack_bookmark"]

_BATCH_MAGIC = b"FBB1"
_BATCH_HEAD = struct.Struct("<4sBxxxQQdI")  # magic, version, seq, cursor, captured_at, entry count
_BLOCK_HEAD = struct.Struct("<BBxxIQI32s")  # tag, codec, length, offset, payload length, digest
_BOOKMARK_HEAD = struct.Struct("<BBxxdHHH")  # tag, kind, source_time, id/tag/group lengths
_TAG_BLOCK = 1
_TAG_BOOKMARK = 2
_ABSENT = 0xFFFF
_VERSION = 1


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """A batch ready for the wire. ``cursor`` is the source position after its last entry (where a restart resumes
    reading); ``captured_at`` is when its oldest entry was captured (wall clock), for the lag metric."""

    seq: int
    entries: tuple[EncodedBlock | Bookmark, ...]
    cursor: int
    captured_at: float

    @property
    def plain_bytes(self) -> int:
        """Source bytes the batch carries (declared block lengths)."""
        return sum(e.length for e in self.entries if isinstance(e, EncodedBlock))

    @property
    def wire_bytes(self) -> int:
        """Payload bytes the batch puts on the wire."""
        return sum(len(e.compressed) for e in self.entries if isinstance(e, EncodedBlock))


def _pack_label(value: str | None) -> bytes:
    return b"" if value is None else value.encode()


def pack_bookmark(bookmark: Bookmark) -> bytes:
    ident, tag, group = bookmark.id.encode(), _pack_label(bookmark.tag), _pack_label(bookmark.group)
    head = _BOOKMARK_HEAD.pack(
        _TAG_BOOKMARK,
        bookmark.kind,
        math.nan if bookmark.source_time is None else bookmark.source_time,  # NaN stands for "not given"
        len(ident),
        _ABSENT if bookmark.tag is None else len(tag),
        _ABSENT if bookmark.group is None else len(group),
    )
    return head + ident + tag + group


def _unpack_bookmark_at(buf: memoryview, pos: int) -> tuple[Bookmark, int]:
    tag_byte, kind, source_time, id_len, tag_len, group_len = _BOOKMARK_HEAD.unpack_from(buf, pos)
    if tag_byte != _TAG_BOOKMARK:
        raise ValueError(f"expected a bookmark at {pos}")
    pos += _BOOKMARK_HEAD.size
    labels: list[str | None] = []
    for size in (id_len, tag_len, group_len):
        if size == _ABSENT:
            labels.append(None)
            continue
        if pos + size > len(buf):
            raise ValueError("bookmark label runs past the end")
        labels.append(bytes(buf[pos : pos + size]).decode())
        pos += size
    ident, tag, group = labels
    if ident is None:
        raise ValueError("bookmark without id")
    return Bookmark(ident, BookmarkKind(kind), tag, group, None if math.isnan(source_time) else source_time), pos


def unpack_bookmark(data: bytes | memoryview) -> Bookmark:
    buf = memoryview(data)
    try:
        bookmark, end = _unpack_bookmark_at(buf, 0)
    except struct.error as exc:
        raise ValueError(str(exc)) from exc
    if end != len(buf):
        raise ValueError("trailing bytes after a bookmark")
    return bookmark


def pack_batch(batch: EncodedBatch) -> list[bytes | memoryview]:
    """The batch as a list of buffers (for ``os.writev``); payloads are not copied."""
    parts: list[bytes | memoryview] = [
        _BATCH_HEAD.pack(_BATCH_MAGIC, _VERSION, batch.seq, batch.cursor, batch.captured_at, len(batch.entries))
    ]
    for entry in batch.entries:
        if isinstance(entry, EncodedBlock):
            parts.append(
                _BLOCK_HEAD.pack(
                    _TAG_BLOCK, entry.codec, entry.length, entry.offset, len(entry.compressed), entry.digest
                )
            )
            if len(entry.compressed):
                parts.append(entry.compressed)
        else:
            parts.append(pack_bookmark(entry))
    return parts


def unpack_batch(data: bytes | memoryview) -> EncodedBatch:
    """Inverse of :func:`pack_batch`; block payloads are views of ``data``."""
    buf = memoryview(data)
    try:
        return _unpack_batch(buf)
    except struct.error as exc:
        raise ValueError(str(exc)) from exc


def _unpack_batch(buf: memoryview) -> EncodedBatch:
    magic, version, seq, cursor, captured_at, count = _BATCH_HEAD.unpack_from(buf, 0)
    if magic != _BATCH_MAGIC or version != _VERSION:
        raise ValueError("not a packed batch of a known version")
    pos = _BATCH_HEAD.size
    entries: list[EncodedBlock | Bookmark] = []
    for _ in range(count):
        if pos >= len(buf):
            raise ValueError("batch ends before its last entry")
        if buf[pos] == _TAG_BLOCK:
            _, codec, length, offset, size, digest = _BLOCK_HEAD.unpack_from(buf, pos)
            pos += _BLOCK_HEAD.size
            if pos + size > len(buf):
                raise ValueError("block payload runs past the end")
            entries.append(EncodedBlock(offset, length, buf[pos : pos + size], digest, Codec(codec)))
            pos += size
        else:
            bookmark, pos = _unpack_bookmark_at(buf, pos)
            entries.append(bookmark)
    if pos != len(buf):
        raise ValueError("trailing bytes after the last entry")
    return EncodedBatch(seq, tuple(entries), cursor, captured_at)


def packed_size(parts: Sequence[bytes | memoryview]) -> int:
    return sum(len(p) for p in parts)
