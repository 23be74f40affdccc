"""Benchmark: failover time (RTO) of the master-target engine, and its append throughput. Prints one JSON line.

- ``latest_64m_s`` / ``latest_1g_s``: bring a 1 GiB disk to latest with 64 MiB and with 1 GiB of overwrites of
  history behind it (``history_*_bytes`` is the undo kept for them, compressed). It must not grow with history:
  ``latest_ratio`` = 1g / 64m, target <= 1.2. Each is the fastest of 101 runs: the cost is one catalog fdatasync,
  a fraction of a millisecond, so a median moves with whatever else the machine does (``*_median_s`` show it).
  ``open_*_s``: reopening (recovery) then.
- ``point_256m_s``: bring it to a point with 256 MiB of churn since (cost proportional to that churn).
- ``sync_1m_mbps`` / ``sync_4m_mbps``: MB/s of source data through append + apply (fsync on every batch) during the
  initial sync, in 1 MiB and 4 MiB batches; ``steady_mbps`` the same for overwrites of a consistent disk with a point
  every 8 MiB (every block's before-image captured, zstd level 1): the worst case. Against ``baseline_mbps``: plain
  sequential O_DIRECT 1 MiB writes of the same bytes to the same target file in the same run (``*_ratio`` = engine /
  baseline). ``rewrite_mbps``: overwrites of blocks already captured since the last point (no before-image: what
  most writes are between two 30 s crash points). The whole data path must reach 450 MB/s.

The target is a fully written file (a VMDK-backed disk is a block device: no allocation on first write). Data is half
random, half text (compresses about 2:1, like mixed disk data); the receive path's decompress and blake3 are not
measured here. Run: ``python scripts/bench/rto.py [--dir DIR] [--size-mib 1024]`` (needs ~3x the disk size free).
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

import blake3

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from agent.journal import (
    Batch,
    BlockWrite,
    Bookmark,
    BookmarkKind,
    Latest,
    PairJournal,
    PairSpec,
    PointId,
)
from agent.retention import RetentionPolicy

MIB = 1 << 20
BATCH = 1 * MIB  # one receive-path message
WRITE = 256 << 10  # four extents per batch


class Stream:
    """Pre-built, half-compressible payloads (like mixed disk data) and their digests: the receive path's work
    (decompress, blake3) is not what this benchmark measures."""

    def __init__(self, count: int = 64) -> None:
        rng = random.Random(1)
        text = (b"failback master target retention journal " * 100)[:2048]
        self.payloads = []
        for _ in range(count):
            block = b"".join(rng.randbytes(2048) + text for _ in range(WRITE // 4096))
            self.payloads.append((block, blake3.blake3(block).digest()))
        self.seq = 0
        self.turn = 0
        self.generation = 1

    def batch(self, offset: int, marks: list[Bookmark] | None = None) -> Batch:
        entries: list[BlockWrite | Bookmark] = []
        for i in range(BATCH // WRITE):
            data, digest = self.payloads[self.turn % len(self.payloads)]
            self.turn += 1
            entries.append(BlockWrite(offset + i * WRITE, data, digest))
        entries.extend(marks or [])
        self.seq += 1
        return Batch(self.generation, self.seq, entries)


def baseline(path: str, size: int) -> float:
    """Plain sequential O_DIRECT 1 MiB writes of ``size`` bytes over the target file, one fdatasync: MB/s."""
    buf = mmap.mmap(-1, MIB)
    buf.write(Stream(1).payloads[0][0] * (MIB // WRITE))
    fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
    try:
        start = time.perf_counter()
        for offset in range(0, size, MIB):
            os.pwrite(fd, buf, offset)
        os.fdatasync(fd)
        return size / (time.perf_counter() - start) / 1e6
    finally:
        os.close(fd)


def make_disk(path: str, size: int) -> None:
    """A fully written file: like the block device a VMDK is, no allocation left for the first writes to pay."""
    with open(path, "wb") as handle:
        for _ in range(size // MIB):
            handle.write(bytes(MIB))
        os.fsync(handle.fileno())


def initial_sync(journal: PairJournal, stream: Stream, size: int, batch: int) -> float:
    """Send the whole disk as the initial sync in batches of ``batch`` bytes; MB/s through append + apply."""
    stream.seq = 0
    stream.generation = journal.spec.generation
    start = time.perf_counter()
    for offset in range(0, size, batch):
        entries: list[BlockWrite | Bookmark] = []
        for at in range(offset, offset + batch, BATCH):
            entries.extend(stream.batch(at).entries)
            stream.seq -= 1
        if offset + batch >= size:
            entries.append(Bookmark("synced", BookmarkKind.RESYNC_COMPLETE))
        stream.seq += 1
        journal.append(Batch(stream.generation, stream.seq, entries))
    journal.apply_pending()
    return size / (time.perf_counter() - start) / 1e6


def overwrite(journal: PairJournal, stream: Stream, start: int, nbytes: int, size: int, mark_every: int) -> None:
    for i, at in enumerate(range(0, nbytes, BATCH)):
        marked = mark_every and i % mark_every == mark_every - 1
        marks = [Bookmark(f"b{stream.seq + 1}", BookmarkKind.APP)] if marked else None
        journal.append(stream.batch((start + at) % size, marks))


def time_latest(journal: PairJournal, runs: int = 101) -> tuple[float, float]:
    """(fastest, median) of ``runs`` failovers to latest and back."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        journal.bring_to(Latest())
        samples.append(time.perf_counter() - start)
        journal.cancel()
    return min(samples), statistics.median(samples)


def time_open(journal: PairJournal, directory: str, target: str, policy: RetentionPolicy) -> float:
    """Close, then time a reopen (recovery): it must not read the history either."""
    spec = journal.spec
    journal.close()
    start = time.perf_counter()
    PairJournal.open(directory, spec, target, policy=policy).close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mib * MIB
    work = tempfile.mkdtemp(prefix="rto-", dir=args.dir)
    try:
        target = os.path.join(work, "disk")
        make_disk(target, size)
        base = baseline(target, size)
        directory = os.path.join(work, "journal")
        policy = RetentionPolicy(crash_interval=3600)
        stream = Stream()
        # The same disk synced twice (a new generation starts afresh): in 4 MiB batches, then in 1 MiB batches.
        journal = PairJournal.open(directory, PairSpec("bench", 1, size), target, policy=policy)
        sync_4m = initial_sync(journal, stream, size, 4 * MIB)
        journal.close()
        journal = PairJournal.open(directory, PairSpec("bench", 2, size), target, policy=policy)
        sync_1m = initial_sync(journal, stream, size, MIB)

        overwrite(journal, stream, 0, 64 * MIB, size, mark_every=8)
        journal.apply_pending()
        history_64m = journal.undo.total_bytes()
        latest_64m = time_latest(journal)
        open_64m = time_open(journal, directory, target, policy)
        journal = PairJournal.open(directory, journal.spec, target, policy=policy)

        start = time.perf_counter()
        overwrite(journal, stream, 64 * MIB, size - 64 * MIB, size, mark_every=8)
        journal.apply_pending()
        steady_mbps = (size - 64 * MIB) / (time.perf_counter() - start) / 1e6
        history_1g = journal.undo.total_bytes()
        latest_1g = time_latest(journal)
        open_1g = time_open(journal, directory, target, policy)
        journal = PairJournal.open(directory, journal.spec, target, policy=policy)

        churn = 256 * MIB
        journal.append(stream.batch(0, [Bookmark("before-churn", BookmarkKind.APP)]))
        overwrite(journal, stream, MIB, churn, size, mark_every=64)
        journal.apply_pending()
        start = time.perf_counter()
        point = journal.bring_to(PointId("before-churn"))
        point_256m = time.perf_counter() - start
        journal.cancel()

        # Rewriting blocks already captured since the last point: the journalled path without before-images.
        overwrite(journal, stream, 512 * MIB, churn, size, mark_every=0)
        journal.apply_pending()
        start = time.perf_counter()
        overwrite(journal, stream, 512 * MIB, churn, size, mark_every=0)
        journal.apply_pending()
        rewrite_mbps = churn / (time.perf_counter() - start) / 1e6
        journal.close()
        print(
            json.dumps(
                {
                    "disk_mib": args.size_mib,
                    "latest_64m_s": round(latest_64m[0], 5),
                    "latest_1g_s": round(latest_1g[0], 5),
                    "latest_ratio": round(latest_1g[0] / latest_64m[0], 3),
                    "latest_64m_median_s": round(latest_64m[1], 5),
                    "latest_1g_median_s": round(latest_1g[1], 5),
                    "open_64m_s": round(open_64m, 4),
                    "open_1g_s": round(open_1g, 4),
                    "history_64m_bytes": history_64m,
                    "history_1g_bytes": history_1g,
                    "point_256m_s": round(point_256m, 3),
                    "point_256m_history_bytes": point.history_bytes if point else None,
                    "sync_1m_mbps": round(sync_1m, 1),
                    "sync_4m_mbps": round(sync_4m, 1),
                    "steady_mbps": round(steady_mbps, 1),
                    "rewrite_mbps": round(rewrite_mbps, 1),
                    "baseline_mbps": round(base, 1),
                    "sync_1m_ratio": round(sync_1m / base, 3),
                    "sync_4m_ratio": round(sync_4m / base, 3),
                    "steady_ratio": round(steady_mbps / base, 3),
                    "rewrite_ratio": round(rewrite_mbps / base, 3),
                }
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
