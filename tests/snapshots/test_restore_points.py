"""VM restore points as the group's points: one point for every disk of the VM, bookmarks that name the consistency
group (crash- or application-consistent), diffs between disk restore points, and cleanup of orphaned ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.dataplane import BookmarkKind
from agent.snapshots import AzureImages, PointMode, SnapshotPolicy, SnapshotSource
from agent.snapshots.errors import InvalidConfig
from lab.azure import LocalAzure
from lab.azure._disks import ManagedDisk

from ._helpers import Guest, Replica, SimClock, blocks_of, expected_blocks
from .conftest import GroupFactory, disk_id

HOUR = 3600.0


def restore_points(lab: LocalAzure) -> list[str]:
    collection = lab.disks.collection("rg-dr", "fb-vm1")
    return sorted(p.name for p in collection.points.values()) if collection else []


@pytest.mark.parametrize(
    ("mode", "kind", "tag"),
    [
        (PointMode.CRASH_RESTORE_POINTS, BookmarkKind.CRASH, "azure-restore-point:CrashConsistent"),
        (PointMode.APP_RESTORE_POINTS, BookmarkKind.APP, "azure-restore-point:ApplicationConsistent"),
    ],
)
def test_one_restore_point_gives_every_disk_the_same_consistent_bookmark(
    tmp_path: Path,
    lab: LocalAzure,
    clock: SimClock,
    os_disk: ManagedDisk,
    data_disk: ManagedDisk,
    make_group: GroupFactory,
    mode: PointMode,
    kind: BookmarkKind,
    tag: str,
) -> None:
    interval = 3 * HOUR if mode is PointMode.APP_RESTORE_POINTS else HOUR
    group = make_group({"os": os_disk, "data": data_disk}, policy=SnapshotPolicy(interval=interval, mode=mode))
    guests = {"os": Guest(os_disk, seed=31), "data": Guest(data_disk, seed=32)}
    disks = {"os": os_disk, "data": data_disk}
    replicas = {}
    for pair, disk in disks.items():
        source = SnapshotSource(group, pair, target_empty=True)
        replicas[pair] = Replica(
            tmp_path, source, pair=pair, size=disk.size, lab=lab, disk=disk, on_acknowledged=source.acknowledged
        )
    for cycle in range(2):
        for guest in guests.values():
            guest.scribble(30, trims=0.1)
        oracle = {pair: expected_blocks(guest.mark()) for pair, guest in guests.items()}
        for rep in replicas.values():
            rep.pump()
        for pair, rep in replicas.items():
            assert len(rep.verified) == cycle + 1  # each target equals its disk restore point
            if cycle:
                read, zero = oracle[pair]
                assert blocks_of(rep.blocks[cycle]) == read | zero
        first, second = (rep.verified[-1] for rep in replicas.values())
        assert first == second  # the same point in time on both disks
        assert (first.kind, first.tag, first.group) == (kind, tag, "vm1")
        assert len(restore_points(lab)) == 1 + cycle  # one restore point per cycle holds every disk
        clock.advance(interval)
    group.tidy()
    assert restore_points(lab) == [group.points()[-1].name]
    group.retire()
    assert lab.disks.collection("rg-dr", "fb-vm1") is None
    assert lab.disks.all_images() == []


def test_start_deletes_restore_points_the_state_does_not_know(
    lab: LocalAzure, azure: AzureImages, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    vm = azure.vm("rg-dr", "web01")
    images, _ = azure.create_restore_point(
        "rg-dr", "fb-vm1", "fb-vm1-00000042", vm, "CrashConsistent", [vm.disk(disk_id(lab, os_disk))], {}
    )
    azure.grant(images[disk_id(lab, os_disk).lower()], 600)
    group = make_group({"p1": os_disk}, policy=SnapshotPolicy(interval=HOUR, mode=PointMode.CRASH_RESTORE_POINTS))
    assert group.start().deleted == ("restore point fb-vm1-00000042",)
    assert restore_points(lab) == []


@pytest.mark.parametrize(
    ("mode", "interval"),
    [(PointMode.SNAPSHOTS, 30.0), (PointMode.CRASH_RESTORE_POINTS, 1800.0), (PointMode.APP_RESTORE_POINTS, HOUR)],
)
def test_an_interval_below_what_azure_allows_is_refused(mode: PointMode, interval: float) -> None:
    with pytest.raises(InvalidConfig, match="below what Azure allows"):
        SnapshotPolicy(interval=interval, mode=mode)
