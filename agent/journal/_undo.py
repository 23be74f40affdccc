"""The undo log: before-images of the blocks that apply overwrote, in write order, grouped per apply round.

Files ``undo/<segment number, 12 digits>.undo``. Each record uses the framing of _records (magic b"FBUN", kind 1,
seq = the last batch seq of the apply round, aux bit 0 = compressed), is padded with zeros to a multiple of 4096 and
written with O_DIRECT. Its payload::

    u64 first batch seq of the round
    u32 item count, then per item
        u8 1 EXTENT   u64 batch seq, u32 entry index, u64 disk offset, u32 blocks, u32 stored bytes
        u8 2 POINT    u16 length, point id (UTF-8): the point lies here, between the extents before and after it
    data  each extent's before-image in item order: raw, or (aux bit 0) one zstd level-1 frame per extent,
          so large rounds compress on several threads

A before-image is captured only for the first overwrite of a block after each point, so going back to point P reads
the records from P's position on and restores, for every block, the first before-image found: exactly the blocks
written since P. Segments are deleted whole once the oldest retained point lies past them.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import zstandard

from agent.journal._io import IO
from agent.journal._records import Record, RecordLog
from agent.journal._types import BLOCK_SIZE
from agent.journal.errors import JournalCorrupt

__all__ = ["Extent", "UndoGroup", "UndoLog", "UndoPos"]

MAGIC = b"FBUN"
_KIND_GROUP = 1
_COMPRESSED = 1
_ALIGN = 4096  # records padded to 4 KiB and written with O_DIRECT
_HEAD = struct.Struct("<QI")
_EXTENT = struct.Struct("<BQIQII")
_POINT = struct.Struct("<BH")

UndoPos = tuple[int, int, int]  # (segment, record offset, items of that record to skip)


@dataclass(frozen=True, slots=True)
class Extent:
    seq: int
    index: int
    offset: int
    blocks: int
    stored: int = 0  # bytes of its before-image in the record (a zstd frame of its own when compressed)


@dataclass(frozen=True, slots=True)
class UndoGroup:
    segment: int
    offset: int
    first_seq: int
    last_seq: int
    items: list[Extent | str]  # a str is a point id
    record: Record

    def data(self) -> bytes:
        """The before-images of every extent, concatenated in item order."""
        extents = [item for item in self.items if isinstance(item, Extent)]
        pos = _data_start(self.record.payload, len(self.items))
        raw = memoryview(self.record.payload)
        if not self.record.aux & _COMPRESSED:
            return bytes(raw[pos:])
        decompressor = zstandard.ZstdDecompressor()
        images = []
        for extent in extents:
            images.append(decompressor.decompress(raw[pos : pos + extent.stored]))
            pos += extent.stored
        return b"".join(images)


def _data_start(payload: bytes, count: int) -> int:
    pos = _HEAD.size
    for _ in range(count):
        if payload[pos] == 1:
            pos += _EXTENT.size
        else:
            (_, length) = _POINT.unpack_from(payload, pos)
            pos += _POINT.size + length
    return pos


def _decode(segment: int, record: Record) -> UndoGroup:
    payload = record.payload
    first_seq, count = _HEAD.unpack_from(payload, 0)
    pos = _HEAD.size
    items: list[Extent | str] = []
    for _ in range(count):
        if payload[pos] == 1:
            _, seq, index, offset, blocks, stored = _EXTENT.unpack_from(payload, pos)
            items.append(Extent(seq, index, offset, blocks, stored))
            pos += _EXTENT.size
        else:
            (_, length) = _POINT.unpack_from(payload, pos)
            items.append(payload[pos + _POINT.size : pos + _POINT.size + length].decode())
            pos += _POINT.size + length
    return UndoGroup(segment, record.offset, first_seq, record.seq, items, record)


class UndoLog:
    """Segmented undo records. Appends are serialised by the engine's apply lock."""

    def __init__(self, io: IO, directory: str, segment_bytes: int, *, compress: bool = True) -> None:
        self.io = io
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.compress = compress
        self._compressor = zstandard.ZstdCompressor(level=1)
        self.sizes: dict[int, int] = {}
        self._active: RecordLog | None = None
        self._active_no = 0

    def recover(self, end: tuple[int, int]) -> list[UndoGroup]:
        """Open the segments; return the valid groups written after the checkpointed ``end`` (torn tail cut)."""
        numbers = sorted(int(n[:-5]) for n in self.io.listdir(self.dir) if n.endswith(".undo"))
        for number in numbers:
            handle = self.io.open(self._path(number))
            self.sizes[number] = self.io.size(handle)
            self.io.close(handle)
        segment, offset = end
        later: list[UndoGroup] = []
        for number in [n for n in numbers if n >= segment]:
            log = RecordLog(self.io, self._path(number), MAGIC, create=False, align=_ALIGN)
            start = offset if number == segment else 0
            for record in log.scan(start):
                later.append(_decode(number, record))
            if log.valid_end < log.end:
                if number != numbers[-1]:
                    log.close()
                    raise JournalCorrupt(
                        f"undo segment {log.path} is damaged at byte {log.valid_end} although later segments exist",
                        remedy="recovery points older than this damage cannot be trusted: verify or resync this pair",
                    )
                log.truncate_torn_tail(log.valid_end)
            self.sizes[number] = log.end
            log.close()
        self._active_no = numbers[-1] if numbers else segment
        if self._active_no in self.sizes:
            self._active = RecordLog(self.io, self._path(self._active_no), MAGIC, create=False, align=_ALIGN)
        return later

    def end(self) -> tuple[int, int]:
        if self._active is None:
            return (self._active_no, 0)
        return (self._active_no, self._active.end)

    def append(
        self, first_seq: int, last_seq: int, items: list[Extent | str], chunks: list[bytes | bytearray]
    ) -> tuple[int, int]:
        """Write one group record (not yet durable). Returns its (segment, offset)."""
        if self._active is None or self._active.end >= self.segment_bytes:
            self._rotate()
        assert self._active is not None
        data: list[bytes | bytearray | memoryview] = list(chunks)
        flags = 0
        if self.compress and chunks:
            packed = self._pack(chunks)
            # Only where it pays: incompressible blocks (encrypted volumes) are stored as they are.
            if sum(len(p) for p in packed) < sum(len(c) for c in chunks) * 0.9:
                data, flags = packed, _COMPRESSED
        parts = [_HEAD.pack(first_seq, len(items))]
        stored = iter(data)
        for item in items:
            if isinstance(item, Extent):
                size = len(next(stored))
                parts.append(_EXTENT.pack(1, item.seq, item.index, item.offset, item.blocks, size))
            else:
                raw = item.encode()
                parts.append(_POINT.pack(2, len(raw)) + raw)
        offset = self._active.append(_KIND_GROUP, last_seq, flags, [b"".join(parts), *data])
        self.sizes[self._active_no] = self._active.end
        return (self._active_no, offset)

    def _pack(self, chunks: list[bytes | bytearray]) -> list[bytes | bytearray | memoryview]:
        """One zstd frame per extent; large rounds are compressed on two threads inside zstd (GIL released)."""
        if sum(len(c) for c in chunks) < (1 << 20):
            return [self._compressor.compress(chunk) for chunk in chunks]
        inputs: list[bytes | bytearray | memoryview] = list(chunks)
        frames = self._compressor.multi_compress_to_buffer(inputs, threads=2)
        # BufferSegment implements the buffer protocol; its type stub does not say so.
        return [memoryview(frames[i]) for i in range(len(frames))]  # type: ignore[arg-type]

    def sync(self) -> None:
        if self._active is not None:
            self._active.sync()

    def _rotate(self) -> None:
        if self._active is not None:
            self._active.close()
            self._active_no += 1
        self._active = RecordLog(self.io, self._path(self._active_no), MAGIC, create=True, align=_ALIGN)
        self.sizes[self._active_no] = self._active.end
        self.io.fsync_dir(self.dir)

    def groups_from(self, pos: UndoPos) -> Iterator[UndoGroup]:
        """Every group from ``pos`` to the end, in write order (the caller skips ``pos[2]`` items of the first)."""
        segment, offset, _ = pos
        for number in sorted(n for n in self.sizes if n >= segment):
            log = RecordLog(self.io, self._path(number), MAGIC, create=False, align=_ALIGN)
            try:
                start = offset if number == segment else 0
                for record in log.scan(start):
                    yield _decode(number, record)
                if log.valid_end < self.sizes[number]:
                    raise JournalCorrupt(f"undo segment {log.path} is damaged at byte {log.valid_end}")
            finally:
                log.close()

    def read_group(self, segment: int, offset: int) -> UndoGroup:
        log = RecordLog(self.io, self._path(segment), MAGIC, create=False, align=_ALIGN)
        try:
            record = log.read_at(offset)
        finally:
            log.close()
        if record is None:
            raise JournalCorrupt(
                f"undo record at byte {offset} of {log.path} is damaged",
                remedy="this recovery point cannot be restored: choose a newer one or resync",
            )
        return _decode(segment, record)

    def bytes_after(self, pos: UndoPos) -> int:
        segment, offset, _ = pos
        return sum(size for n, size in self.sizes.items() if n > segment) + max(0, self.sizes.get(segment, 0) - offset)

    def total_bytes(self) -> int:
        return sum(self.sizes.values())

    def delete_before(self, segment: int) -> int:
        """Unlink whole segments numbered below ``segment`` (never the active one); returns the bytes freed."""
        freed = 0
        for number in sorted(n for n in self.sizes if n < min(segment, self._active_no)):
            self.io.unlink(self._path(number))
            freed += self.sizes.pop(number)
        return freed

    def delete_all(self) -> None:
        if self._active is not None:
            self._active.close()
            self._active = None
        for number in list(self.sizes):
            self.io.unlink(self._path(number))
        self.sizes.clear()
        self._active_no += 1

    def _path(self, number: int) -> str:
        return os.path.join(self.dir, f"{number:012d}.undo")

    def close(self) -> None:
        if self._active is not None:
            self._active.close()
            self._active = None


def extent_bytes(items: list[Extent | str]) -> int:
    return sum(item.blocks * BLOCK_SIZE for item in items if isinstance(item, Extent))
