"""Tracker: the write-through change tracker a workload writes its disk through (the role of ASR's in-guest
mobility service in the lab and the tests).

Each write is appended to the change log under one lock (the log order is the write order); once its record is
durable - concurrent writers share one ``fdatasync`` (group commit) - the committing thread writes it to the source
disk, in log order, and the write returns. The log is the disk's write-ahead log: the disk holds only logged writes,
it is flushed only at checkpoints (on :meth:`trim` and :meth:`close`), and opening the tracker truncates a torn tail
and redoes every record after the last checkpoint, so after any crash - power loss included - the disk equals the
log replayed. If a write or an fsync fails, the
tracker refuses everything after it (as PostgreSQL does after a failed fsync): the page cache can no longer be
trusted, and only reopening - which recovers from the log - may continue.
"""

from __future__ import annotations

import itertools
import os
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable

import blake3

from agent.dataplane._changelog import (
    DURABLE_FILE,
    RECORD_BOOKMARK,
    RECORD_WRITE,
    list_segments,
    pack_header,
    read_acknowledged,
    scan_records,
    segment_path,
)
from agent.dataplane._codec import check_extent
from agent.dataplane._model import BlockWrite, Bookmark, BookmarkKind, validate_bookmark
from agent.dataplane._wire import pack_bookmark
from agent.dataplane.errors import InUse, LogCorrupt, TrackerFailed
from agent.journal import IO, Handle, OsIO, append_all, ensure_directory, lock_directory, write_all

__all__ = ["Tracker"]

_CHECKPOINT = "checkpoint"
_CHECKPOINT_FORMAT = struct.Struct("<QI")


class Tracker:
    """Write-through change tracking for the disk ``source_disk`` (file or block device) into ``log_dir``.

    ``segment_bytes`` is the size at which a new log segment starts (trim deletes whole segments). Durable writes go
    through ``io``; ``clock`` stamps records with their capture time.
    """

    def __init__(
        self,
        source_disk: str | os.PathLike[str],
        log_dir: str | os.PathLike[str],
        *,
        segment_bytes: int = 64 << 20,
        io: IO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._io = io or OsIO()
        self._dir = os.fspath(log_dir)
        self._segment_bytes = segment_bytes
        self._clock = clock
        self._cond = threading.Condition()
        self._trim_lock = threading.Lock()
        self._syncing = False
        self._pending: list[tuple[int, bytes | memoryview]] = []
        self._retired: list[Handle] = []
        self._failed: TrackerFailed | None = None
        self._closed = False
        try:
            ensure_directory(self._io, self._dir)
        except OSError as exc:
            raise TrackerFailed(f"creating the change log directory {self._dir} failed: {exc}") from exc
        lock = lock_directory(self._dir)
        if lock is None:
            raise InUse(f"change log {self._dir} is already open in another tracker", remedy="stop the other writer")
        self._lock_fd = lock
        try:
            self._disk = self._io.open(os.fspath(source_disk))
            self.size = self._io.size(self._disk)
            self._durable_file = self._io.open(os.path.join(self._dir, DURABLE_FILE), create=True)
            self._segments = list_segments(self._dir)
            self._end = self._recover()
            self._durable = self._applied = self._end
            self._segment_file = self._io.open(segment_path(self._dir, self._segments[-1]), append=True)
            self._used = self._end - self._segments[-1]
            self._publish(self._end)
        except OSError as exc:
            os.close(lock)
            raise TrackerFailed(
                f"opening the disk {os.fspath(source_disk)!r} or recovering {self._dir} failed: {exc}"
            ) from exc
        except BaseException:
            os.close(lock)
            raise

    # -- positions -------------------------------------------------------------------------------------------

    @property
    def durable_position(self) -> int:
        """Every record before this position is durable (readers may send it)."""
        with self._cond:
            return self._durable

    @property
    def end_position(self) -> int:
        """Position after the last appended record (durable or not)."""
        with self._cond:
            return self._end

    @property
    def first_position(self) -> int:
        """Position of the oldest retained record."""
        with self._cond:
            return self._segments[0]

    # -- writing -----------------------------------------------------------------------------------------------

    def write(self, offset: int, data: bytes | memoryview, *, wait: bool = True) -> int:
        """Write ``data`` at ``offset`` of the source disk and log it; returns the log position after it. With
        ``wait`` (the default) the write is durable when this returns; otherwise call :meth:`sync`."""
        check_extent(offset, len(data), self.size)
        digest = blake3.blake3(data).digest()
        header = pack_header(RECORD_WRITE, len(data), offset, self._clock(), digest)
        end = self._append(header, data, offset)
        if wait:
            self.sync(end)
        return end

    def bookmark(
        self,
        kind: BookmarkKind,
        tag: str | None = None,
        group: str | None = None,
        *,
        bookmark_id: str | None = None,
        wait: bool = True,
    ) -> Bookmark:
        """Append a bookmark after every write appended so far; durable on return with ``wait``."""
        now = self._clock()
        bookmark = validate_bookmark(Bookmark(bookmark_id or uuid.uuid4().hex, kind, tag, group, now))
        payload = pack_bookmark(bookmark)
        header = pack_header(RECORD_BOOKMARK, len(payload), 0, now, blake3.blake3(payload).digest())
        end = self._append(header, payload, None)
        if wait:
            self.sync(end)
        return bookmark

    def sync(self, position: int | None = None) -> None:
        """Wait until the log is durable (and the disk written) up to ``position``, by default everything appended.
        Concurrent callers share one fdatasync."""
        with self._cond:
            target = self._end if position is None else min(position, self._end)
            while self._durable < target:
                self._raise_if_failed()
                if self._syncing:
                    self._cond.wait()
                    continue
                self._commit()

    def _commit(self) -> None:
        """Group commit, called with the lock held: fdatasync the log, then write the committed records to the disk
        in log order. Only one thread commits at a time; appends continue meanwhile."""
        self._syncing = True
        upto, pending, retired = self._end, self._pending, self._retired
        files = [*retired, self._segment_file]
        self._pending, self._retired = [], []
        self._cond.release()
        error: tuple[str, OSError] | None = None
        try:
            for file in files:
                self._io.fdatasync(file)
        except OSError as exc:
            error = ("fdatasync of the change log", exc)
        else:
            for file in retired:
                self._io.close(file)
            retired = []
        if error is None:
            try:
                # Published before the disk is written: a reader of the disk (a resync pass) may then trust that
                # every block it read is covered by the published position (see ReprotectSource).
                self._publish(upto)
            except OSError as exc:
                error = ("publishing the durable position", exc)
        if error is None:
            try:
                for offset, data in pending:
                    write_all(self._io, self._disk, data, offset)
            except OSError as exc:
                error = ("writing the source disk", exc)
        self._cond.acquire()
        self._retired[:0] = retired  # still open after a failure: close() closes them
        self._syncing = False
        self._cond.notify_all()
        if error is not None:
            raise self._fail(*error)
        self._durable = self._applied = upto

    def _append(self, header: bytes, payload: bytes | memoryview, disk_offset: int | None) -> int:
        # The disk is written only after the record is durable (in _commit), so the disk never holds a write the
        # log could lose: after any crash, redo from the checkpoint makes the disk exactly the log replayed.
        if disk_offset is not None and not isinstance(payload, bytes):
            payload = bytes(payload)  # the caller may reuse its buffer once write() returns
        with self._cond:
            self._raise_if_failed()
            if self._used >= self._segment_bytes:
                self._roll()
            try:
                append_all(self._io, self._segment_file, [header, payload])
            except OSError as exc:
                raise self._fail("appending to the change log", exc) from exc
            size = len(header) + len(payload)
            self._end += size
            self._used += size
            if disk_offset is not None:
                self._pending.append((disk_offset, payload))
            return self._end

    def _roll(self) -> None:
        # The old segment is fdatasynced by the next commit (with the current one), not here under the lock.
        try:
            file = self._io.open(segment_path(self._dir, self._end), create=True, exclusive=True, append=True)
            self._io.fsync_dir(self._dir)
        except OSError as exc:
            raise self._fail("starting a new change log segment", exc) from exc
        self._retired.append(self._segment_file)
        self._segment_file = file
        self._segments.append(self._end)
        self._used = 0

    # -- trimming and checkpoints ------------------------------------------------------------------------------

    def trim_acknowledged(self) -> int:
        """Trim to the position the sender last reported as acknowledged (see ``read_acknowledged``), bounded by
        what is durable here; returns the position trimmed to."""
        with self._cond:
            durable = self._durable
        position = min(read_acknowledged(self._dir), durable)
        self.trim(position)
        return position

    def trim(self, cursor: int) -> None:
        """Delete the segments that lie wholly before ``cursor`` (the sender's acknowledged position). The disk is
        flushed and a checkpoint written first, so recovery never needs a deleted record."""
        with self._trim_lock:
            with self._cond:
                self._raise_if_failed()
                if cursor > self._durable:
                    raise ValueError(f"cannot trim to {cursor}: only {self._durable} is durable")
                applied = self._applied
            self._checkpoint(applied)
            with self._cond:
                doomed = [s for s, nxt in zip(self._segments, self._segments[1:], strict=False) if nxt <= cursor]
                self._segments = self._segments[len(doomed) :]
            try:
                for start in doomed:
                    self._io.unlink(segment_path(self._dir, start))
                if doomed:
                    self._io.fsync_dir(self._dir)
            except OSError as exc:
                raise self._fail("deleting trimmed change log segments", exc) from exc

    def _checkpoint(self, position: int) -> None:
        tmp = os.path.join(self._dir, _CHECKPOINT + ".tmp")
        record = _CHECKPOINT_FORMAT.pack(position, zlib.crc32(position.to_bytes(8, "little")))
        try:
            self._io.fdatasync(self._disk)
            file = self._io.open(tmp, create=True, truncate=True)
            try:
                write_all(self._io, file, record, 0)
                self._io.fdatasync(file)
            finally:
                self._io.close(file)
            self._io.rename(tmp, os.path.join(self._dir, _CHECKPOINT))
            self._io.fsync_dir(self._dir)
        except OSError as exc:
            raise self._fail("writing a checkpoint", exc) from exc

    def _read_checkpoint(self) -> int | None:
        try:
            with open(os.path.join(self._dir, _CHECKPOINT), "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        if len(data) != _CHECKPOINT_FORMAT.size:
            return None
        position, crc = _CHECKPOINT_FORMAT.unpack(data)
        return int(position) if zlib.crc32(data[:8]) == crc else None

    # -- recovery ----------------------------------------------------------------------------------------------

    def _recover(self) -> int:
        """Truncate a torn tail, redo the records after the last checkpoint onto the disk, checkpoint at the end."""
        if not self._segments:
            self._io.close(self._io.open(segment_path(self._dir, 0), create=True, exclusive=True))
            self._io.fsync_dir(self._dir)
            self._segments = [0]
        last = self._segments[-1]
        end = last
        for record in scan_records(segment_path(self._dir, last), last, last):
            end = record.end
        file = self._io.open(segment_path(self._dir, last))
        try:
            if self._io.size(file) != end - last:
                self._io.ftruncate(file, end - last)
            self._io.fdatasync(file)
        finally:
            self._io.close(file)
        checkpoint = self._read_checkpoint()
        redo = max(checkpoint if checkpoint is not None else 0, self._segments[0])
        if redo < end:
            self._redo(redo, end)
            self._checkpoint(end)
        elif checkpoint != end:
            self._checkpoint(end)
        return end

    def _redo(self, position: int, end: int) -> None:
        bounds = [*self._segments, end]
        for start, stop in itertools.pairwise(bounds):
            if stop <= position:
                continue
            for record in scan_records(segment_path(self._dir, start), start, max(position, start), stop):
                if isinstance(record.entry, BlockWrite):
                    write_all(self._io, self._disk, record.entry.data, record.entry.offset)
                position = record.end
            if position < stop:
                raise LogCorrupt(f"change log record at {position} in segment {start} is damaged; resync the disk")

    # -- failure and shutdown ----------------------------------------------------------------------------------

    def _publish(self, position: int) -> None:
        # A hint for readers in other processes; after a crash, recovery publishes it again.
        write_all(self._io, self._durable_file, position.to_bytes(8, "little"), 0)

    def _fail(self, what: str, exc: OSError) -> TrackerFailed:
        with self._cond:
            if self._failed is None:
                self._failed = TrackerFailed(
                    f"change tracking stopped: {what} failed ({exc.strerror or exc})",
                    remedy="fix the storage, then reopen the tracker; it recovers from the change log",
                )
                self._failed.__cause__ = exc
            self._cond.notify_all()
            return self._failed

    def _raise_if_failed(self) -> None:
        if self._closed:
            raise TrackerFailed("the tracker is closed")
        if self._failed is not None:
            raise self._failed

    def close(self) -> None:
        """Make everything durable, checkpoint, and release the files. Idempotent."""
        if self._closed:
            return
        try:
            if self._failed is None:
                self.sync()
                with self._trim_lock:
                    self._checkpoint(self._applied)
        finally:
            with self._cond:
                self._closed = True
            for file in (*self._retired, self._segment_file, self._disk, self._durable_file):
                self._io.close(file)
            os.close(self._lock_fd)

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
