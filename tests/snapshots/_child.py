"""Child process for the crash tests: a process server for one pair (snapshot source -> PairSender -> a receiver that
applies batches to a target file and keeps its watermark in a file), killed with SIGKILL at a chosen moment:

- ``after-create``: right after Azure created the cycle's snapshot, before the state recorded it;
- ``mid-stream``: after the receiver made ``N`` batches durable, before they are acknowledged.

The parent restarts the pair in its own process over the same state, backlog, target and watermark files.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from agent.dataplane import EncodedBatch
from agent.snapshots import AzureConfig, AzureImages, ImageRef, SnapshotGroup, SnapshotSource, VmDisk
from failback.retry import Policy
from tests.snapshots._helpers import DurablePair, StaticToken


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class DyingImages(AzureImages):
    def create_snapshot(
        self, resource_group: str, name: str, disk: VmDisk, location: str, tags: Mapping[str, str]
    ) -> tuple[ImageRef, float]:
        created = super().create_snapshot(resource_group, name, disk, location, tags)
        print(f"created {name}", flush=True)
        die()
        return created


class DyingPair(DurablePair):
    kill_after = 0

    def send(self, batch: EncodedBatch) -> None:
        self.deliver(batch)
        if len(self.receiver.batches) >= self.kill_after:
            die()
        self.sender.acknowledge(self.receiver.watermark)


def main() -> None:
    base_url, ca_file, subscription, work, disk, size, mode, kill_after = sys.argv[1:9]
    config = AzureConfig(
        base_url=base_url, connection_verify=ca_file, polling_interval=0, retry_total=0, call_policy=Policy(deadline=30)
    )
    images = (DyingImages if mode == "after-create" else AzureImages)(StaticToken(), subscription, config=config)
    group = SnapshotGroup(
        "vm1",
        vm_resource_group="rg-dr",
        vm_name="web01",
        pairs={"p1": disk},
        azure=images,
        state_dir=Path(work) / "state",
    )
    source = SnapshotSource(group, "p1", target_empty=True)
    DyingPair.kill_after = int(kill_after)
    pair = DyingPair(Path(work) / "pair", source, int(size), on_acknowledged=source.acknowledged)
    pair.pump()
    print("finished without dying", flush=True)


if __name__ == "__main__":
    main()
