"""The one I/O layer every durable write of the agent goes through: the storage engine here, and the data path's
change tracker, backlog and send index, and the replication pair records.

Owns: open / pwrite / writev (append) / pread / fsync / fdatasync / ftruncate / rename / unlink / fsync-dir / mkdir,
and the O_DIRECT decision. :class:`OsIO` is the real implementation; :class:`agent.journal.RecordingIO` records the
same calls and injects faults, so tests can enumerate crash states and fail the Nth fsync. Nothing may call ``os`` for
a durable effect directly: a write that bypasses this layer is a write the crash tests cannot see. Reads and advisory
locks change nothing a crash could tear, so they may use ``os`` directly.

O_DIRECT needs the buffer, the file offset and the length aligned to the logical block size; the engine only issues
4096-aligned I/O from page-aligned (mmap) buffers on direct handles. File systems that refuse O_DIRECT (tmpfs) get a
buffered handle instead, and fsync still makes the data durable, only at a higher CPU cost.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "IO",
    "Buffer",
    "Handle",
    "OsIO",
    "aligned_buffer",
    "append_all",
    "ensure_directory",
    "lock_directory",
    "open_flags",
    "write_all",
]

_ALIGN = 4096
_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024

Buffer = bytes | bytearray | memoryview | mmap.mmap


@dataclass(frozen=True, slots=True)
class Handle:
    """An open file: the descriptor, the path it was opened by, and whether it bypasses the page cache."""

    fd: int
    path: str
    direct: bool


class IO(Protocol):
    """Durable file operations. ``pwrite`` and ``writev`` may write less than asked (POSIX); use :func:`write_all`
    and :func:`append_all`.

    ``open`` flags: ``create`` (O_CREAT), ``exclusive`` (with create: fail if it exists), ``append`` (every write
    goes to the end: use ``writev``), ``truncate`` (empty an existing file), ``direct`` (O_DIRECT where the file system
    allows it), ``readonly``. Files are created mode 0600.
    """

    def open(
        self,
        path: str,
        *,
        create: bool = False,
        exclusive: bool = False,
        append: bool = False,
        truncate: bool = False,
        direct: bool = False,
        readonly: bool = False,
    ) -> Handle: ...

    def close(self, handle: Handle) -> None: ...

    def pwrite(self, handle: Handle, data: Buffer, offset: int) -> int: ...

    def writev(self, handle: Handle, buffers: Sequence[Buffer]) -> int:
        """Append ``buffers`` at the end of a file opened with ``append``; returns the bytes written."""
        ...

    def pread(self, handle: Handle, size: int, offset: int) -> bytes: ...

    def fsync(self, handle: Handle) -> None: ...

    def fdatasync(self, handle: Handle) -> None: ...

    def ftruncate(self, handle: Handle, size: int) -> None: ...

    def size(self, handle: Handle) -> int: ...

    def rename(self, src: str, dst: str) -> None: ...

    def unlink(self, path: str) -> None: ...

    def fsync_dir(self, path: str) -> None: ...

    def mkdir(self, path: str) -> None: ...

    def listdir(self, path: str) -> list[str]: ...

    def exists(self, path: str) -> bool: ...


def aligned_buffer(size: int) -> mmap.mmap:
    """A zeroed, page-aligned buffer of ``size`` rounded up to 4096 bytes (what O_DIRECT requires)."""
    return mmap.mmap(-1, max(_ALIGN, -(-size // _ALIGN) * _ALIGN))


def write_all(io: IO, handle: Handle, data: Buffer, offset: int) -> None:
    """Write every byte of ``data`` at ``offset``, continuing after short writes (an error propagates)."""
    view = memoryview(data).cast("B")
    done = 0
    while done < len(view):
        written = io.pwrite(handle, view[done:], offset + done)
        if written <= 0:
            raise OSError(errno.EIO, f"pwrite made no progress on {handle.path}")
        done += written


def append_all(io: IO, handle: Handle, buffers: Sequence[Buffer]) -> int:
    """Append every byte of ``buffers`` to a file opened with ``append``, continuing after short writes (the rest
    follows the part that was written, so the file holds the buffers in order); returns the bytes appended."""
    views = [memoryview(b).cast("B") for b in buffers if len(b)]
    total = sum(len(v) for v in views)
    done = 0
    while views:
        written = io.writev(handle, views[:_IOV_MAX])
        if written <= 0:
            raise OSError(errno.EIO, f"write made no progress on {handle.path} after {done} of {total} bytes")
        done += written
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]
    return total


def open_flags(*, create: bool, exclusive: bool, append: bool, truncate: bool, readonly: bool) -> int:
    flags = (os.O_RDONLY if readonly else os.O_RDWR) | os.O_CLOEXEC
    if create:
        flags |= os.O_CREAT | (os.O_EXCL if exclusive else 0)
    if append:
        flags |= os.O_APPEND
    if truncate:
        flags |= os.O_TRUNC
    return flags


def ensure_directory(io: IO, path: str) -> None:
    """Create ``path`` and any missing parents, each made durable in its parent (mode 0700)."""
    path = os.path.abspath(path)
    if io.exists(path):
        return
    parent = os.path.dirname(path)
    ensure_directory(io, parent)
    io.mkdir(path)
    io.fsync_dir(parent)


def lock_directory(path: str) -> int | None:
    """Take an exclusive advisory lock on ``path``/``lock`` for this process's lifetime (released by the kernel when
    the process dies, so a crash never leaves it stale). Returns the fd holding it (close it to release), or None if
    another holder has it. Not a durable effect: the lock file's content never matters."""
    fd = os.open(os.path.join(path, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class OsIO:
    """The real thing: system calls on the local file systems."""

    def __init__(self) -> None:
        self._local = threading.local()

    def open(
        self,
        path: str,
        *,
        create: bool = False,
        exclusive: bool = False,
        append: bool = False,
        truncate: bool = False,
        direct: bool = False,
        readonly: bool = False,
    ) -> Handle:
        flags = open_flags(create=create, exclusive=exclusive, append=append, truncate=truncate, readonly=readonly)
        if direct:
            try:
                return Handle(os.open(path, flags | os.O_DIRECT, 0o600), path, True)
            except OSError as exc:
                # tmpfs and some FUSE file systems refuse O_DIRECT; buffered I/O plus fsync is still durable.
                if exc.errno != errno.EINVAL:
                    raise
        return Handle(os.open(path, flags, 0o600), path, False)

    def close(self, handle: Handle) -> None:
        os.close(handle.fd)

    def pwrite(self, handle: Handle, data: Buffer, offset: int) -> int:
        return os.pwrite(handle.fd, data, offset)

    def writev(self, handle: Handle, buffers: Sequence[Buffer]) -> int:
        return os.writev(handle.fd, buffers)

    def pread(self, handle: Handle, size: int, offset: int) -> bytes:
        if not handle.direct:
            return _pread_full(handle.fd, size, offset)
        start = offset - offset % _ALIGN
        end = -(-(offset + size) // _ALIGN) * _ALIGN
        buf = self._bounce(end - start)
        with memoryview(buf) as view:
            got = os.preadv(handle.fd, [view[: end - start]], start)
        return buf[offset - start : min(got, offset - start + size)]

    def _bounce(self, size: int) -> mmap.mmap:
        """A page-aligned read buffer per thread, reused: a fresh mmap per read costs page faults."""
        buf: mmap.mmap | None = getattr(self._local, "buf", None)
        if buf is None or len(buf) < size:
            buf = aligned_buffer(size)
            self._local.buf = buf
        return buf

    def fsync(self, handle: Handle) -> None:
        os.fsync(handle.fd)

    def fdatasync(self, handle: Handle) -> None:
        os.fdatasync(handle.fd)

    def ftruncate(self, handle: Handle, size: int) -> None:
        os.ftruncate(handle.fd, size)

    def size(self, handle: Handle) -> int:
        # lseek works for regular files and block devices alike (st_size is 0 for a block device).
        return os.lseek(handle.fd, 0, os.SEEK_END)

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst)

    def unlink(self, path: str) -> None:
        os.unlink(path)

    def fsync_dir(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def mkdir(self, path: str) -> None:
        os.mkdir(path, 0o700)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    def exists(self, path: str) -> bool:
        return os.path.exists(path)


def _pread_full(fd: int, size: int, offset: int) -> bytes:
    chunks: list[bytes] = []
    done = 0
    while done < size:
        chunk = os.pread(fd, size - done, offset + done)
        if not chunk:
            break
        chunks.append(chunk)
        done += len(chunk)
    return b"".join(chunks)
