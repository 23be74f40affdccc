"""SendIndex: the process server's restart state when its source can be read again - a durable index from each
sent batch's sequence number to the source cursor after it, instead of a copy of the batch.

A change log already holds every write durably until it is trimmed to an acknowledged cursor, and a disk being
scanned can be read again; so a batch never needs to be kept byte for byte. Before a batch is sent, ``seq -> cursor``
is durable here (group-committed like the backlog). When a stream (re)starts at the master target's durable
watermark ``W``, everything after ``W`` is forgotten and the source is read again from ``cursor(W)``, numbering
from ``W + 1``: the master target never made those batches durable, so cutting them differently cannot leave a gap or
apply anything twice. A watermark beyond the index (``WatermarkAhead``) or below what it still holds
(``WatermarkBehind``) means one side lost acknowledged state: only a resync repairs that.

Files: ``meta.json`` (pair, generation, initial cursor; written once, atomically) and ``index``, fixed records::

    seq u64 | cursor u64 | captured_at f64 | crc32(first 24 bytes) u32        (28 bytes, little-endian)

A torn or damaged tail record is cut off on open. Acknowledged records are compacted away (the acknowledged one is
kept: it holds the resume cursor) by rewriting the file through a temporary file and a rename.
"""

from __future__ import annotations

import os
import struct
import zlib

from agent.dataplane._sendmeta import open_send_meta
from agent.dataplane._wire import EncodedBatch
from agent.dataplane.errors import (
    BacklogCorrupt,
    BacklogFailed,
    InUse,
    SequenceGap,
    WatermarkAhead,
    WatermarkBehind,
)
from agent.journal import IO, Handle, OsIO, append_all, ensure_directory, lock_directory, write_all

__all__ = ["SendIndex"]

_RECORD = struct.Struct("<QQdI")
_INDEX = "index"


class SendIndex:
    """The send index in ``directory`` for ``pair`` at ``generation`` (created if absent). Same interface as
    :class:`agent.dataplane.Backlog` for :class:`agent.dataplane.PairSender`: :meth:`restart` resends nothing."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        pair: str,
        generation: int,
        initial_cursor: int = 0,
        compact_after: int = 4096,
        io: IO | None = None,
    ) -> None:
        self._dir = os.fspath(directory)
        self._io = io or OsIO()
        self._compact_after = compact_after
        self._entries: list[tuple[int, int, float]] = []
        self._acked = 0
        self._dirty = False
        self._failed: BacklogFailed | None = None
        try:
            ensure_directory(self._io, self._dir)
        except OSError as exc:
            raise BacklogFailed(f"creating the send index directory {self._dir} failed: {exc}") from exc
        lock = lock_directory(self._dir)
        if lock is None:
            raise InUse(f"send index {self._dir} is already open in another sender", remedy="stop the other sender")
        self._lock_fd: int | None = lock
        try:
            self._initial_cursor = open_send_meta(self._io, self._dir, "send index", pair, generation, initial_cursor)
            self._load()
            self._file: Handle = self._io.open(self._path(_INDEX), create=True, append=True)
        except OSError as exc:
            os.close(lock)
            raise BacklogFailed(f"opening the send index {self._dir} failed: {exc}") from exc
        except BaseException:
            os.close(lock)
            raise

    # -- state -------------------------------------------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        return self._entries[-1][0] + 1 if self._entries else self._acked + 1

    @property
    def acknowledged(self) -> int:
        return self._acked

    @property
    def resume_cursor(self) -> int:
        return self._entries[-1][1] if self._entries else self._initial_cursor

    @property
    def pending_batches(self) -> int:
        return self.next_seq - 1 - self._acked

    @property
    def oldest_pending_capture(self) -> float | None:
        entry = self._entry(self._acked + 1)
        return entry[2] if entry is not None else None

    def _entry(self, seq: int) -> tuple[int, int, float] | None:
        # Entries hold consecutive sequence numbers, so a lookup is arithmetic.
        if not self._entries or not self._entries[0][0] <= seq <= self._entries[-1][0]:
            return None
        return self._entries[seq - self._entries[0][0]]

    def cursor_at(self, seq: int) -> int | None:
        """Source cursor after batch ``seq`` (``0``: before the first batch), if the index still holds it."""
        if seq == 0 and (not self._entries or self._entries[0][0] == 1):
            return self._initial_cursor
        entry = self._entry(seq)
        return entry[1] if entry is not None else None

    # -- appending ---------------------------------------------------------------------------------------------

    def append(self, batch: EncodedBatch) -> None:
        """Record ``batch`` (which must carry :attr:`next_seq`); durable after the next :meth:`sync`."""
        if self._failed is not None:
            raise self._failed
        if batch.seq != self.next_seq:
            raise SequenceGap(f"send index expects batch {self.next_seq}, got {batch.seq}")
        record = _pack(batch.seq, batch.cursor, batch.captured_at)
        try:
            append_all(self._io, self._file, [record])
        except OSError as exc:
            raise self._fail("appending", exc) from exc
        self._entries.append((batch.seq, batch.cursor, batch.captured_at))
        self._dirty = True

    def sync(self) -> None:
        if self._failed is not None:
            raise self._failed
        if not self._dirty:
            return
        try:
            self._io.fdatasync(self._file)
        except OSError as exc:
            raise self._fail("fdatasync", exc) from exc
        self._dirty = False

    def _fail(self, what: str, exc: OSError) -> BacklogFailed:
        self._failed = BacklogFailed(
            f"send index {self._dir}: {what} failed ({exc.strerror or exc})",
            remedy="fix the storage, then restart the pair; the index recovers on open",
        )
        self._failed.__cause__ = exc
        return self._failed

    # -- acknowledgement and restarting ------------------------------------------------------------------------

    def acknowledge(self, watermark: int) -> int | None:
        """Record the receiver's durable watermark; returns the source cursor after it (the change log may be
        trimmed to it). Raises :class:`WatermarkAhead` / :class:`WatermarkBehind` when the sides disagree."""
        if watermark < 0:
            raise ValueError(f"watermark {watermark} is negative")
        if watermark >= self.next_seq:
            raise WatermarkAhead(
                f"the master target has batch {watermark} durable but this sender's index ends at {self.next_seq - 1}",
                remedy="the process server lost its state for this pair: resync the pair",
            )
        if watermark < self._acked and self.cursor_at(watermark) is None:
            raise WatermarkBehind(
                f"the master target's watermark {watermark} is below {self._acked}, which it acknowledged before",
                remedy="the master target lost acknowledged data: resync the pair",
            )
        self._acked = watermark
        cursor = self.cursor_at(watermark)
        if self._entries and watermark - self._entries[0][0] > self._compact_after:
            self._compact()
        return cursor

    def restart(self, watermark: int) -> list[EncodedBatch]:
        """A stream restarts at ``watermark`` (already acknowledged): forget the batches after it, durably, so the
        source is read again from :attr:`resume_cursor`. Nothing is resent from here."""
        if self._failed is not None:
            raise self._failed
        if not self._entries or self._entries[-1][0] <= watermark:
            return []
        keep = self._entries[: max(0, watermark - self._entries[0][0] + 1)]
        try:
            self._io.ftruncate(self._file, len(keep) * _RECORD.size)
            self._io.fdatasync(self._file)
        except OSError as exc:
            raise self._fail("truncating after a restart", exc) from exc
        self._entries = keep
        return []

    def _compact(self) -> None:
        keep = self._entries[self._acked - self._entries[0][0] :]
        tmp = self._path(_INDEX + ".tmp")
        try:
            out = self._io.open(tmp, create=True, truncate=True)
            try:
                write_all(self._io, out, b"".join(_pack(*entry) for entry in keep), 0)
                self._io.fdatasync(out)
            finally:
                self._io.close(out)
            self._io.rename(tmp, self._path(_INDEX))
            self._io.fsync_dir(self._dir)
            self._io.close(self._file)
            self._file = self._io.open(self._path(_INDEX), append=True)
        except OSError as exc:
            raise self._fail("compacting", exc) from exc
        self._entries = keep

    # -- opening -----------------------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return os.path.join(self._dir, name)

    def _load(self) -> None:
        path = self._path(_INDEX)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return
        position = 0
        while position + _RECORD.size <= len(data):
            seq, cursor, captured_at, crc = _RECORD.unpack_from(data, position)
            if zlib.crc32(data[position : position + _RECORD.size - 4]) != crc:
                break
            if self._entries and seq != self._entries[-1][0] + 1:
                break
            self._entries.append((seq, cursor, captured_at))
            position += _RECORD.size
        if position != len(data):
            if len(data) - position > _RECORD.size:
                raise BacklogCorrupt(f"send index {path} is damaged at byte {position}, before its last record")
            tail = self._io.open(path)
            try:
                self._io.ftruncate(tail, position)
                self._io.fdatasync(tail)
            finally:
                self._io.close(tail)
        if self._entries and self._entries[0][0] > 1:
            # Compaction keeps the acknowledged record first: the receiver had at least that much.
            self._acked = self._entries[0][0]

    def close(self) -> None:
        try:
            if self._failed is None:
                self.sync()
        finally:
            self._io.close(self._file)
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> SendIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pack(seq: int, cursor: int, captured_at: float) -> bytes:
    head = struct.pack("<QQd", seq, cursor, captured_at)
    return head + struct.pack("<I", zlib.crc32(head))
