"""Batches: cutting the source's entries into ~1 MiB batches, encoding them on a thread pool, and decoding and
validating a received batch as a whole.

A batch is the unit of acknowledgement. The receiver accepts it whole or not at all: :func:`decode_batch` checks
every entry (and the total size, before decompressing anything) and only then returns, so the caller never holds a
partly valid batch.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType

from agent.dataplane._codec import EncodedBlock, decode_and_validate, encode_block
from agent.dataplane._model import Batch, BlockWrite, Bookmark, Entry, validate_bookmark
from agent.dataplane._source import SourceEntry
from agent.dataplane._wire import EncodedBatch
from agent.dataplane.errors import InvalidInput, RejectedInput, TooLarge

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_ENTRIES",
    "BatchEncoder",
    "Batcher",
    "PendingBatch",
    "decode_batch",
    "encode_batch",
]

#: Default receiver limit on the plain bytes of one batch (the sender cuts at ~1 MiB).
MAX_BATCH_BYTES = 16 << 20
#: Receiver limit on the entries of one batch.
MAX_BATCH_ENTRIES = 4096


@dataclass(frozen=True, slots=True)
class PendingBatch:
    """A cut, numbered batch of plain entries, not yet encoded (see :class:`EncodedBatch` for the fields)."""

    seq: int
    entries: tuple[Entry, ...]
    cursor: int
    captured_at: float

    @property
    def plain_bytes(self) -> int:
        return sum(e.length for e in self.entries if isinstance(e, BlockWrite))


class Batcher:
    """Cuts source entries into batches of about ``target_bytes`` and numbers them from ``first_seq``.

    A batch closes before a block that would take it past ``target_bytes`` (so it exceeds the target only when a
    single block does), after ``max_entries`` entries, after every bookmark (a bookmark always ends its batch, so a
    recovery point never waits for later writes), and when the source runs dry.
    """

    def __init__(self, *, first_seq: int = 1, target_bytes: int = 1 << 20, max_entries: int = 1024) -> None:
        if first_seq < 1:
            raise ValueError("sequence numbers start at 1")
        if target_bytes <= 0 or not 0 < max_entries <= MAX_BATCH_ENTRIES:
            raise ValueError(f"target_bytes must be positive and max_entries in 1..{MAX_BATCH_ENTRIES}")
        self._next_seq = first_seq
        self._target = target_bytes
        self._max_entries = max_entries

    @property
    def next_seq(self) -> int:
        """The sequence number the next batch will get."""
        return self._next_seq

    def cut(self, entries: Iterable[SourceEntry]) -> Iterator[PendingBatch]:
        pending: list[Entry] = []
        size = 0
        cursor = 0
        captured_at = 0.0
        for item in entries:
            entry = item.entry
            if isinstance(entry, BlockWrite) and pending and size + entry.length > self._target:
                yield self._close(pending, cursor, captured_at)
                pending, size = [], 0
            if not pending:
                captured_at = item.captured_at
            pending.append(entry)
            cursor = item.cursor
            if isinstance(entry, BlockWrite):
                size += entry.length
            if isinstance(entry, Bookmark) or len(pending) >= self._max_entries:
                yield self._close(pending, cursor, captured_at)
                pending, size = [], 0
        if pending:
            yield self._close(pending, cursor, captured_at)

    def _close(self, entries: list[Entry], cursor: int, captured_at: float) -> PendingBatch:
        batch = PendingBatch(self._next_seq, tuple(entries), cursor, captured_at)
        self._next_seq += 1
        return batch


def encode_batch(batch: PendingBatch, *, level: int = 1) -> EncodedBatch:
    """Compress every block of ``batch``; each :class:`BlockWrite` already carries its digest, which is passed on."""
    encoded: list[EncodedBlock | Bookmark] = [
        encode_block(e.offset, e.data, digest=e.digest, level=level) if isinstance(e, BlockWrite) else e
        for e in batch.entries
    ]
    return EncodedBatch(batch.seq, tuple(encoded), batch.cursor, batch.captured_at)


class BatchEncoder:
    """Encodes batches on ``threads`` worker threads, one batch per task, results in submission order.

    zstd and blake3 release the GIL, so two threads on two cores encode ~1.9x as fast as one (whereas zstd's own
    multi-threading is slower on 1 MiB inputs). At most ``depth`` batches are in flight in :meth:`encode_all`.
    """

    def __init__(self, *, threads: int = 2, level: int = 1, depth: int | None = None) -> None:
        if threads < 1:
            raise ValueError("an encoder needs at least one thread")
        self._level = level
        self._depth = depth if depth is not None else 2 * threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dataplane-encode")

    def submit(self, batch: PendingBatch) -> Future[EncodedBatch]:
        return self._pool.submit(encode_batch, batch, level=self._level)

    def encode_all(self, batches: Iterable[PendingBatch]) -> Iterator[EncodedBatch]:
        inflight: collections.deque[Future[EncodedBatch]] = collections.deque()
        try:
            for batch in batches:
                inflight.append(self.submit(batch))
                if len(inflight) >= self._depth:
                    yield inflight.popleft().result()
            while inflight:
                yield inflight.popleft().result()
        finally:
            for future in inflight:
                future.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BatchEncoder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def decode_batch(
    seq: int,
    entries: Sequence[EncodedBlock | Bookmark],
    disk_size: int,
    *,
    generation: int,
    max_batch_bytes: int = MAX_BATCH_BYTES,
) -> Batch:
    """Validate and decode a received batch of pair ``generation`` for a disk of ``disk_size`` bytes, all or
    nothing.

    Raises :class:`InvalidInput` or :class:`CorruptData` (with the entry index in the message) and returns nothing
    if any entry is bad. The total declared size is checked before anything is decompressed, so a batch never makes
    the receiver allocate more than ``max_batch_bytes``.
    """
    if type(seq) is not int or seq < 1:
        raise InvalidInput(f"batch sequence number {seq!r} is not a positive integer")
    if not entries:
        raise InvalidInput(f"batch {seq} is empty")
    if len(entries) > MAX_BATCH_ENTRIES:
        raise TooLarge(f"batch {seq} has {len(entries)} entries; the limit is {MAX_BATCH_ENTRIES}")
    declared = 0
    for entry in entries:
        if isinstance(entry, EncodedBlock):
            if type(entry.length) is not int or entry.length < 0:
                raise InvalidInput(f"batch {seq}: block at offset {entry.offset!r} has length {entry.length!r}")
            declared += entry.length
        elif not isinstance(entry, Bookmark):
            raise InvalidInput(f"batch {seq}: entry of type {type(entry).__name__} is neither block nor bookmark")
    if declared > max_batch_bytes:
        raise TooLarge(f"batch {seq} declares {declared} bytes; the limit is {max_batch_bytes}")
    decoded: list[Entry] = []
    for index, entry in enumerate(entries):
        try:
            if isinstance(entry, EncodedBlock):
                decoded.append(decode_and_validate(entry, disk_size))
            else:
                decoded.append(validate_bookmark(entry))
        except RejectedInput as exc:
            raise type(exc)(f"batch {seq}, entry {index}: {exc.message}") from exc
    return Batch(generation, seq, tuple(decoded))
