"""Benchmark: recovery point objective under load - how long after a write returns is it durable on the master target.

A workload writes ``--rate-mb`` MB/s of random 4-64 KiB writes (mixed data, scripts/bench/_data.py) through the change
tracker for ``--seconds`` seconds, on an open-loop schedule (write i is due when the rate says so) served by
``--writers`` threads; the log is trimmed once a second to what the master target acknowledged, as a real writer
would. Two real agent processes replicate it over mutual TLS (a reprotect pair: resync of the two blank disks
first, untimed; then the change log, journalled on the master target with before-images for its recovery points).

Lag of a write = the time from its return (durable in the change log) until the process server learns that the
master target made it durable (the process server publishes that position in the log directory; this process polls
it every 2 ms). Baseline, same run: the tracker's own write latency (call to durable return). MB = 10^6 bytes.
Prints one JSON line.

    python scripts/bench/rpo.py [--rate-mb 54] [--seconds 60] [--writers 8] [--size-mib 1024] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from _agents import Sampler, start_bench_lab
from _data import mixed_image

from agent.api.v1 import pairs_pb2
from agent.dataplane import BLOCK_SIZE, Tracker, read_acknowledged
from tests.replication.support import wait_for


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def blank(path: Path, size: int) -> None:
    zeros = bytes(64 << 20)
    with open(path, "wb") as handle:
        for _ in range(0, size, len(zeros)):
            handle.write(zeros)
        os.fsync(handle.fileno())


class Acknowledgements:
    """(time, position) each time the acknowledged position in the log directory moves."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = str(log_dir)
        self.times: list[float] = []
        self.positions: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = -1
        while not self._stop.wait(0.002):
            position = read_acknowledged(self.log_dir)
            if position > last:
                self.times.append(time.monotonic())
                self.positions.append(position)
                last = position

    def when(self, position: int) -> float | None:
        index = bisect.bisect_left(self.positions, position)
        return self.times[index] if index < len(self.times) else None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate-mb", type=float, default=54.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", default="/var/tmp")
    args = parser.parse_args()
    size = args.size_mib << 20
    work = Path(tempfile.mkdtemp(prefix="bench-rpo-", dir=args.dir))
    controller = lab = None
    try:
        controller, lab = start_bench_lab(work)
        source, target, log_dir = work / "source.img", work / "target.img", work / "log"
        blank(source, size)
        blank(target, size)
        pool = memoryview(bytes(mixed_image(256 << 20, seed=31)))
        rng = random.Random(32)
        sizes, due, total = [], [], 0
        while total < args.rate_mb * 1e6 * args.seconds:
            length = rng.randint(1, 16) * BLOCK_SIZE
            sizes.append(length)
            due.append(total / (args.rate_mb * 1e6))
            total += length
        offsets = [rng.randrange(0, size // BLOCK_SIZE - 16) * BLOCK_SIZE for _ in sizes]
        sources = [rng.randrange(0, (len(pool) - (64 << 10)) // BLOCK_SIZE) * BLOCK_SIZE for _ in sizes]

        with Tracker(source, log_dir) as tracker:
            lab.put_target(lab.target_pair("rpo", target, size))
            lab.put_source(lab.source_pair("rpo", source, change_log=log_dir))
            wait_for(
                lambda: lab.source_status("rpo").state == pairs_pb2.PAIR_STATE_REPLICATING or None,
                "the resync of the blank disks",
                timeout=600,
            )
            acks = Acknowledgements(log_dir)
            done = [(0, 0.0, 0.0)] * len(sizes)  # (end position, call time, return time)
            claimed = iter(range(len(sizes)))
            claim = threading.Lock()
            stop = threading.Event()
            start = time.monotonic() + 0.5

            def writer() -> None:
                while True:
                    with claim:
                        index = next(claimed, None)
                    if index is None:
                        return
                    stop.wait(max(0.0, start + due[index] - time.monotonic()))
                    called = time.monotonic()
                    at = sources[index]
                    end = tracker.write(offsets[index], pool[at : at + sizes[index]])
                    done[index] = (end, called, time.monotonic())

            def trimmer() -> None:
                while not stop.wait(1.0):
                    tracker.trim_acknowledged()

            samplers = [Sampler(agent.service.process.pid).start() for agent in (lab.mt, lab.ps)]
            threads = [threading.Thread(target=writer) for _ in range(args.writers)]
            trim = threading.Thread(target=trimmer)
            for thread in [*threads, trim]:
                thread.start()
            for thread in threads:
                thread.join()
            written_in = time.monotonic() - start
            final = max(end for end, _, _ in done)
            wait_for(lambda: read_acknowledged(str(log_dir)) >= final or None, "the last write", timeout=600)
            stop.set()
            trim.join()
            cpu = [sampler.stop().cpu for sampler in samplers]
            time.sleep(0.01)
            acks.stop()
            lags = []
            for end, _, returned in done:
                acknowledged = acks.when(end)
                assert acknowledged is not None
                lags.append(max(0.0, acknowledged - returned))
            local = [returned - called for _, called, returned in done]
            late = [called - (start + due[i]) for i, (_, called, _) in enumerate(done)]
        print(
            json.dumps(
                {
                    "bench": "rpo",
                    "rate_mb_s_asked": args.rate_mb,
                    "rate_mb_s_written": round(total / written_in / 1e6, 1),
                    "writes": len(sizes),
                    "seconds": round(written_in, 1),
                    "lag_p50_s": round(percentile(lags, 0.50), 3),
                    "lag_p99_s": round(percentile(lags, 0.99), 3),
                    "lag_max_s": round(max(lags), 3),
                    "baseline_local_write_p50_s": round(percentile(local, 0.50), 4),
                    "baseline_local_write_p99_s": round(percentile(local, 0.99), 4),
                    "writes_started_late_p99_s": round(percentile(late, 0.99), 3),
                    "master_target_cpu_s": round(cpu[0], 1),
                    "process_server_cpu_s": round(cpu[1], 1),
                    "loadavg_1min": round(os.getloadavg()[0], 2),
                }
            )
        )
    finally:
        if lab is not None:
            lab.ps.stop()
            lab.mt.stop()
        if controller is not None:
            controller.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
