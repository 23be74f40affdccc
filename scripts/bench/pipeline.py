"""Benchmark: the process server's whole sender pipeline without the network, against the bare encode pool.

Two sources over the same 1 GiB of mixed data (scripts/bench/_data.py):
  scan - initial sync onto an empty target: ScanSource (reads, 64 KiB chunk hashes, zero compare) with the real
         DiskHasher answering for the target;
  log  - steady replication: ChangeLogSource reading a change log the Tracker wrote beforehand (untimed).
(The target's hashes are computed in this process too, and counted; the target is paged in untimed first.)
Each runs PairSender: cut ~1 MiB batches, encode on a pool of ``--threads``, backlog append + fdatasync per batch,
in-flight window; the "transport" acknowledges each batch at once. Baseline (same run): the bare encode pool (blake3
+ zstd-1, one 1 MiB chunk of 64 KiB blocks per task) over the same bytes held in memory. MB = 10^6 source bytes.
Prints one JSON line.

    python scripts/bench/pipeline.py [--size-mib 1024] [--threads 2] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _data import mixed_image

from agent.dataplane import (
    Backlog,
    BatchEncoder,
    ChangeLogSource,
    ChangeSource,
    DiskHasher,
    EncodedBatch,
    InflightWindow,
    PairSender,
    ProgressRecorder,
    ScanSource,
    Tracker,
    disk_digest,
    encode_block,
)


class AckAtOnce:
    def __init__(self) -> None:
        self.sender: PairSender | None = None
        self.wire = 0

    def send(self, batch: EncodedBatch) -> None:
        self.wire += batch.wire_bytes
        assert self.sender is not None
        self.sender.acknowledge(batch.seq)


def run_sender(source: ChangeSource, work: str, name: str, threads: int) -> dict[str, float]:
    transport = AckAtOnce()
    with (
        BatchEncoder(threads=threads) as encoder,
        Backlog(os.path.join(work, f"backlog-{name}"), pair=name, generation=1) as backlog,
    ):
        sender = PairSender(
            name,
            source=source,
            backlog=backlog,
            encoder=encoder,
            window=InflightWindow(),
            progress=ProgressRecorder(name, 1),
        )
        transport.sender = sender
        start, cpu = time.perf_counter(), time.process_time()
        sender.connect(0, transport)
        batches = sender.pump(transport)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        plain = sender.progress.snapshot().plain_bytes_sent
    return {
        "mb_s": round(plain / elapsed / 1e6, 1),
        "mb_per_cpu_s": round(plain / cpu / 1e6, 1),
        "source_mb_sent": round(plain / 1e6, 1),
        "wire_mb": round(transport.wire / 1e6, 1),
        "batches": batches,
        "elapsed": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dir", default="/var/tmp")
    args = parser.parse_args()
    size = args.size_mib << 20
    work = tempfile.mkdtemp(prefix="bench-pipeline-", dir=args.dir)
    try:
        image = mixed_image(size, seed=4)
        source_path, target_path, log_source = (os.path.join(work, n) for n in ("source", "target", "log-disk"))
        with open(source_path, "wb") as handle:
            handle.write(image)
        for path in (target_path, log_source):
            with open(path, "wb") as handle:
                handle.truncate(size)
        with Tracker(log_source, os.path.join(work, "log")) as tracker:  # untimed: fill the change log
            view = memoryview(image)
            for offset in range(0, size, 64 << 10):
                tracker.write(offset, view[offset : offset + (64 << 10)], wait=False)
            tracker.sync()

        view = memoryview(image)
        chunks = [
            (o, [view[b : b + (64 << 10)] for b in range(o, o + (1 << 20), 64 << 10)]) for o in range(0, size, 1 << 20)
        ]

        def encode_chunk(job: tuple[int, list[memoryview]]) -> int:
            first, blocks = job
            return sum(len(encode_block(first + i * (64 << 10), b).compressed) for i, b in enumerate(blocks))

        start, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            sum(pool.map(encode_chunk, chunks))
        base_elapsed, base_cpu = time.perf_counter() - start, time.process_time() - cpu
        baseline = {"mb_s": round(size / base_elapsed / 1e6, 1), "mb_per_cpu_s": round(size / base_cpu / 1e6, 1)}

        with DiskHasher(target_path) as remote, ScanSource(source_path, remote) as scan:
            # Untimed: page in the target once. Here the "remote" shares this VM, whose first touch of fresh page
            # cache costs ~2 CPU-s/GB; on a real pair the target is read on the master target's machine.
            disk_digest(target_path, size)
            scan_result = run_sender(scan, work, "scan", args.threads)
        scan_result["disk_mb_s_scanned"] = round(size / scan_result.pop("elapsed") / 1e6, 1)
        log_result = run_sender(ChangeLogSource(os.path.join(work, "log")), work, "log", args.threads)
        del log_result["elapsed"]
        print(
            json.dumps(
                {
                    "bench": "pipeline",
                    "source_mb": round(size / 1e6, 1),
                    "threads": args.threads,
                    "scan_onto_empty_target": scan_result,
                    "change_log": log_result,
                    "baseline_encode_pool": baseline,
                    "ratio_scan_vs_baseline": round(scan_result["mb_s"] / baseline["mb_s"], 2),
                    "ratio_log_vs_baseline": round(log_result["mb_s"] / baseline["mb_s"], 2),
                    "loadavg_1min": round(os.getloadavg()[0], 2),
                }
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
