"""Benchmark: one incremental snapshot cycle of a 4 GiB managed disk with 1% changed, against a full read of the disk
through the same local blob endpoint.

Setup (untimed): the local Azure endpoint (lab.azure, in this process) serves a sparse 4 GiB disk attached to a VM;
``--initial-mib`` of data is written and a first cycle is replicated. Then a guest writes random extents (4 KiB to
256 KiB, ``--align``-aligned, at random offsets) until ``--changed`` of the disk's bytes are written.
Measured: the second cycle, end to end as the process server runs it - incremental snapshot (ARM, through
azure-mgmt-compute), read grants, the page-range diff (azure-storage-blob), ranged GETs of the changed blocks on
``--threads`` connections, block digests - with its entries drained as a sender would take them. Bytes read are what
the endpoint served as blob data; "changed" is the bytes Azure's diff reports (every 512-byte page written).
Baseline (same run, same endpoint and reader): a full read of the new snapshot in 1 MiB ranged GETs.
Prints one JSON line; the target is bytes_read <= 1.05 x changed.

    python scripts/bench/snapdiff.py [--disk-gib 4] [--changed 0.01] [--align 4096] [--threads 8] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from azure.core.credentials import AccessToken

from agent.dataplane import BlockWrite
from agent.snapshots import (
    AzureConfig,
    AzureImages,
    PlannedBlock,
    ReadStats,
    SnapshotGroup,
    SnapshotPolicy,
    SnapshotSource,
    split_cursor,
)
from failback.retry import Policy
from lab.azure import LocalAzure

TOKEN = "bench-token"


class Token:
    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(TOKEN, int(time.time()) + 3600)


def drain(source: SnapshotSource, cursor: int) -> tuple[int, int, float]:
    """Take every entry of the next cycle as a sender would; returns the new cursor, block bytes and seconds."""
    started = time.perf_counter()
    sent = 0
    for item in source.changes(cursor):
        if isinstance(item.entry, BlockWrite):
            sent += item.entry.length
        cursor = item.cursor
    elapsed = time.perf_counter() - started
    source.acknowledged(cursor)
    return cursor, sent, elapsed


def scribble(disk: object, size: int, budget: int, align: int, rng: random.Random) -> int:
    """Random writes until ``budget`` bytes were written; returns the distinct bytes touched (512-byte pages)."""
    pages: set[int] = set()
    written = 0
    while written < budget:
        length = min(int(2 ** rng.uniform(12, 18)) // align * align or align, budget - written)
        length = max(align, length - length % align)
        offset = rng.randrange(0, (size - length) // align) * align
        disk.write(offset, rng.randbytes(length))  # type: ignore[attr-defined]
        pages.update(range(offset // 512, (offset + length) // 512))
        written += length
    return len(pages) * 512


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disk-gib", type=int, default=4)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--initial-mib", type=int, default=256)
    parser.add_argument("--align", type=int, default=4096, choices=[512, 4096])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    size = args.disk_gib << 30
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="snapdiff-", dir=args.dir))
    try:
        with LocalAzure(tls_dir=work / "tls", token=TOKEN, disk_dir=work / "disks") as lab:
            disk = lab.disks.add_disk("web01-os", size, vm="web01")
            for _ in range(args.initial_mib):
                disk.write(rng.randrange(0, size >> 20) << 20, rng.randbytes(1 << 20))
            config = AzureConfig(
                base_url=lab.base_url,
                connection_verify=lab.ca_file,
                polling_interval=0,
                call_policy=Policy(deadline=300),
            )
            azure = AzureImages(Token(), lab.estate.subscription_id, config=config)
            disk_id = azure.vm("rg-dr", "web01").disks[0].id
            clock = [time.time()]
            group = SnapshotGroup(
                "bench",
                vm_resource_group="rg-dr",
                vm_name="web01",
                pairs={"p1": disk_id},
                azure=azure,
                state_dir=work / "state",
                policy=SnapshotPolicy(read_threads=args.threads),
                clock=lambda: clock[0],
            )
            source = SnapshotSource(group, "p1", target_empty=True)
            cursor, first_sent, first_seconds = drain(source, 0)  # untimed setup: the first, full cycle

            changed = scribble(disk, size, int(size * args.changed), args.align, rng)
            clock[0] += 300
            before = (lab.blob_traffic.data_bytes, lab.blob_traffic.list_bytes, lab.blob_traffic.data_requests)
            cursor, sent, seconds = drain(source, cursor)
            stats = source.last_cycle
            if stats is None or stats.mode != "diff" or split_cursor(cursor)[0] != 2:
                raise SystemExit(f"the measured cycle was not an incremental one: {stats}")
            read = lab.blob_traffic.data_bytes - before[0]
            listed = lab.blob_traffic.list_bytes - before[1]
            requests = lab.blob_traffic.data_requests - before[2]

            # Baseline: the whole new snapshot in 1 MiB ranged GETs through the same session and reader.
            point = group.points()[-1]
            reader = group.reader(point, "p1", ReadStats())
            blocks = [PlannedBlock(offset, 1 << 20) for offset in range(0, size, 1 << 20)]
            full_before = lab.blob_traffic.data_bytes
            started = time.perf_counter()
            full = sum(len(data) for _, data in reader.read_blocks(blocks))
            full_seconds = time.perf_counter() - started
            assert lab.blob_traffic.data_bytes - full_before == full == size
            group.retire()
            group.close()
            azure.close()
        print(
            json.dumps(
                {
                    "bench": "snapdiff",
                    "disk_bytes": size,
                    "changed_fraction": args.changed,
                    "write_align": args.align,
                    "threads": args.threads,
                    "changed_bytes_written": changed,
                    "changed_bytes_azure_reports": stats.changed_bytes,
                    "incremental_cycle": {
                        "bytes_read": read,
                        "page_list_bytes": listed,
                        "get_requests": requests,
                        "bytes_sent": sent,
                        "seconds": round(seconds, 3),
                    },
                    "baseline_full_read": {"bytes_read": full, "seconds": round(full_seconds, 3)},
                    "first_full_cycle": {"bytes_sent": first_sent, "seconds": round(first_seconds, 3)},
                    "ratio_bytes_read_vs_changed": round(read / stats.changed_bytes, 4),
                    "ratio_bytes_read_vs_full_read": round(read / full, 5),
                    "ratio_seconds_vs_full_read": round(seconds / full_seconds, 4),
                    "target_ratio_bytes_read_vs_changed": 1.05,
                    "loadavg_1min": round(os.getloadavg()[0], 2),
                }
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
