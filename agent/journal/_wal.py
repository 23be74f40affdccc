"""The redo journal (WAL): new block data, durable before a batch is acknowledged, dropped once applied.

Files ``wal/<first seq, 20 digits>.wal``, each a sequence of batch records aligned to 4096 so they can be written with
O_DIRECT in one pwrite from one page-aligned buffer::

    header (64 bytes, see _records; kind 1; length = table bytes; seq = batch seq; aux = data bytes)
    table   u32 entry count, then per entry
              u8 1 WRITE          u64 offset, u32 blocks, 32-byte blake3 of the data
              u8 2 POINT          u32 length, JSON {id, kind, tag, group, time}
              u8 3 RESYNC_START
              u8 4 WRITTEN        u64 offset, u32 blocks, 32-byte blake3: written to the target before this record
                                  (initial sync, see the engine), so the record carries no data for it
    zero padding to the next multiple of 4096
    data    the WRITE entries' blocks, concatenated in entry order

The header checksum covers the table, which carries each write's blake3, so the data needs no second hash on the hot
path: recovery checks every unapplied write's data against its blake3 instead. A record whose table or data does not
check out is the torn tail of an unacknowledged append and is truncated; the same defect followed by a valid record is
corruption and stops recovery.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import threading
from dataclasses import dataclass

import blake3

from agent.journal._io import IO, Handle, aligned_buffer, write_all
from agent.journal._records import HEADER_SIZE, pack_header, unpack_header
from agent.journal._records import VERSION as RECORD_VERSION
from agent.journal._types import BLOCK_SIZE
from agent.journal.errors import JournalCorrupt

__all__ = ["PendingBatch", "PointEntry", "ResyncStart", "Wal", "WriteEntry"]

MAGIC = b"FBWR"
_KIND_BATCH = 1
_WRITE = struct.Struct("<BQI32s")
_COUNT = struct.Struct("<I")
_LEN = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class WriteEntry:
    offset: int
    blocks: int
    digest: bytes
    data: memoryview  # a page-aligned view into the batch buffer


@dataclass(frozen=True, slots=True)
class PointEntry:
    id: str
    kind: str
    time: float
    tag: str | None
    group: str | None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "time": self.time, "tag": self.tag, "group": self.group}


@dataclass(frozen=True, slots=True)
class ResyncStart:
    pass


Entry = WriteEntry | PointEntry | ResyncStart


@dataclass(slots=True)
class PendingBatch:
    """A durable batch not yet applied; ``buffer`` backs the write entries' data (returned to the pool after)."""

    seq: int
    entries: list[Entry]
    buffer: mmap.mmap | None
    nbytes: int


def encode_table(entries: list[tuple[int, object]]) -> bytes:
    """Entries as (type, value): WRITE -> (offset, blocks, digest), POINT -> PointEntry, RESYNC_START -> None."""
    parts = [_COUNT.pack(len(entries))]
    for kind, value in entries:
        if kind in (1, 4):
            assert isinstance(value, tuple)
            parts.append(_WRITE.pack(kind, *value))
        elif kind == 2:
            assert isinstance(value, PointEntry)
            raw = json.dumps(value.to_json(), sort_keys=True).encode()
            parts.append(bytes([2]) + _LEN.pack(len(raw)) + raw)
        else:
            parts.append(bytes([3]))
    return b"".join(parts)


def _decode_table(table: bytes, buffer: memoryview, data_start: int) -> list[Entry] | None:
    """Decode a table whose checksum held; None if it is inconsistent with the data length (never trust a length)."""
    (count,) = _COUNT.unpack_from(table, 0)
    pos = _COUNT.size
    cursor = data_start
    entries: list[Entry] = []
    try:
        for _ in range(count):
            kind = table[pos]
            if kind == 1:
                _, offset, blocks, digest = _WRITE.unpack_from(table, pos)
                pos += _WRITE.size
                length = blocks * BLOCK_SIZE
                if cursor + length > len(buffer):
                    return None
                entries.append(WriteEntry(offset, blocks, digest, buffer[cursor : cursor + length]))
                cursor += length
            elif kind == 2:
                (length,) = _LEN.unpack_from(table, pos + 1)
                raw = json.loads(table[pos + 1 + _LEN.size : pos + 1 + _LEN.size + length])
                pos += 1 + _LEN.size + length
                entries.append(PointEntry(raw["id"], raw["kind"], raw["time"], raw["tag"], raw["group"]))
            elif kind == 3:
                pos += 1
                entries.append(ResyncStart())
            elif kind == 4:
                pos += _WRITE.size  # already on the target: nothing to apply
            else:
                return None
    except (struct.error, ValueError, KeyError, IndexError):
        return None
    return entries


def _round(size: int) -> int:
    return -(-size // BLOCK_SIZE) * BLOCK_SIZE


class _BufferPool:
    """Reuses page-aligned batch buffers: fresh 1 MiB buffers cap throughput at page-fault speed on this machine."""

    def __init__(self, keep: int = 32) -> None:
        self._free: list[mmap.mmap] = []
        self._keep = keep

    def take(self, size: int) -> mmap.mmap:
        # Most recently returned first: its pages are the likeliest to be resident (and in cache).
        for i in range(len(self._free) - 1, -1, -1):
            if len(self._free[i]) >= size:
                return self._free.pop(i)
        return aligned_buffer(max(size, 1 << 20))

    def give(self, buf: mmap.mmap) -> None:
        # Past the pool's size the buffer is dropped, not closed: views of it may still be alive in a caller.
        if len(self._free) < self._keep:
            self._free.append(buf)


class Wal:
    """Segmented redo log. Appends come from one thread at a time (the engine's append lock); dropping applied
    segments comes from the applier, so both hold ``_lock``."""

    def __init__(self, io: IO, directory: str, segment_bytes: int) -> None:
        self.io = io
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.pool = _BufferPool()
        self._segments: list[int] = []  # first seq of each segment, ascending
        self._handle: Handle | None = None
        self._end = 0
        self._sizes: dict[int, int] = {}  # segment -> bytes, for space accounting
        self._lock = threading.Lock()

    # -- recovery -------------------------------------------------------------------------------------------------

    def recover(self, applied_seq: int) -> list[PendingBatch]:
        """Scan every segment; return the durable batches after ``applied_seq``, in order, torn tail truncated."""
        names = [n for n in self.io.listdir(self.dir) if n.endswith(".wal")]
        self._segments = sorted(int(n[:-4]) for n in names)
        pending: list[PendingBatch] = []
        last_seq: int | None = None
        for index, first in enumerate(self._segments):
            path = self._path(first)
            handle = self.io.open(path)
            size = self.io.size(handle)
            offset = 0
            is_last = index == len(self._segments) - 1
            while offset < size:
                found = self._read_record(handle, offset, size, applied_seq)
                if found is None or (last_seq is not None and found[0].seq != last_seq + 1):
                    if not is_last:
                        raise JournalCorrupt(
                            f"redo journal segment {path} is damaged at byte {offset} although later segments exist",
                            remedy="the retention volume lost acknowledged data: verify or resync this pair",
                        )
                    self.io.ftruncate(handle, offset)
                    self.io.fsync(handle)
                    size = offset
                    break
                batch, end = found
                last_seq = batch.seq
                if batch.seq > applied_seq:
                    pending.append(batch)
                offset = end
            self._sizes[first] = size
            if is_last:
                self.io.close(handle)
                self._handle = self.io.open(path, direct=True)
                self._end = size
            else:
                self.io.close(handle)
        self.last_seq = last_seq
        return pending

    def _read_record(self, handle: Handle, offset: int, size: int, applied_seq: int) -> tuple[PendingBatch, int] | None:
        header = unpack_header(self.io.pread(handle, HEADER_SIZE, offset))
        if header is None or header.magic != MAGIC or header.version != RECORD_VERSION or header.kind != _KIND_BATCH:
            return None
        data_start = _round(HEADER_SIZE + header.length)
        end = offset + data_start + header.aux
        if header.aux % BLOCK_SIZE or end > size:
            return None
        table = self.io.pread(handle, header.length, offset + HEADER_SIZE)
        if len(table) != header.length or not header.verify(table):
            return None
        if header.seq <= applied_seq:
            return PendingBatch(header.seq, [], None, 0), end
        buffer = self.pool.take(data_start + header.aux)
        raw = self.io.pread(handle, data_start + header.aux, offset)
        buffer[: len(raw)] = raw
        entries = _decode_table(table, memoryview(buffer)[: data_start + header.aux], data_start)
        if entries is None or any(
            isinstance(e, WriteEntry) and blake3.blake3(e.data).digest() != e.digest for e in entries
        ):
            self._check_not_followed(handle, end, size, offset)
            self.pool.give(buffer)
            return None
        return PendingBatch(header.seq, entries, buffer, header.aux), end

    def _check_not_followed(self, handle: Handle, end: int, size: int, offset: int) -> None:
        """A record with bad data is a torn tail only if nothing valid follows it."""
        header = unpack_header(self.io.pread(handle, HEADER_SIZE, end)) if end < size else None
        if header is not None and header.magic == MAGIC:
            table = self.io.pread(handle, header.length, end + HEADER_SIZE)
            if len(table) == header.length and header.verify(table):
                raise JournalCorrupt(
                    f"redo journal record at byte {offset} of {handle.path} has data that fails its blake3 and is "
                    "followed by valid records",
                    remedy="the retention volume corrupted acknowledged data: verify or resync this pair",
                )

    # -- appending ------------------------------------------------------------------------------------------------

    def build(self, table: bytes, seq: int, writes: list[bytes | memoryview]) -> tuple[mmap.mmap, int, int]:
        """Lay a record out in a pooled aligned buffer; returns (buffer, record length, data start)."""
        data_len = sum(len(w) for w in writes)
        data_start = _round(HEADER_SIZE + len(table))
        total = data_start + data_len
        buffer = self.pool.take(total)
        header = pack_header(MAGIC, _KIND_BATCH, len(table), seq, data_len, table)
        buffer[:HEADER_SIZE] = header
        buffer[HEADER_SIZE : HEADER_SIZE + len(table)] = table
        buffer[HEADER_SIZE + len(table) : data_start] = bytes(data_start - HEADER_SIZE - len(table))
        cursor = data_start
        for w in writes:
            buffer[cursor : cursor + len(w)] = w
            cursor += len(w)
        return buffer, total, data_start

    def write(self, seq: int, buffer: mmap.mmap, length: int) -> None:
        """Write a built record at the end of the active segment and fdatasync it (then it may be acknowledged)."""
        with self._lock:
            if self._handle is None or self._end >= self.segment_bytes:
                self._rotate(seq)
            assert self._handle is not None
            with memoryview(buffer) as view:
                write_all(self.io, self._handle, view[:length], self._end)
            self.io.fdatasync(self._handle)
            self._end += length
            self._sizes[self._segments[-1]] = self._end
            self.last_seq = seq

    def _rotate(self, seq: int) -> None:
        if self._handle is not None:
            self.io.close(self._handle)
        path = self._path(seq)
        self._handle = self.io.open(path, create=True, direct=True)
        self.io.ftruncate(self._handle, 0)
        # The new file's directory entry must be durable before any record in it is acknowledged.
        self.io.fsync_dir(self.dir)
        self._segments.append(seq)
        self._end = 0

    def drop_applied(self, applied_seq: int, *, force: bool = False) -> int:
        """Unlink segments holding only applied batches; returns the bytes unlinked.

        A lost unlink is harmless: recovery skips applied records. The active segment goes too once full, or at once
        with ``force`` (the volume is short of space); the next append starts a new one.
        """
        with self._lock:
            return self._drop_applied(applied_seq, force)

    def _drop_applied(self, applied_seq: int, force: bool) -> int:
        freed = 0
        while len(self._segments) > 1 and self._segments[1] <= applied_seq + 1:
            first = self._segments.pop(0)
            self.io.unlink(self._path(first))
            freed += self._sizes.pop(first, 0)
        active_applied = self.last_seq is not None and self.last_seq <= applied_seq
        if (
            self._segments
            and self._handle is not None
            and active_applied
            and (force or self._end >= self.segment_bytes)
        ):
            self.io.close(self._handle)
            self._handle = None
            first = self._segments.pop()
            self.io.unlink(self._path(first))
            freed += self._sizes.pop(first, 0)
        return freed

    def _path(self, first_seq: int) -> str:
        return os.path.join(self.dir, f"{first_seq:020d}.wal")

    def close(self) -> None:
        if self._handle is not None:
            self.io.close(self._handle)
            self._handle = None
