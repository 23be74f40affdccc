"""The durable-write seam of the tracker and the backlog: open / write / pwrite / fsync / truncate / rename /
unlink / fsync-dir go through one :class:`FileIO` object, so tests can record the operations and inject EIO,
ENOSPC and short writes without patching ``os``.

It mirrors the journal's I/O layer (open / pwrite / fsync / rename / fsync-dir); the two are meant to become one.
Reads do not go through it: they change nothing a crash could tear.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence

__all__ = ["FileIO", "lock_directory", "write_all"]

_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024


class FileIO:
    """Plain ``os`` calls. Subclass and override to record or inject faults."""

    def open(self, path: str, flags: int, mode: int = 0o644) -> int:
        return os.open(path, flags | os.O_CLOEXEC, mode)

    def close(self, fd: int) -> None:
        os.close(fd)

    def writev(self, fd: int, buffers: Sequence[bytes | memoryview]) -> int:
        return os.writev(fd, buffers)

    def pwrite(self, fd: int, data: bytes | memoryview, offset: int) -> int:
        return os.pwrite(fd, data, offset)

    def fdatasync(self, fd: int) -> None:
        os.fdatasync(fd)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def ftruncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst)

    def unlink(self, path: str) -> None:
        os.unlink(path)

    def fsync_dir(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            self.fsync(fd)
        finally:
            os.close(fd)


def write_all(io: FileIO, fd: int, buffers: Sequence[bytes | memoryview], *, offset: int | None = None) -> int:
    """Write every byte of ``buffers`` (appending, or at ``offset``), continuing after short writes."""
    views = [memoryview(b).cast("B") for b in buffers if len(b)]
    total = sum(len(v) for v in views)
    done = 0
    while views:
        written = io.writev(fd, views[:_IOV_MAX]) if offset is None else io.pwrite(fd, views[0], offset + done)
        if written <= 0:
            raise OSError(f"write made no progress after {done} of {total} bytes")
        done += written
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]
    return total


def lock_directory(path: str) -> int | None:
    """Take an exclusive lock on ``path``/``lock`` for this process's lifetime (released by the kernel when the
    process dies, so a crash never leaves it stale). Returns the fd holding it, or None if another holder has it."""
    fd = os.open(os.path.join(path, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
