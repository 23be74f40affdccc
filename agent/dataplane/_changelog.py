"""The change log: an ordered, segmented, checksummed log of block writes and bookmarks, and the source that
reads it.

Positions (cursors) are byte offsets in one logical stream; segment files are named by the position of their first
record (``00000000000000000000.log``) and a record never spans two segments. Record layout, little-endian::

    magic "FBLR" | version u8 (1) | type u8 (1 write, 2 bookmark) | reserved u16 | payload length u32
    | disk offset u64 (writes) | captured_at f64 (wall clock) | blake3(payload) 32 bytes | crc32(header[:60]) u32
    | payload (the written data, or a packed bookmark)

The header's CRC covers the digest, and the digest covers the payload, so a torn or damaged record is detected
whatever part of it is hit; the digest doubles as the block's wire digest, so a block is hashed once, when it is
written, and checked again on every read. Readers stop at the durable position the writer publishes in ``durable``
(8 bytes, rewritten after every group commit): a record is never sent before it is durable. The sender reports how
far the master target has acknowledged in ``acknowledged`` (8 bytes), which the writer trims to
(:meth:`agent.dataplane.Tracker.trim_acknowledged`).
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import NamedTuple

import blake3

from agent.dataplane._codec import MAX_BLOCK_BYTES
from agent.dataplane._model import BlockWrite, Bookmark
from agent.dataplane._source import SourceEntry
from agent.dataplane._wire import unpack_bookmark
from agent.dataplane.errors import BadCursor, ChangeLogError, CursorTrimmed, LogCorrupt
from agent.journal import IO, OsIO, write_all

__all__ = [
    "ACKNOWLEDGED_FILE",
    "DURABLE_FILE",
    "HEADER",
    "RECORD_BOOKMARK",
    "RECORD_WRITE",
    "AcknowledgedPosition",
    "ChangeLogSource",
    "Record",
    "list_segments",
    "pack_header",
    "read_acknowledged",
    "read_durable",
    "scan_records",
    "segment_path",
]

HEADER = struct.Struct("<4sBBHIQd32sI")
_CRC_SPAN = HEADER.size - 4
_MAGIC = b"FBLR"
_VERSION = 1
RECORD_WRITE = 1
RECORD_BOOKMARK = 2
_MAX_BOOKMARK_PAYLOAD = 4096
DURABLE_FILE = "durable"
ACKNOWLEDGED_FILE = "acknowledged"
_SEGMENT = re.compile(r"(\d{20})\.log")
_READ_SIZE = 4 << 20


class Record(NamedTuple):
    """A decoded record; ``end`` is the position just after it."""

    entry: BlockWrite | Bookmark
    captured_at: float
    end: int


def pack_header(kind: int, payload_length: int, offset: int, captured_at: float, digest: bytes) -> bytes:
    head = struct.pack("<4sBBHIQd32s", _MAGIC, _VERSION, kind, 0, payload_length, offset, captured_at, digest)
    return head + struct.pack("<I", zlib.crc32(head))


def segment_path(log_dir: str, start: int) -> str:
    return os.path.join(log_dir, f"{start:020d}.log")


def list_segments(log_dir: str) -> list[int]:
    """Start positions of the segment files, ascending."""
    return sorted(int(m.group(1)) for name in os.listdir(log_dir) if (m := _SEGMENT.fullmatch(name)))


def read_durable(log_dir: str) -> int:
    """The durable position the writer last published (0 if it never did)."""
    return _read_position(os.path.join(log_dir, DURABLE_FILE))


def read_acknowledged(log_dir: str) -> int:
    """The position the sender last reported as acknowledged by the master target (0 if it never did): the writer
    may trim the log up to it."""
    return _read_position(os.path.join(log_dir, ACKNOWLEDGED_FILE))


def _read_position(path: str) -> int:
    try:
        with open(path, "rb") as handle:
            data = handle.read(8)
    except FileNotFoundError:
        return 0
    return int.from_bytes(data, "little") if len(data) == 8 else 0


class AcknowledgedPosition:
    """The sender's side of ``acknowledged``: rewritten (8 bytes) after every acknowledgement. A hint for the
    writer, never fsynced: after a crash it may hold an older (smaller) position, so the log is trimmed less, never
    more."""

    def __init__(self, log_dir: str | os.PathLike[str], *, io: IO | None = None) -> None:
        self._io = io or OsIO()
        self._handle = self._io.open(os.path.join(os.fspath(log_dir), ACKNOWLEDGED_FILE), create=True)
        self.position = _read_position(self._handle.path)

    def publish(self, position: int) -> None:
        if position > self.position:
            write_all(self._io, self._handle, position.to_bytes(8, "little"), 0)
            self.position = position

    def close(self) -> None:
        self._io.close(self._handle)


def _parse(buf: bytes, pos: int, position: int) -> tuple[Record, int] | None:
    """The record at ``buf[pos:]`` (stream position ``position``) and its size, or None if it is not whole and
    valid in ``buf``."""
    if pos + HEADER.size > len(buf):
        return None
    magic, version, kind, _, length, offset, captured_at, digest, crc = HEADER.unpack_from(buf, pos)
    if magic != _MAGIC or version != _VERSION or zlib.crc32(buf[pos : pos + _CRC_SPAN]) != crc:
        return None
    limit = MAX_BLOCK_BYTES if kind == RECORD_WRITE else _MAX_BOOKMARK_PAYLOAD
    if kind not in (RECORD_WRITE, RECORD_BOOKMARK) or length > limit:
        return None
    start = pos + HEADER.size
    if start + length > len(buf):
        return None
    payload = memoryview(buf)[start : start + length]
    if blake3.blake3(payload).digest() != digest:
        return None
    size = HEADER.size + length
    entry: BlockWrite | Bookmark
    if kind == RECORD_WRITE:
        entry = BlockWrite(offset, payload, digest)
    else:
        try:
            entry = unpack_bookmark(payload)
        except ValueError:
            return None
    return Record(entry, captured_at, position + size), size


def scan_records(path: str, start: int, position: int, stop: int | None = None) -> Iterator[Record]:
    """Valid records of the segment file ``path`` (whose first record is at ``start``) from ``position``, until the
    first invalid or incomplete one, or ``stop``. Each read is a fresh buffer that the yielded entries view."""
    with open(path, "rb", buffering=0) as handle:
        fd = handle.fileno()
        while stop is None or position < stop:
            want = _READ_SIZE if stop is None else min(_READ_SIZE, stop - position)
            buf = os.pread(fd, max(want, HEADER.size + MAX_BLOCK_BYTES), position - start)
            pos = 0
            while stop is None or position < stop:
                parsed = _parse(buf, pos, position)
                if parsed is None:
                    break
                record, size = parsed
                yield record
                pos += size
                position += size
            if pos == 0:
                return


class ChangeLogSource:
    """Reads the change log in ``log_dir`` in write order, up to the writer's durable position.

    ``durable_position`` returns that position; by default it is read from the ``durable`` file the
    :class:`Tracker` publishes (so the reader may live in another process). Records before it that fail their
    checksum raise :class:`LogCorrupt`.
    """

    def __init__(self, log_dir: str | os.PathLike[str], *, durable_position: Callable[[], int] | None = None) -> None:
        self._dir = os.fspath(log_dir)
        self._durable = durable_position or (lambda: read_durable(self._dir))

    def durable_position(self) -> int:
        """The writer's durable position: every record before it may be read and sent."""
        return self._durable()

    def changes(self, cursor: int) -> Iterator[SourceEntry]:
        limit = self._durable()
        try:
            segments = list_segments(self._dir)
        except FileNotFoundError as exc:
            raise ChangeLogError(f"there is no change log at {self._dir}", remedy="start the tracker first") from exc
        if not segments or cursor < segments[0]:
            raise CursorTrimmed(
                f"change log cursor {cursor} is older than the oldest retained record "
                f"({segments[0] if segments else 'none'}); resync the disk"
            )
        if cursor > limit:
            raise BadCursor(f"change log cursor {cursor} is past the durable end {limit}")
        index = max(i for i, start in enumerate(segments) if start <= cursor)
        position = cursor
        while position < limit:
            start = segments[index]
            stop = segments[index + 1] if index + 1 < len(segments) else limit
            try:
                for record in scan_records(segment_path(self._dir, start), start, position, min(stop, limit)):
                    yield SourceEntry(record.entry, record.end, record.captured_at)
                    position = record.end
            except FileNotFoundError as exc:
                raise CursorTrimmed(
                    f"change log segment {start} was trimmed while being read; resync the disk"
                ) from exc
            if position < min(stop, limit):
                raise LogCorrupt(
                    f"change log record at {position} (segment {start}) is damaged or not at a record boundary; "
                    "resync the disk"
                )
            index += 1
