"""Benchmark: process server -> master target, everything on, against a bare gRPC mTLS stream in the same run.

Two real agent processes (registered to a real controller, mutual TLS 1.3 on loopback) replicate a disk of mixed
data (scripts/bench/_data.py: ~40% zeros, 30% text-like, 30% random) onto an empty target: the process server scans
the source (64 KiB chunk hashes against the master target's, 4 KiB inside mismatches), compresses with zstd-1 on its
encoder pool, sends ~1 MiB batches; the master target verifies every block (size checks, zstd, blake3), appends to the
journal (initial sync: the target written with O_DIRECT, flushed, the redo journal records it, flushed) and only then
acknowledges. Timed from the pair's creation on the process server until its resync pass is acknowledged; the target
is checked equal to the source afterwards (untimed).

The target is a file of zeros, written out beforehand (a master target writes a block device; a sparse file would add
file system allocation to every write). ``--source log`` measures steady replication instead: after an untimed
resync of two empty disks, a change log the tracker filled beforehand is streamed; the master target's journal then
keeps before-images (undo) for recovery points.

Baseline (same run): 1 MiB messages of random bytes over a bare gRPC client stream between the same two identities,
to a server process that only counts them (its CPU, both ends, per GB moved: ``baseline_cpu_s_per_gb``). Where the
CPU goes: ``stage_cpu_s_per_gb``, each stage run alone in the benchmark's process over 256 MiB of the same kind of
data (scripts/bench/_stages.py). MB = 10^6 source bytes. Prints one JSON line.

    python scripts/bench/dataplane.py [--size-mib 2048] [--source scan|log] [--send-log index|backlog] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from _agents import BARE_STREAM_CPU, Sampler, Sink, agent_tls, bare_stream, start_bench_lab
from _data import mixed_image
from _stages import stage_costs

from agent.api.v1 import pairs_pb2
from agent.dataplane import Tracker, disk_digest
from tests.harness import Service
from tests.replication.support import wait_for


def write_image(path: Path, size: int) -> None:
    image = mixed_image(size, seed=11)
    with open(path, "wb") as handle:
        handle.write(image)


def write_blank(path: Path, size: int) -> None:
    """A target disk of zeros, written out (not sparse): like the block device a master target writes, it needs no
    file system allocation when replication writes it."""
    zeros = bytes(64 << 20)
    with open(path, "wb") as handle:
        for _ in range(0, size, len(zeros)):
            handle.write(zeros)
        handle.truncate(size)
        os.fsync(handle.fileno())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--source", choices=("scan", "log"), default="scan")
    parser.add_argument("--send-log", choices=("index", "backlog"), default="index")
    parser.add_argument("--dir", default="/var/tmp")
    args = parser.parse_args()
    size = args.size_mib << 20
    work = Path(tempfile.mkdtemp(prefix="bench-dataplane-", dir=args.dir))
    controller = lab = None
    try:
        controller, lab = start_bench_lab(work, f'send_log = "{args.send_log}"\n')
        source, target = work / "source.img", work / "target.img"
        write_blank(target, size)
        log_dir = work / "log" if args.source == "log" else None
        if log_dir is None:
            write_image(source, size)
        else:
            with open(source, "wb") as handle:
                handle.truncate(size)
            Tracker(source, log_dir).close()
        lab.put_target(lab.target_pair("bench", target, size))
        mt_sampler, ps_sampler = Sampler(lab.mt.service.process.pid), Sampler(lab.ps.service.process.pid)
        if log_dir is not None:
            # Untimed: the resync of two empty disks; then, with the process server stopped, the change log is filled
            # with the mixed image, and the process server restarted resumes in the log phase.
            lab.put_source(lab.source_pair("bench", source, change_log=log_dir))
            wait_for(lambda: lab.source_status("bench").phase == pairs_pb2.SOURCE_PHASE_CHANGE_LOG or None, "resync")
            sent_before = lab.source_status("bench").plain_bytes_sent
            lab.ps.stop()
            image = mixed_image(size, seed=11)
            with Tracker(source, log_dir) as tracker:
                view = memoryview(image)
                for offset in range(0, size, 1 << 20):
                    tracker.write(offset, view[offset : offset + (1 << 20)], wait=False)
                tracker.sync()
            del image, view
            mt_sampler.start()
            start = time.perf_counter()
            lab.ps.service = Service.start(
                lab.ps.name, "agent", ["serve", "--config", str(lab.ps.config)], work / "ps2"
            )
            lab.ps.service.wait_ready()
            ps_sampler = Sampler(lab.ps.service.process.pid).start()
            sent_before = 0
            wait_for(
                lambda: lab.source_status("bench").plain_bytes_acknowledged >= size or None,
                "the change log to be acknowledged",
                timeout=3600,
            )
        else:
            sent_before = 0
            mt_sampler.start(), ps_sampler.start()
            start = time.perf_counter()
            lab.put_source(lab.source_pair("bench", source))
            lab.wait_synced("bench", timeout=3600)
        elapsed = time.perf_counter() - start
        mt_sampler.stop(), ps_sampler.stop()
        status = lab.source_status("bench")
        target_status = lab.target_status("bench")
        identical = disk_digest(str(source), size) == disk_digest(str(target), size)
        sink = Sink(lab.mt.state_dir / "tls")
        try:
            sink_cpu = sink.cpu()
            baseline = bare_stream(sink.port, agent_tls(lab.ps), lab.mt.identity, size)
            baseline_cpu = BARE_STREAM_CPU["client"] + sink.cpu() - sink_cpu
        finally:
            sink.close()
        stages = stage_costs(mixed_image(256 << 20, seed=12), str(work))
        source_mb_s = size / elapsed / 1e6
        gb = size / 1e9
        print(
            json.dumps(
                {
                    "bench": "dataplane",
                    "source": args.source,
                    "send_log": args.send_log,
                    "source_mb": round(size / 1e6, 1),
                    "source_mb_s": round(source_mb_s, 1),
                    "baseline_mb_s": round(baseline, 1),
                    "ratio": round(source_mb_s / baseline, 2),
                    "wire_mb": round((status.wire_bytes_sent) / 1e6, 1),
                    "plain_mb_sent": round((status.plain_bytes_sent - sent_before) / 1e6, 1),
                    "agent_rss_mib": round(mt_sampler.peak_rss / (1 << 20), 1),
                    "process_server_rss_mib": round(ps_sampler.peak_rss / (1 << 20), 1),
                    "master_target_cpu_s_per_gb": round(mt_sampler.cpu / gb, 2),
                    "process_server_cpu_s_per_gb": round(ps_sampler.cpu / gb, 2),
                    "master_target_batches": target_status.batches_received,
                    "baseline_cpu_s_per_gb": round(baseline_cpu / gb, 2),
                    "stage_cpu_s_per_gb": stages,
                    "identical": identical,
                    "loadavg_1min": round(os.getloadavg()[0], 2),
                    "seconds": round(elapsed, 2),
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
