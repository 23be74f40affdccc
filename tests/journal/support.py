"""Test support for the storage engine: a source-disk model (the oracle), a settable clock, journal helpers."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import blake3

from agent.journal import (
    BLOCK_SIZE,
    IO,
    Batch,
    BlockWrite,
    Bookmark,
    BookmarkKind,
    JournalOptions,
    PairJournal,
    PairSpec,
)
from agent.retention import RetentionPolicy

SMALL = JournalOptions(
    wal_segment_bytes=256 << 10,
    undo_segment_bytes=64 << 10,
    apply_round_bytes=128 << 10,
    max_pending_bytes=1 << 20,
    background_apply=False,
)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def block_write(offset: int, data: bytes) -> BlockWrite:
    return BlockWrite(offset, data, blake3.blake3(data).digest())


@dataclass
class Source:
    """The source disk and the content it had at every bookmark: what every recovery point must reproduce."""

    size: int
    generation: int = 1
    content: bytearray = field(init=False)
    at_point: dict[str, bytes] = field(default_factory=dict)
    seq: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    points_by_seq: dict[int, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.content = bytearray(self.size)

    def write(self, block: int, blocks: int, fill: int | None = None) -> BlockWrite:
        data = self.rng.randbytes(blocks * BLOCK_SIZE) if fill is None else bytes([fill]) * (blocks * BLOCK_SIZE)
        offset = block * BLOCK_SIZE
        self.content[offset : offset + len(data)] = data
        return block_write(offset, data)

    def random_write(self, max_blocks: int = 8) -> BlockWrite:
        total = self.size // BLOCK_SIZE
        blocks = self.rng.randint(1, min(max_blocks, total))
        return self.write(self.rng.randrange(0, total - blocks + 1), blocks)

    def bookmark(self, point_id: str, kind: BookmarkKind = BookmarkKind.APP, group: str | None = None) -> Bookmark:
        self.at_point[point_id] = bytes(self.content)
        return Bookmark(point_id, kind, tag="test" if kind is BookmarkKind.APP else None, group=group)

    def batch(self, entries: list[BlockWrite | Bookmark]) -> Batch:
        self.seq += 1
        return Batch(self.generation, self.seq, entries)

    def initial_sync(self) -> Batch:
        """One batch that writes the whole disk and completes the initial resync (point "synced")."""
        total = self.size // BLOCK_SIZE
        return self.batch([self.write(0, total), self.bookmark("synced", BookmarkKind.RESYNC_COMPLETE)])


def make_target(path: str, size: int) -> str:
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def open_journal(
    root: str,
    size: int,
    *,
    io: IO | None = None,
    clock: Clock | None = None,
    options: JournalOptions = SMALL,
    policy: RetentionPolicy | None = None,
    generation: int = 1,
) -> PairJournal:
    target = os.path.join(root, "disk")
    if not os.path.exists(target):
        os.makedirs(root, exist_ok=True)
        make_target(target, size)
    return PairJournal.open(
        os.path.join(root, "journal"),
        PairSpec("pair-1", generation, size),
        target,
        io=io,
        clock=clock or Clock(),
        options=options,
        policy=policy,
    )
