"""Benchmark: random 4-64 KiB writes at a fixed rate through the change tracker, against plain pwrite + fdatasync
with the same group commit, in the same run.

An open-loop schedule (write i is due when the rate says so, whatever happened before) is served by ``--writers``
threads; latency is measured from the call to its return (durable), lateness from the due time to the call. While
the tracker runs, a thread acknowledges everything durable once a second (trim + checkpoint), as the sender's acks
would. MB = 10^6 bytes. Prints one JSON line.

    python scripts/bench/tracker.py [--rate-mb 54] [--seconds 20] [--writers 8] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _data import mixed_image

from agent.dataplane import BLOCK_SIZE, Tracker

DISK = 1 << 30


class GroupCommitFile:
    """The baseline: pwrite to a plain file, then one fdatasync shared by every writer waiting at that moment."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR)
        self.cond = threading.Condition()
        self.written = 0
        self.durable = 0
        self.syncing = False
        self.syncs = 0

    def write(self, offset: int, data: memoryview) -> None:
        os.pwrite(self.fd, data, offset)
        with self.cond:
            self.written += 1
            mine = self.written
            while self.durable < mine:
                if self.syncing:
                    self.cond.wait()
                    continue
                self.syncing = True
                upto = self.written
                self.cond.release()
                try:
                    os.fdatasync(self.fd)
                finally:
                    self.cond.acquire()
                self.syncs += 1
                self.syncing = False
                self.durable = max(self.durable, upto)
                self.cond.notify_all()

    def close(self) -> None:
        os.close(self.fd)


def schedule(rate: float, seconds: float, seed: int) -> list[tuple[float, int, int]]:
    rng = random.Random(seed)
    plan, due, total = [], 0.0, 0
    while due < seconds:
        size = rng.randint(1, 16) * BLOCK_SIZE
        plan.append((due, rng.randrange(DISK // BLOCK_SIZE - 16) * BLOCK_SIZE, size))
        total += size
        due = total / rate
    return plan


def drive(write: Callable[[int, memoryview], object], plan, data: memoryview, writers: int) -> dict[str, float]:
    latencies: list[float] = [0.0] * len(plan)
    late: list[float] = [0.0] * len(plan)
    counter = iter(range(len(plan)))
    lock = threading.Lock()
    start = time.perf_counter() + 0.2

    def worker() -> None:
        rng = random.Random(threading.get_ident())
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            due, offset, size = plan[index]
            delay = start + due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            source = rng.randrange(0, len(data) - size) & ~(BLOCK_SIZE - 1)
            called = time.perf_counter()
            write(offset, data[source : source + size])
            latencies[index] = time.perf_counter() - called
            late[index] = max(0.0, called - (start + due))

    cpu = time.process_time()
    threads = [threading.Thread(target=worker) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    written = sum(size for _, _, size in plan)
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 3)

    return {
        "mb_s": round(written / elapsed / 1e6, 1),
        "writes": len(plan),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "p999_ms": pct(0.999),
        "max_late_ms": round(max(late) * 1000, 1),
        "cpu_s_per_gb": round(cpu / (written / 1e9), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate-mb", type=float, default=54.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--dir", default="/var/tmp")
    parser.add_argument("--trim-every", type=float, default=1.0, help="seconds between acknowledgements; 0: never")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="bench-tracker-", dir=args.dir)
    try:
        data = memoryview(bytes(mixed_image(64 << 20, seed=2)))
        plan = schedule(args.rate_mb * 1e6, args.seconds, seed=3)
        for name in ("tracked", "plain"):
            with open(os.path.join(work, name), "wb") as handle:
                handle.truncate(DISK)

        baseline_file = GroupCommitFile(os.path.join(work, "plain"))
        baseline = drive(baseline_file.write, plan, data, args.writers)
        baseline["fsyncs"] = baseline_file.syncs
        baseline_file.close()

        tracker = Tracker(os.path.join(work, "tracked"), os.path.join(work, "log"))
        stop = threading.Event()
        trims = 0

        def acknowledger() -> None:
            nonlocal trims
            while args.trim_every and not stop.wait(args.trim_every):
                tracker.trim(tracker.durable_position)
                trims += 1

        acker = threading.Thread(target=acknowledger)
        acker.start()
        tracked = drive(tracker.write, plan, data, args.writers)
        stop.set()
        acker.join()
        tracker.close()
        tracked["trims"] = trims

        print(
            json.dumps(
                {
                    "bench": "tracker",
                    "target_mb_s": args.rate_mb,
                    "seconds": args.seconds,
                    "writers": args.writers,
                    "write_sizes_kib": "4-64",
                    "tracker": tracked,
                    "baseline_pwrite_fdatasync_group_commit": baseline,
                    "ratio_mb_s": round(tracked["mb_s"] / baseline["mb_s"], 3),
                    "ratio_p50": round(tracked["p50_ms"] / baseline["p50_ms"], 2),
                    "ratio_p99": round(tracked["p99_ms"] / baseline["p99_ms"], 2),
                    "loadavg_1min": round(os.getloadavg()[0], 2),
                }
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
