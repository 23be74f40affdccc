"""Benchmark: failover time (RTO) of the master-target engine, and its append throughput. Prints one JSON line.

- ``latest_64m_s`` / ``latest_1g_s``: bring a 1 GiB disk to latest with 64 MiB and with 1 GiB of history behind it
  (must not grow with history: ``latest_ratio`` = 1g / 64m, target <= 1.2). Median of several runs each.
- ``point_256m_s``: bring it to a point with 256 MiB of churn since (cost proportional to that churn).
- ``sync_mbps``: MB/s of source data through append + apply (fsync on) during the initial sync (no before-images),
  ``steady_mbps`` the same for overwrites of a consistent disk (before-images captured, zstd level 1), against
  ``baseline_mbps``: plain sequential O_DIRECT writes of the same bytes in 1 MiB writes in the same run
  (``sync_ratio`` / ``steady_ratio`` = engine / baseline). The whole data path must reach 450 MB/s.

Run: ``python scripts/bench/rto.py [--dir DIR] [--size-mib 1024]`` (needs ~4x the disk size free in DIR).
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

from agent.journal import (  # noqa: E402
    Batch,
    BlockWrite,
    Bookmark,
    BookmarkKind,
    JournalOptions,
    Latest,
    PairJournal,
    PairSpec,
    PointId,
)
from agent.retention import RetentionPolicy  # noqa: E402

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

    def batch(self, offset: int, marks: list[Bookmark] | None = None) -> Batch:
        entries: list[BlockWrite | Bookmark] = []
        for i in range(BATCH // WRITE):
            data, digest = self.payloads[self.turn % len(self.payloads)]
            self.turn += 1
            entries.append(BlockWrite(offset + i * WRITE, data, digest))
        entries.extend(marks or [])
        self.seq += 1
        return Batch(1, self.seq, entries)


def baseline(path: str, size: int) -> float:
    """Plain sequential O_DIRECT 1 MiB writes of ``size`` bytes, fdatasync at the end: MB/s."""
    buf = mmap.mmap(-1, MIB)
    buf.write(Stream(1).payloads[0][0] * (MIB // WRITE))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
    try:
        start = time.perf_counter()
        for offset in range(0, size, MIB):
            os.pwrite(fd, buf, offset)
        os.fdatasync(fd)
        return size / (time.perf_counter() - start) / 1e6
    finally:
        os.close(fd)
        os.unlink(path)


def overwrite(journal: PairJournal, stream: Stream, start: int, nbytes: int, size: int, mark_every: int) -> None:
    for i, at in enumerate(range(0, nbytes, BATCH)):
        marks = [Bookmark(f"b{stream.seq + 1}", BookmarkKind.APP)] if i % mark_every == mark_every - 1 else None
        journal.append(stream.batch((start + at) % size, marks))


def time_latest(journal: PairJournal, runs: int = 7) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        journal.bring_to(Latest())
        samples.append(time.perf_counter() - start)
        journal.cancel()
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mib * MIB
    work = tempfile.mkdtemp(prefix="rto-", dir=args.dir)
    try:
        base = baseline(os.path.join(work, "baseline"), size)
        target = os.path.join(work, "disk")
        with open(target, "wb") as handle:
            handle.truncate(size)
        journal = PairJournal.open(
            os.path.join(work, "journal"), PairSpec("bench", 1, size), target,
            policy=RetentionPolicy(crash_interval=3600), options=JournalOptions(),
        )
        stream = Stream()
        start = time.perf_counter()
        for offset in range(0, size, BATCH):
            last = offset + BATCH >= size
            journal.append(stream.batch(offset, [Bookmark("synced", BookmarkKind.RESYNC_COMPLETE)] if last else None))
        journal.apply_pending()
        sync_mbps = size / (time.perf_counter() - start) / 1e6

        start = time.perf_counter()
        overwrite(journal, stream, 0, 64 * MIB, size, mark_every=8)
        journal.apply_pending()
        steady_mbps = 64 * MIB / (time.perf_counter() - start) / 1e6
        history_64m = journal.undo.total_bytes()
        latest_64m = time_latest(journal)

        overwrite(journal, stream, 64 * MIB, size - 64 * MIB, size, mark_every=32)
        journal.apply_pending()
        history_1g = journal.undo.total_bytes()
        latest_1g = time_latest(journal)

        churn = 256 * MIB
        journal.append(stream.batch(0, [Bookmark("before-churn", BookmarkKind.APP)]))
        overwrite(journal, stream, MIB, churn, size, mark_every=64)
        journal.apply_pending()
        start = time.perf_counter()
        point = journal.bring_to(PointId("before-churn"))
        point_256m = time.perf_counter() - start
        journal.cancel()
        journal.close()
        print(json.dumps({
            "disk_mib": args.size_mib,
            "latest_64m_s": round(latest_64m, 5),
            "latest_1g_s": round(latest_1g, 5),
            "latest_ratio": round(latest_1g / latest_64m, 3),
            "history_64m_bytes": history_64m,
            "history_1g_bytes": history_1g,
            "point_256m_s": round(point_256m, 3),
            "point_256m_history_bytes": point.history_bytes if point else None,
            "sync_mbps": round(sync_mbps, 1),
            "steady_mbps": round(steady_mbps, 1),
            "baseline_mbps": round(base, 1),
            "sync_ratio": round(sync_mbps / base, 3),
            "steady_ratio": round(steady_mbps / base, 3),
        }))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
