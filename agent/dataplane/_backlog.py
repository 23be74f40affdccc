"""The process server's on-disk backlog: encoded batches kept, byte for byte, until the master target has made
them durable.

One backlog per (pair, generation), in its own directory. A batch is appended (and :meth:`Backlog.sync`-ed) before it
is sent, so whatever the master target may have received is on disk here with the same sequence number and bytes;
after a process-server restart the sender resumes from the master target's durable watermark - resending exactly the
batches above it from here - and reads the source on from the cursor of the newest batch, never from zero. A
watermark above the newest batch means the pair's history was lost here, and only a resync can repair that.

Segment files are named by the sequence number of their first batch (``00000000000000000001.blg``); frames are::

    magic "FBBF" | body length u32 | seq u64 | crc32(body) u32 | crc32(header[:20]) u32 | body (a packed batch)

A torn tail of the newest segment is truncated on open; a bad frame anywhere else is :class:`BacklogCorrupt`.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from agent.dataplane._sendmeta import open_send_meta
from agent.dataplane._wire import EncodedBatch, pack_batch, packed_size, unpack_batch
from agent.dataplane.errors import (
    BacklogCorrupt,
    BacklogFailed,
    InUse,
    SequenceGap,
    WatermarkAhead,
    WatermarkBehind,
)
from agent.journal import IO, Handle, OsIO, append_all, ensure_directory, lock_directory

__all__ = ["Backlog"]

_FRAME = struct.Struct("<4sIQII")
_MAGIC = b"FBBF"
_SEGMENT = re.compile(r"(\d{20})\.blg")


@dataclass(frozen=True, slots=True)
class _Slot:
    seq: int
    segment: int
    position: int
    size: int
    cursor: int
    captured_at: float


class Backlog:
    """The backlog in ``directory`` for ``pair`` at ``generation`` (created if absent; opening a directory made for
    another pair or generation raises :class:`BacklogMismatch`). ``initial_cursor`` is where the source starts when
    the backlog has never held a batch."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        pair: str,
        generation: int,
        initial_cursor: int = 0,
        segment_bytes: int = 64 << 20,
        io: IO | None = None,
    ) -> None:
        self._dir = os.fspath(directory)
        self._io = io or OsIO()
        self._segment_bytes = segment_bytes
        self._slots: list[_Slot] = []
        self._acked = 0
        self._unsynced: dict[int, Handle] = {}
        self._readers: dict[int, int] = {}
        self._failed: BacklogFailed | None = None
        try:
            ensure_directory(self._io, self._dir)
        except OSError as exc:
            raise BacklogFailed(f"creating the backlog directory {self._dir} failed: {exc}") from exc
        lock = lock_directory(self._dir)
        if lock is None:
            raise InUse(f"backlog {self._dir} is already open in another sender", remedy="stop the other sender")
        self._lock_fd: int | None = lock
        try:
            self._initial_cursor = open_send_meta(self._io, self._dir, "backlog", pair, generation, initial_cursor)
            for segment in self._segments():
                self._load(segment)
            self._segment: int | None = self._slots[-1].segment if self._slots else None
            self._used = self._slots[-1].position + self._slots[-1].size if self._slots else 0
            self._file: Handle | None = None
        except OSError as exc:
            os.close(lock)
            raise BacklogFailed(
                f"opening the backlog {self._dir} failed: {exc}",
                remedy="fix the storage, then restart the pair; the backlog recovers on open",
            ) from exc
        except BaseException:
            os.close(lock)
            raise

    # -- state -------------------------------------------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        """Sequence number the next appended batch must carry."""
        return self._slots[-1].seq + 1 if self._slots else 1

    @property
    def acknowledged(self) -> int:
        """The highest watermark passed to :meth:`acknowledge`."""
        return self._acked

    @property
    def resume_cursor(self) -> int:
        """Source cursor after the newest batch: where reading the source continues."""
        return self._slots[-1].cursor if self._slots else self._initial_cursor

    @property
    def pending_batches(self) -> int:
        return sum(1 for s in self._slots if s.seq > self._acked)

    @property
    def pending_bytes(self) -> int:
        """Bytes of the unacknowledged frames."""
        return sum(s.size for s in self._slots if s.seq > self._acked)

    @property
    def oldest_pending_capture(self) -> float | None:
        """Capture time of the oldest unacknowledged batch (for the lag metric)."""
        return next((s.captured_at for s in self._slots if s.seq > self._acked), None)

    def cursor_at(self, seq: int) -> int | None:
        """Source cursor after batch ``seq``, if the backlog still holds it."""
        slot = self._slot(seq)
        return slot.cursor if slot else None

    # -- appending ---------------------------------------------------------------------------------------------

    def append(self, batch: EncodedBatch) -> None:
        """Append ``batch``, which must carry :attr:`next_seq`. Durable after the next :meth:`sync`."""
        if batch.seq != self.next_seq:
            raise SequenceGap(f"backlog expects batch {self.next_seq}, got {batch.seq}")
        parts = pack_batch(batch)
        body_size = packed_size(parts)
        crc = 0
        for part in parts:
            crc = zlib.crc32(part, crc)
        head = struct.pack("<4sIQI", _MAGIC, body_size, batch.seq, crc)
        header = head + struct.pack("<I", zlib.crc32(head))
        if self._failed is not None:
            raise self._failed
        try:
            if self._file is None or self._used >= self._segment_bytes:
                self._open_segment(batch.seq)
            assert self._file is not None
            assert self._segment is not None
            self._unsynced[self._file.fd] = self._file
            size = append_all(self._io, self._file, [header, *parts])
        except OSError as exc:
            raise self._fail("appending a batch", exc) from exc
        self._slots.append(_Slot(batch.seq, self._segment, self._used, size, batch.cursor, batch.captured_at))
        self._used += size

    def sync(self) -> None:
        """Make every appended batch durable (call before sending them)."""
        if self._failed is not None:
            raise self._failed
        try:
            for _, handle in sorted(self._unsynced.items()):
                self._io.fdatasync(handle)
        except OSError as exc:
            raise self._fail("fdatasync", exc) from exc
        self._unsynced.clear()

    def _fail(self, what: str, exc: OSError) -> BacklogFailed:
        # A torn frame may now sit at the end of the segment: appending after it would put later batches where a
        # restart cannot see them (recovery stops at the first bad frame), so nothing more is taken until reopen.
        self._failed = BacklogFailed(
            f"backlog {self._dir}: {what} failed ({exc.strerror or exc})",
            remedy="fix the storage, then restart the pair; the backlog recovers on open",
        )
        self._failed.__cause__ = exc
        return self._failed

    def _open_segment(self, seq: int) -> None:
        if self._file is None and self._segment is not None and self._used < self._segment_bytes:
            self._file = self._io.open(self._path(self._segment), append=True)  # continue after a restart
            return
        if self._file is not None:
            self.sync()
            self._io.close(self._file)
            self._file = None
        self._file = self._io.open(self._path(seq), create=True, exclusive=True, append=True)
        self._io.fsync_dir(self._dir)
        self._segment, self._used = seq, 0

    # -- acknowledgement and resending -------------------------------------------------------------------------

    def acknowledge(self, watermark: int) -> int | None:
        """Record the master target's durable watermark and delete segments wholly at or below it (the newest
        segment is kept: it remembers the sequence and cursor). Returns the source cursor after the watermark batch
        when known (the change log can be trimmed to it). A watermark past the newest batch is
        :class:`WatermarkAhead`; one below batches already trimmed is :class:`WatermarkBehind`. A watermark lower
        than an earlier one (the receiver restarted from its durable state) makes the batches above it pending
        again."""
        if watermark < 0:
            raise ValueError(f"watermark {watermark} is negative")
        if watermark >= self.next_seq:
            raise WatermarkAhead(
                f"the master target has batch {watermark} durable but this backlog ends at {self.next_seq - 1}",
                remedy="the process server lost its state for this pair: resync the pair",
            )
        if self._slots and watermark + 1 < self._slots[0].seq:
            raise WatermarkBehind(
                f"the master target's watermark {watermark} is below batch {self._slots[0].seq}, the oldest this "
                "backlog still holds (it acknowledged the batches in between earlier)",
                remedy="the master target lost acknowledged data: resync the pair",
            )
        self._acked = watermark
        last_of: dict[int, int] = {}
        for slot in self._slots:
            last_of[slot.segment] = slot.seq
        doomed = [segment for segment, last in list(last_of.items())[:-1] if last <= watermark]
        if doomed:
            try:
                for segment in doomed:
                    fd = self._readers.pop(segment, None)
                    if fd is not None:
                        os.close(fd)
                    self._io.unlink(self._path(segment))
                self._io.fsync_dir(self._dir)
            except OSError as exc:
                raise self._fail("deleting acknowledged segments", exc) from exc
            gone = set(doomed)
            self._slots = [s for s in self._slots if s.segment not in gone]
        return self.cursor_at(watermark)

    def restart(self, watermark: int) -> list[EncodedBatch]:
        """A stream restarts at ``watermark`` (already acknowledged): every batch above it, to resend."""
        del watermark  # acknowledge() recorded it; the batches above it are exactly the unacknowledged ones
        return list(self.unacknowledged())

    def unacknowledged(self) -> Iterator[EncodedBatch]:
        """The batches above the acknowledged watermark, in order, read back from disk."""
        for slot in [s for s in self._slots if s.seq > self._acked]:
            yield self._read(slot)

    def _read(self, slot: _Slot) -> EncodedBatch:
        fd = self._readers.get(slot.segment)
        if fd is None:
            fd = self._readers[slot.segment] = os.open(self._path(slot.segment), os.O_RDONLY | os.O_CLOEXEC)
        data = os.pread(fd, slot.size, slot.position)
        parsed = _parse_frame(data, 0)
        if parsed is None or parsed[0].seq != slot.seq:
            raise BacklogCorrupt(f"backlog frame of batch {slot.seq} in segment {slot.segment} is damaged")
        return parsed[0]

    def _slot(self, seq: int) -> _Slot | None:
        if not self._slots or seq < self._slots[0].seq or seq > self._slots[-1].seq:
            return None
        return self._slots[seq - self._slots[0].seq]

    # -- opening -----------------------------------------------------------------------------------------------

    def _path(self, segment: int) -> str:
        return os.path.join(self._dir, f"{segment:020d}.blg")

    def _segments(self) -> list[int]:
        return sorted(int(m.group(1)) for name in os.listdir(self._dir) if (m := _SEGMENT.fullmatch(name)))

    def _load(self, segment: int) -> None:
        path = self._path(segment)
        with open(path, "rb") as handle:
            data = handle.read()
        position = 0
        while position < len(data):
            parsed = _parse_frame(data, position)
            if parsed is None:
                break
            batch, size = parsed
            expected = self._slots[-1].seq + 1 if self._slots else batch.seq
            if batch.seq != expected or (position == 0 and batch.seq != segment):
                raise BacklogCorrupt(f"backlog segment {segment}: batch {batch.seq} where {expected} was expected")
            self._slots.append(_Slot(batch.seq, segment, position, size, batch.cursor, batch.captured_at))
            position += size
        if position == len(data) and position:
            return
        if segment != self._segments()[-1]:
            raise BacklogCorrupt(f"backlog segment {segment} is damaged at byte {position}")
        if position == 0:  # created, but its first frame never made it: as if it had never been started
            self._io.unlink(path)
            self._io.fsync_dir(self._dir)
            return
        tail = self._io.open(path)
        try:
            self._io.ftruncate(tail, position)
            self._io.fdatasync(tail)
        finally:
            self._io.close(tail)

    def close(self) -> None:
        """Sync (unless a failure already stopped the backlog) and release the files."""
        try:
            if self._file is not None and self._failed is None:
                self.sync()
        finally:
            if self._file is not None:
                self._io.close(self._file)
                self._file = None
            for fd in self._readers.values():
                os.close(fd)
            self._readers.clear()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> Backlog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_frame(data: bytes, position: int) -> tuple[EncodedBatch, int] | None:
    if position + _FRAME.size > len(data):
        return None
    magic, length, seq, body_crc, head_crc = _FRAME.unpack_from(data, position)
    if magic != _MAGIC or zlib.crc32(data[position : position + _FRAME.size - 4]) != head_crc:
        return None
    start = position + _FRAME.size
    body = memoryview(data)[start : start + length]
    if len(body) != length or zlib.crc32(body) != body_crc:
        return None
    try:
        batch = unpack_batch(body)
    except ValueError:
        return None
    return (batch, _FRAME.size + length) if batch.seq == seq else None
