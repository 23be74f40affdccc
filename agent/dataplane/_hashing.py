"""Block hashes for resync and the disk digest for integrity attestation.

Hash lists are blake3-256 per *unit* (64 KiB chunks first, then 4 KiB blocks inside chunks that differ): a unit
starts at the beginning of its extent and every ``unit`` bytes after it; the last unit of an extent is shorter when
the extent's length is not a multiple of ``unit``. Disks are read with large preads into one reused buffer and hashed
as slices of it (blake3 releases the GIL, so a scan and an encoder pool overlap).

Disk digest (format version 1), for a disk image ``D`` of ``size`` bytes::

    chunk_i     = D[i * 65536 : min((i + 1) * 65536, size)]          for i = 0 .. ceil(size / 65536) - 1
    disk_digest = BLAKE3( b"failback.disk-digest.v1\\x00"            (24 bytes, domain separation)
                          || LE64(size)                               (size as 8 little-endian bytes)
                          || BLAKE3(chunk_0) || ... || BLAKE3(chunk_n-1) )   (32 bytes each, in disk order)

where BLAKE3 is the default 32-byte output. Two disks have the same digest exactly when they have the same size and
the same bytes (up to blake3 collisions); the master target compares its disk at a recovery point with the source's
digest at that point, reading only the first ``size`` bytes of its (possibly larger) target disk.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from typing import Protocol

import blake3

from agent.dataplane._codec import check_extent
from agent.dataplane._model import BLOCK_SIZE, Extent
from agent.dataplane.errors import InvalidInput, SourceError, TooLarge

__all__ = [
    "CHUNK_SIZE",
    "DISK_DIGEST_DOMAIN",
    "MAX_HASHES_PER_REQUEST",
    "DiskHasher",
    "RemoteHashes",
    "disk_digest",
    "iter_hashes",
    "open_disk",
    "plan_resync",
    "range_hashes",
    "read_exact",
]

#: First-level resync unit and the disk digest's chunk.
CHUNK_SIZE = 64 << 10
DISK_DIGEST_DOMAIN = b"failback.disk-digest.v1\x00"
#: One hash request may ask for at most this many hashes (1 GiB of 64 KiB chunks).
MAX_HASHES_PER_REQUEST = 16384
_READ_SIZE = 4 << 20


class RemoteHashes(Protocol):
    """The peer's hashes: for each extent, in order, the blake3 of every ``unit`` bytes (see the module doc)."""

    def hashes(self, extents: Sequence[Extent], unit: int) -> Sequence[bytes]: ...


def open_disk(source: str | os.PathLike[str] | int, *, write: bool = False) -> tuple[int, bool]:
    """An fd for ``source`` (a path or an fd) and whether the caller owns (must close) it."""
    if isinstance(source, int):
        return source, False
    flags = (os.O_RDWR if write else os.O_RDONLY) | os.O_CLOEXEC
    try:
        return os.open(source, flags), True
    except OSError as exc:
        raise SourceError(f"cannot open disk {os.fspath(source)!r}: {exc.strerror}") from exc


def read_exact(fd: int, view: memoryview, offset: int) -> None:
    """Fill ``view`` from ``offset``; a disk that ends early is a :class:`SourceError`."""
    done = 0
    while done < len(view):
        try:
            got = os.preadv(fd, [view[done:]], offset + done)
        except OSError as exc:
            raise SourceError(f"reading the disk at offset {offset + done} failed: {exc.strerror}") from exc
        if got == 0:
            raise SourceError(f"the disk ends at {offset + done}, before the {len(view)} bytes asked at {offset}")
        done += got


def iter_hashes(fd: int, extents: Sequence[Extent], unit: int, *, buffer: bytearray | None = None) -> Iterator[bytes]:
    """blake3 of every ``unit`` bytes of each extent of the disk behind ``fd``, read through ``buffer`` (a multiple
    of ``unit`` long; allocated if not given). No validation: :class:`DiskHasher` is the checked entry point."""
    if buffer is None:
        buffer = bytearray(max(_READ_SIZE - _READ_SIZE % unit, unit))
    view = memoryview(buffer)
    for offset, length in extents:
        position, end = offset, offset + length
        while position < end:
            size = min(len(view), end - position)
            read_exact(fd, view[:size], position)
            for i in range(0, size, unit):
                yield blake3.blake3(view[i : min(i + unit, size)]).digest()
            position += size


def range_hashes(fd: int, extents: Sequence[Extent], unit: int, *, buffer: bytearray | None = None) -> list[bytes]:
    """:func:`iter_hashes` as a list."""
    return list(iter_hashes(fd, extents, unit, buffer=buffer))


class DiskHasher:
    """Hashes of a local disk (file or block device), answering :class:`RemoteHashes` requests after checking them:
    the master target serves the process server's resync with this."""

    def __init__(self, source: str | os.PathLike[str] | int, size: int | None = None) -> None:
        self._fd, self._owned = open_disk(source)
        self.size = size if size is not None else os.lseek(self._fd, 0, os.SEEK_END)
        # Requests may come from several server threads; each reuses its own read buffer.
        self._buffers = threading.local()

    def hashes(self, extents: Sequence[Extent], unit: int) -> list[bytes]:
        if unit not in (BLOCK_SIZE, CHUNK_SIZE):
            raise InvalidInput(f"hash unit {unit} is neither {BLOCK_SIZE} nor {CHUNK_SIZE}")
        count = 0
        for extent in extents:
            check_extent(extent.offset, extent.length, self.size, limit=MAX_HASHES_PER_REQUEST * unit)
            count += -(-extent.length // unit)
        if count > MAX_HASHES_PER_REQUEST:
            raise TooLarge(f"hash request for {count} units; the limit is {MAX_HASHES_PER_REQUEST}")
        buffer: bytearray | None = getattr(self._buffers, "buffer", None)
        if buffer is None:
            buffer = self._buffers.buffer = bytearray(_READ_SIZE)
        return range_hashes(self._fd, extents, unit, buffer=buffer)

    def close(self) -> None:
        if self._owned:
            os.close(self._fd)
            self._owned = False

    def __enter__(self) -> DiskHasher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def plan_resync(
    local_hashes: Sequence[bytes], remote_hashes: Sequence[bytes], *, unit: int, start: int = 0, end: int | None = None
) -> Iterator[Extent]:
    """The extents to send so the remote matches the local side, from two hash lists over the same range.

    Hash ``i`` covers ``[start + i*unit, min(start + (i+1)*unit, end))``; ``end`` defaults to ``start +
    len(local_hashes)*unit``. A local unit with no remote hash (remote list shorter) is sent. Adjacent differing units
    are merged into one extent.
    """
    if end is None:
        end = start + len(local_hashes) * unit
    run_start: int | None = None
    for i, local in enumerate(local_hashes):
        differs = i >= len(remote_hashes) or local != remote_hashes[i]
        position = start + i * unit
        if differs and run_start is None:
            run_start = position
        elif not differs and run_start is not None:
            yield Extent(run_start, position - run_start)
            run_start = None
    if run_start is not None:
        stop = min(start + len(local_hashes) * unit, end)
        yield Extent(run_start, stop - run_start)


def disk_digest(source: str | os.PathLike[str] | int, size: int) -> bytes:
    """The disk digest of the first ``size`` bytes of ``source`` (definition in the module docstring)."""
    if size < 0:
        raise ValueError("a disk size cannot be negative")
    fd, owned = open_disk(source)
    try:
        root = blake3.blake3(DISK_DIGEST_DOMAIN)
        root.update(size.to_bytes(8, "little"))
        if size:
            for digest in iter_hashes(fd, [Extent(0, size)], CHUNK_SIZE):
                root.update(digest)
        return root.digest()
    finally:
        if owned:
            os.close(fd)
