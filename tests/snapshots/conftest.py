"""Fixtures: a local Azure endpoint on a simulated clock with one VM (``web01``) and its managed disks, the real
azure-mgmt-compute and azure-storage-blob clients pointed at it, and snapshot groups over them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.snapshots import AzureImages, SnapshotGroup, SnapshotPolicy
from lab.azure import LocalAzure
from lab.azure._disks import ManagedDisk

from ._helpers import TOKEN, SimClock, StaticToken, azure_config

DISK_SIZE = 16 << 20
VM = "web01"


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def lab(tmp_path: Path, clock: SimClock) -> Iterator[LocalAzure]:
    with LocalAzure(tls_dir=tmp_path / "tls", token=TOKEN, clock=clock.utc, disk_dir=tmp_path / "lab-disks") as local:
        yield local


@pytest.fixture
def os_disk(lab: LocalAzure) -> ManagedDisk:
    return lab.disks.add_disk("web01-os", DISK_SIZE, vm=VM)


@pytest.fixture
def data_disk(lab: LocalAzure) -> ManagedDisk:
    return lab.disks.add_disk("web01-data", DISK_SIZE // 2, vm=VM, lun=0)


@pytest.fixture
def azure(lab: LocalAzure, clock: SimClock) -> Iterator[AzureImages]:
    with AzureImages(StaticToken(), lab.estate.subscription_id, config=azure_config(lab, clock)) as images:
        yield images


def disk_id(lab: LocalAzure, disk: ManagedDisk) -> str:
    return (
        f"/subscriptions/{lab.estate.subscription_id}/resourceGroups/{disk.resource_group}"
        f"/providers/Microsoft.Compute/disks/{disk.name}"
    )


GroupFactory = Callable[..., SnapshotGroup]


@pytest.fixture
def make_group(lab: LocalAzure, azure: AzureImages, clock: SimClock, tmp_path: Path) -> Iterator[GroupFactory]:
    groups: list[SnapshotGroup] = []

    def make(
        disks: dict[str, ManagedDisk], *, policy: SnapshotPolicy | None = None, name: str = "vm1", state: str = "state"
    ) -> SnapshotGroup:
        group = SnapshotGroup(
            name,
            vm_resource_group="rg-dr",
            vm_name=VM,
            pairs={pair: disk_id(lab, disk) for pair, disk in disks.items()},
            azure=azure,
            state_dir=tmp_path / state,
            policy=policy,
            clock=clock,
        )
        groups.append(group)
        return group

    yield make
    for group in groups:
        group.close()
