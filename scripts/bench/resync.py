"""Benchmark: resync of a mostly identical disk - ours over the real mutual-TLS path against rsync, same run.

A disk of mixed data (scripts/bench/_data.py) on the targets, and the source: the same disk with 1% of its 4 KiB
blocks, at random places, since overwritten with new (random) data. All written and flushed untimed, so all sit
in the page cache, as rsync's files do.

- ours: two real agent processes; a SCAN pair from the source to the copy: 64 KiB chunk hashes of both sides
  compared window by window, 4 KiB hashes inside the chunks that differ, the differing blocks sent (zstd-1, blake3
  verified, journalled, applied). Timed from the pair's creation until its pass is acknowledged. Bytes on the wire:
  every byte of the process server's TCP connection, both ways (TLS and HTTP/2 included), counted by a TCP relay in
  front of the master target.
- rsync: ``rsync --inplace --no-whole-file --block-size=4096 --ignore-times --stats`` from the source onto another
  copy, its sender and receiver talking over a pipe; bytes = its "Total bytes sent" + "Total bytes received".

Both results are checked byte-identical to the source. CPU seconds are those of the two agents' processes (ours)
and of rsync's processes, for the same work: on a shared machine they vary less than wall times. MB = 10^6 bytes.
Prints one JSON line.

    python scripts/bench/resync.py [--size-mib 2048] [--changed 0.01] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from _agents import Lab, Sampler, start_bench_lab
from _data import mixed_image

from agent.api.v1 import pairs_pb2
from agent.dataplane import BLOCK_SIZE, disk_digest
from failback.retry import Policy
from tests.faults.proxy import Proxy


def rsync(source: Path, destination: Path) -> tuple[float, int, float]:
    """Wall seconds, bytes through its pipe, CPU seconds of its processes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        # --ignore-times: the copy has the source's size and was written within the same second; rsync's quick check
        # would otherwise skip it without comparing anything.
        [
            "rsync",
            "--inplace",
            "--no-whole-file",
            "--block-size=4096",
            "--ignore-times",
            "--stats",
            str(source),
            str(destination),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    total = 0
    for label in ("sent", "received"):
        match = re.search(rf"Total bytes {label}: ([\d,]+)", result.stdout)
        assert match is not None, result.stdout
        total += int(match.group(1).replace(",", ""))
    return elapsed, total, cpu


def write_synced(path: Path, data: bytearray) -> None:
    """Written and flushed: the first flush of a pair must not pay for the set-up's dirty pages."""
    with open(path, "wb") as handle:
        handle.write(data)
        os.fsync(handle.fileno())


def synced(lab: Lab, pair_id: str) -> pairs_pb2.SourcePairStatus | None:
    status = lab.source_status(pair_id)
    if status.state == pairs_pb2.PAIR_STATE_FAILED:
        raise RuntimeError(status.reason)
    return status if status.state == pairs_pb2.PAIR_STATE_SYNCED else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--dir", default="/var/tmp")
    args = parser.parse_args()
    size = args.size_mib << 20
    work = Path(tempfile.mkdtemp(prefix="bench-resync-", dir=args.dir))
    controller = lab = proxy = None
    try:
        image = mixed_image(size, seed=21)
        source, ours, theirs = work / "source.img", work / "ours.img", work / "theirs.img"
        write_synced(ours, image)  # the old copy on both targets
        write_synced(theirs, image)
        rng = random.Random(22)
        changed = rng.sample(range(size // BLOCK_SIZE), int(size // BLOCK_SIZE * args.changed))
        for block in changed:  # the source moved on: new content in 1% of its blocks
            image[block * BLOCK_SIZE : (block + 1) * BLOCK_SIZE] = rng.randbytes(BLOCK_SIZE)
        write_synced(source, image)
        del image
        expected = disk_digest(str(source), size)

        rsync_seconds, rsync_bytes, rsync_cpu = rsync(source, theirs)

        controller, lab = start_bench_lab(work)
        proxy = Proxy((lab.mt.address.host, lab.mt.address.port))
        lab.put_target(lab.target_pair("resync", ours, size))
        samplers = [Sampler(agent.service.process.pid).start() for agent in (lab.mt, lab.ps)]
        start = time.perf_counter()
        lab.put_source(lab.source_pair("resync", source, address=proxy.address))
        status = Policy(deadline=3600, initial=0.005, maximum=0.01, jitter=0.001).wait_for(
            lambda: synced(lab, "resync"), what="the resync pass"
        )
        ours_seconds = time.perf_counter() - start
        ours_cpu = sum(sampler.stop().cpu for sampler in samplers)
        ours_bytes = proxy.forwarded
        identical = disk_digest(str(ours), size) == expected and disk_digest(str(theirs), size) == expected
        print(
            json.dumps(
                {
                    "bench": "resync",
                    "disk_mb": round(size / 1e6, 1),
                    "changed_blocks": len(changed),
                    "ours_seconds": round(ours_seconds, 2),
                    "rsync_seconds": round(rsync_seconds, 2),
                    "time_ratio": round(ours_seconds / rsync_seconds, 2),
                    "ours_wire_mb": round(ours_bytes / 1e6, 2),
                    "rsync_mb": round(rsync_bytes / 1e6, 2),
                    "bytes_ratio": round(ours_bytes / rsync_bytes, 2),
                    "ours_cpu_s": round(ours_cpu, 2),
                    "rsync_cpu_s": round(rsync_cpu, 2),
                    "ours_payload_mb": round(status.wire_bytes_sent / 1e6, 2),
                    "ours_blocks_sent_mb": round(status.plain_bytes_sent / 1e6, 2),
                    "identical": identical,
                    "loadavg_1min": round(os.getloadavg()[0], 2),
                }
            )
        )
    finally:
        if proxy is not None:
            proxy.close()
        if lab is not None:
            lab.ps.stop()
            lab.mt.stop()
        if controller is not None:
            controller.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
