"""Checksummed records: the framing shared by the redo journal, the undo log, the catalog and the rollback file.

Every record starts with one 64-byte little-endian header::

    0   magic       4s   which log the record belongs to (b"FBWR" redo, b"FBUN" undo, b"FBCT" catalog, b"FBRB" rollback)
    4   version     u16  record format version (1); a reader refuses versions it does not know
    6   kind        u16  record type within the log
    8   length      u64  payload bytes following the header
    16  seq         u64  kind specific (the batch seq for redo and undo)
    24  aux         u64  kind specific (the redo data length; undo flags)
    32  checksum    16s  blake3(header[0:32] + payload), first 16 bytes
    48  reserved    16s  zero

A reader walks records from the start of a file and stops at the first header that is short, has the wrong magic or
version, claims more bytes than the file holds, or fails its checksum: that is the torn tail of an interrupted append
and is truncated before anything else is written (PostgreSQL's WAL end-of-log rule). Records are only acknowledged
after fsync, so a torn record was never acknowledged.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import blake3

from agent.journal._io import IO, Handle, aligned_buffer, write_all

__all__ = ["HEADER_SIZE", "VERSION", "Record", "RecordLog", "checksum", "pack_header", "unpack_header"]

VERSION = 1
HEADER_SIZE = 64
_HEADER = struct.Struct("<4sHHQQQ16s16x")
_PREFIX = struct.Struct("<4sHHQQQ")


Payload = bytes | bytearray | memoryview


def checksum(prefix: bytes, payload: Payload | list[Payload]) -> bytes:
    hasher = blake3.blake3(prefix)
    for part in payload if isinstance(payload, list) else [payload]:
        hasher.update(part)
    digest: bytes = hasher.digest(length=16)
    return digest


def pack_header(magic: bytes, kind: int, length: int, seq: int, aux: int, payload: Payload | list[Payload]) -> bytes:
    prefix = _PREFIX.pack(magic, VERSION, kind, length, seq, aux)
    return _HEADER.pack(magic, VERSION, kind, length, seq, aux, checksum(prefix, payload))


@dataclass(frozen=True, slots=True)
class Header:
    magic: bytes
    version: int
    kind: int
    length: int
    seq: int
    aux: int
    checksum: bytes

    def verify(self, payload: bytes | memoryview) -> bool:
        prefix = _PREFIX.pack(self.magic, self.version, self.kind, self.length, self.seq, self.aux)
        return checksum(prefix, payload) == self.checksum


def unpack_header(raw: bytes) -> Header | None:
    if len(raw) < HEADER_SIZE:
        return None
    return Header(*_HEADER.unpack(raw[:HEADER_SIZE]))


@dataclass(frozen=True, slots=True)
class Record:
    offset: int
    kind: int
    seq: int
    aux: int
    payload: bytes
    end: int


class RecordLog:
    """An append-only file of records written through the I/O layer (buffered; fdatasync makes them durable)."""

    def __init__(self, io: IO, path: str, magic: bytes, *, create: bool = True, align: int = 1) -> None:
        """``align`` > 1 pads every record to that multiple and writes through O_DIRECT where the file system
        allows it (the undo log: large records, no page-cache copy)."""
        self.io = io
        self.path = path
        self.magic = magic
        self.align = align
        self.handle: Handle = io.open(path, create=create, direct=align > 1)
        self._scratch: mmap.mmap | None = None
        self.end = io.size(self.handle)

    def _end_of(self, offset: int, length: int) -> int:
        return offset + -(-(HEADER_SIZE + length) // self.align) * self.align

    def close(self) -> None:
        self.io.close(self.handle)

    def read_at(self, offset: int) -> Record | None:
        """The valid record at ``offset``, or None where the log ends (short, foreign or torn)."""
        header = unpack_header(self.io.pread(self.handle, HEADER_SIZE, offset))
        if header is None or header.magic != self.magic or header.version != VERSION:
            return None
        end = self._end_of(offset, header.length)
        if end > self.end:
            return None
        payload = self.io.pread(self.handle, header.length, offset + HEADER_SIZE)
        if len(payload) != header.length or not header.verify(payload):
            return None
        return Record(offset, header.kind, header.seq, header.aux, payload, end)

    def scan(self, start: int = 0) -> Iterator[Record]:
        """Valid records from ``start`` to the first invalid one; ``valid_end`` afterwards tells where that was."""
        offset = start
        self.valid_end = start
        while offset < self.end:
            record = self.read_at(offset)
            if record is None:
                return
            offset = self.valid_end = record.end
            yield record

    def truncate_torn_tail(self, valid_end: int) -> bool:
        """Cut everything after ``valid_end`` (an interrupted append) and make the cut durable."""
        if valid_end >= self.end:
            return False
        self.io.ftruncate(self.handle, valid_end)
        self.io.fsync(self.handle)
        self.end = valid_end
        return True

    def append(self, kind: int, seq: int, aux: int, payload: Payload | list[Payload]) -> int:
        """Write a record (its payload may come in parts) at the end; not yet durable: call :meth:`sync`.
        Returns its offset."""
        parts = payload if isinstance(payload, list) else [payload]
        length = sum(len(part) for part in parts)
        offset = self.end
        header = pack_header(self.magic, kind, length, seq, aux, parts)
        end = self._end_of(offset, length)
        if self.align == 1:
            write_all(self.io, self.handle, b"".join([header, *parts]), offset)
        else:
            # Reused (page faults on a fresh buffer cost as much as the copy); replaced, never closed, when too
            # small: after a failed write a traceback may still hold a view of it.
            if self._scratch is None or len(self._scratch) < end - offset:
                self._scratch = aligned_buffer(end - offset)
            buf = self._scratch
            cursor = HEADER_SIZE
            buf[:HEADER_SIZE] = header
            for part in parts:
                buf[cursor : cursor + len(part)] = part
                cursor += len(part)
            buf[cursor : end - offset] = bytes(end - offset - cursor)
            with memoryview(buf) as view:
                write_all(self.io, self.handle, view[: end - offset], offset)
        self.end = end
        return offset

    def sync(self) -> None:
        self.io.fdatasync(self.handle)
