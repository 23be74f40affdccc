"""ScanSource: a resync pass that yields only the blocks where the source differs from the remote disk.

Two-level compare (DRBD's csums-alg, rsync with a fixed block size): for each window of the source, the 64 KiB chunk
hashes are compared with the remote's; inside the chunks that differ, 4 KiB block hashes find the blocks to send.
A remote chunk whose hash is that of zeros needs no second round trip: its blocks differ exactly where the source's
are not zero, which is how an initial sync onto an empty disk sends only the non-zero data. The pass ends with a
RESYNC_COMPLETE bookmark. The scan never writes; it keeps two window buffers for the whole pass, so that one
window's second round trip overlaps the reading and hashing of the next.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import blake3

from agent.dataplane._codec import zero_digest
from agent.dataplane._hashing import CHUNK_SIZE, RemoteHashes, open_disk, plan_resync, read_exact
from agent.dataplane._model import BLOCK_SIZE, BlockWrite, Bookmark, BookmarkKind, Extent
from agent.dataplane._source import SourceEntry
from agent.dataplane.errors import InvalidInput, SourceError

__all__ = ["DiskReader", "ScanSource"]

_ZERO_BLOCK = bytes(BLOCK_SIZE)


@dataclass(slots=True)
class _Compared:
    """One window after the first round: its chunk hashes, the chunks that differ, those whose 4 KiB hashes were
    asked for (``blocks``, answered in the background) and the rest (the remote chunk is all zeros)."""

    window: memoryview
    base: int
    local: list[bytes]
    differing: list[int]
    asked: set[int]
    blocks: concurrent.futures.Future[Sequence[bytes]] | None


class DiskReader(Protocol):
    """A disk that is not a local file (e.g. a cloud snapshot read over HTTP): fills ``view`` from ``offset``."""

    def read_into(self, view: memoryview, offset: int) -> None: ...


class ScanSource:
    """Resync of the disk ``source`` (path or fd, ``size`` bytes, default its current size; or a
    :class:`DiskReader` with ``size`` given) against ``remote``.

    Cursors are byte offsets into the disk (a cursor inside a chunk resumes with the blocks after it);
    :attr:`done_cursor` (``size + 1``) is the cursor after the RESYNC_COMPLETE bookmark, so resuming from it yields
    nothing. ``window`` bytes are compared per remote round trip.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | int | DiskReader,
        remote: RemoteHashes,
        *,
        size: int | None = None,
        window: int = 16 << 20,
        resync_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if window <= 0 or window % CHUNK_SIZE:
            raise ValueError(f"the scan window must be a positive multiple of {CHUNK_SIZE}")
        self._asker: concurrent.futures.ThreadPoolExecutor | None = None
        if isinstance(source, str | os.PathLike | int):
            self._fd, self._owned = open_disk(source)
            self.size = size if size is not None else os.lseek(self._fd, 0, os.SEEK_END)
            self._read: Callable[[memoryview, int], None] = functools.partial(read_exact, self._fd)
        else:
            if size is None:
                raise ValueError("a scan through a DiskReader needs the disk's size")
            self._fd, self._owned, self.size, self._read = -1, False, size, source.read_into
        if self.size % BLOCK_SIZE:
            self.close()
            raise SourceError(f"the source disk is {self.size} bytes, not a multiple of {BLOCK_SIZE}")
        self._remote = remote
        # Two windows: while the 4 KiB hashes of one are asked from the remote, the next one is read and hashed.
        self._buffers = (bytearray(window), bytearray(window))
        self._clock = clock
        self.resync_id = resync_id or f"resync-{uuid.uuid4().hex}"
        self.scanned = 0

    @property
    def done_cursor(self) -> int:
        return self.size + 1

    @property
    def progress(self) -> float:
        """Fraction of the disk compared so far in the current pass, 0.0 to 1.0."""
        return 1.0 if self.size == 0 else min(self.scanned, self.size) / self.size

    def changes(self, cursor: int = 0) -> Iterator[SourceEntry]:
        if cursor < 0 or cursor > self.done_cursor or (cursor <= self.size and cursor % BLOCK_SIZE):
            raise ValueError(f"scan cursor {cursor} is not a block offset inside the disk")
        if cursor == self.done_cursor:
            return
        position = cursor - cursor % CHUNK_SIZE
        self.scanned = cursor
        views = [memoryview(buffer) for buffer in self._buffers]
        previous: _Compared | None = None
        turn = 0
        while position < self.size:
            view = views[turn]
            end = min(position + len(view), self.size)
            window = view[: end - position]
            self._read(window, position)
            compared = self._compare_window(window, position)
            if previous is not None:
                yield from self._entries(previous, cursor)
            previous, turn = compared, 1 - turn
            position = end
        if previous is not None:
            yield from self._entries(previous, cursor)
        now = self._clock()
        complete = Bookmark(self.resync_id, BookmarkKind.RESYNC_COMPLETE, None, None, now)
        yield SourceEntry(complete, self.done_cursor, now)

    def _compare_window(self, window: memoryview, base: int) -> _Compared:
        """First round for one window (64 KiB chunk hashes); the second round's request (4 KiB hashes inside the
        chunks that differ) is sent off and answered while the caller goes on with the next window."""
        size = len(window)
        local = [blake3.blake3(window[i : i + CHUNK_SIZE]).digest() for i in range(0, size, CHUNK_SIZE)]
        remote = self._remote.hashes([Extent(base, size)], CHUNK_SIZE)
        if len(remote) != len(local):
            raise InvalidInput(f"the remote returned {len(remote)} chunk hashes for {len(local)} chunks at {base}")
        differing = [i for i, digest in enumerate(local) if digest != remote[i]]
        ask = [i for i in differing if remote[i] != zero_digest(min(CHUNK_SIZE, size - i * CHUNK_SIZE))]
        extents = [Extent(base + i * CHUNK_SIZE, min(CHUNK_SIZE, size - i * CHUNK_SIZE)) for i in ask]
        blocks: concurrent.futures.Future[Sequence[bytes]] | None = None
        if extents:
            if self._asker is None:
                self._asker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="scan-ask")
            blocks = self._asker.submit(self._remote.hashes, extents, BLOCK_SIZE)
        return _Compared(window, base, local, differing, set(ask), blocks)

    def _entries(self, compared: _Compared, cursor: int) -> Iterator[SourceEntry]:
        for entry in self._window_changes(compared):
            if entry.offset + entry.length <= cursor:
                continue
            yield SourceEntry(entry, entry.offset + entry.length, self._clock())
        self.scanned = compared.base + len(compared.window)

    def _window_changes(self, compared: _Compared) -> Iterator[BlockWrite]:
        window, base, size = compared.window, compared.base, len(compared.window)
        remote_blocks = iter(compared.blocks.result() if compared.blocks is not None else [])
        for i in compared.differing:
            start = i * CHUNK_SIZE
            chunk = window[start : min(start + CHUNK_SIZE, size)]
            if i in compared.asked:
                yield from self._compare_blocks(chunk, base + start, compared.local[i], remote_blocks)
            else:
                yield from self._nonzero_blocks(chunk, base + start, compared.local[i])

    def _compare_blocks(
        self, chunk: memoryview, offset: int, chunk_digest: bytes, remote_blocks: Iterator[bytes]
    ) -> Iterator[BlockWrite]:
        mine = [blake3.blake3(chunk[j : j + BLOCK_SIZE]).digest() for j in range(0, len(chunk), BLOCK_SIZE)]
        theirs = [next(remote_blocks, b"") for _ in mine]
        for extent in plan_resync(mine, theirs, unit=BLOCK_SIZE, start=offset):
            rel = extent.offset - offset
            if extent.length == len(chunk):
                digest = chunk_digest
            elif extent.length == BLOCK_SIZE:
                digest = mine[rel // BLOCK_SIZE]
            else:
                digest = blake3.blake3(chunk[rel : rel + extent.length]).digest()
            yield BlockWrite(extent.offset, bytes(chunk[rel : rel + extent.length]), digest)

    def _nonzero_blocks(self, chunk: memoryview, offset: int, chunk_digest: bytes) -> Iterator[BlockWrite]:
        # The remote chunk is all zeros: send the runs of non-zero blocks (a copy + memcmp beats hashing here).
        nonzero = [bytes(chunk[j : j + BLOCK_SIZE]) != _ZERO_BLOCK for j in range(0, len(chunk), BLOCK_SIZE)]
        j = 0
        while j < len(nonzero):
            if not nonzero[j]:
                j += 1
                continue
            run = j
            while j < len(nonzero) and nonzero[j]:
                j += 1
            data = bytes(chunk[run * BLOCK_SIZE : j * BLOCK_SIZE])
            digest = chunk_digest if len(data) == len(chunk) else blake3.blake3(data).digest()
            yield BlockWrite(offset + run * BLOCK_SIZE, data, digest)

    def close(self) -> None:
        if self._asker is not None:
            self._asker.shutdown(wait=True, cancel_futures=True)
            self._asker = None
        if self._owned:
            os.close(self._fd)
            self._owned = False

    def __enter__(self) -> ScanSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
