"""Shared test helpers: disk images, deterministic data, a simulated clock, a small receiver."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

from agent.dataplane import BLOCK_SIZE, Batch, BlockWrite, EncodedBatch, decode_batch


def make_disk(path: Path, size: int, *, seed: int | None = None, fill: float = 1.0) -> Path:
    """A disk image of ``size`` bytes; with ``seed``, a ``fill`` fraction of its 4 KiB blocks hold mixed data."""
    with open(path, "wb") as handle:
        handle.truncate(size)
        if seed is not None:
            rng = random.Random(seed)
            for block in range(size // BLOCK_SIZE):
                if rng.random() < fill:
                    handle.seek(block * BLOCK_SIZE)
                    handle.write(block_data(rng))
    return path


def block_data(rng: random.Random, blocks: int = 1) -> bytes:
    """Blocks of compressible or random content."""
    out = bytearray()
    for _ in range(blocks):
        if rng.random() < 0.5:
            out += rng.randbytes(BLOCK_SIZE)
        else:
            word = rng.randbytes(rng.randint(1, 16))
            out += (word * (BLOCK_SIZE // len(word) + 1))[:BLOCK_SIZE]
    return bytes(out)


def read_file(path: Path) -> bytes:
    return path.read_bytes()


class SimulatedClock:
    """Monotonic time that only moves when a waiter waits (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def wait(self, condition: threading.Condition, timeout: float) -> None:
        self.waits.append(timeout)
        self.now += timeout


class FileReceiver:
    """A minimal master target for end-to-end tests: validates each batch, writes it to a target file, fsyncs and
    advances the durable watermark; batches at or below the watermark are skipped, gaps are refused."""

    def __init__(self, target: Path, size: int) -> None:
        self.target = target
        self.size = size
        self.watermark = 0
        self.applied: list[int] = []
        self.skipped: list[int] = []
        self.batches: list[Batch] = []

    def receive(self, encoded: EncodedBatch) -> None:
        if encoded.seq <= self.watermark:
            self.skipped.append(encoded.seq)
            return
        if encoded.seq != self.watermark + 1:
            raise AssertionError(f"gap: batch {encoded.seq} after watermark {self.watermark}")
        batch = decode_batch(encoded.seq, encoded.entries, self.size, generation=1)
        fd = os.open(self.target, os.O_WRONLY)
        try:
            for entry in batch.entries:
                if isinstance(entry, BlockWrite):
                    os.pwrite(fd, entry.data, entry.offset)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.batches.append(batch)
        self.applied.append(encoded.seq)
        self.watermark = encoded.seq
