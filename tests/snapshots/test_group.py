"""The group's own contract: names and pairs checked before anything happens, a pair naming a disk the VM lacks
stops start before any deletion, a damaged or foreign state file is refused, and the cursor layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.snapshots import DONE, AzureImages, SnapshotGroup, SnapshotSource, make_cursor, split_cursor
from agent.snapshots.errors import InvalidConfig, StateCorrupt, UnknownDisk
from lab.azure import LocalAzure
from lab.azure._disks import ManagedDisk

from ._helpers import Guest, Replica, SimClock
from .conftest import GroupFactory, disk_id


def test_cursors_order_cycles_first_then_positions() -> None:
    assert split_cursor(make_cursor(7, 123)) == (7, 123)
    assert make_cursor(7, DONE) < make_cursor(8, 0)
    assert make_cursor(0, 0) == 0
    with pytest.raises(ValueError, match="out of range"):
        make_cursor(1, DONE + 1)


@pytest.mark.parametrize("name", ["", "-lead", "has space", "x" * 41, "dots.not.allowed"])
def test_a_group_name_that_cannot_be_in_a_resource_name_is_refused(
    name: str, azure: AzureImages, tmp_path: Path
) -> None:
    with pytest.raises(InvalidConfig):
        SnapshotGroup(name, vm_resource_group="rg", vm_name="vm", pairs={"p": "d"}, azure=azure, state_dir=tmp_path)


def test_two_pairs_on_one_disk_are_refused(azure: AzureImages, tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="same disk"):
        SnapshotGroup(
            "g",
            vm_resource_group="rg",
            vm_name="vm",
            pairs={"a": "/X/disks/d", "b": "/x/DISKS/d"},
            azure=azure,
            state_dir=tmp_path,
        )


def test_a_pair_on_a_disk_the_vm_lacks_stops_start_before_any_deletion(
    lab: LocalAzure, azure: AzureImages, os_disk: ManagedDisk, tmp_path: Path
) -> None:
    vm = azure.vm("rg-dr", "web01")
    azure.create_snapshot("rg-dr", "fb-vm1-00000001-aaaaaa", vm.disks[0], vm.location, {"failback-group": "vm1"})
    group = SnapshotGroup(
        "vm1",
        vm_resource_group="rg-dr",
        vm_name="web01",
        pairs={"p1": disk_id(lab, os_disk).replace("web01-os", "web02-os")},
        azure=azure,
        state_dir=tmp_path,
    )
    with pytest.raises(UnknownDisk, match="has no managed disk"):
        group.start()
    assert [s.name for s in lab.disks.snapshots.values()] == ["fb-vm1-00000001-aaaaaa"]
    group.close()


def test_a_damaged_state_file_is_refused_with_a_way_out(
    tmp_path: Path, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "snapshots-vm1.json").write_text('{"format": 1, "group": "vm1", "next_seq": ')
    with pytest.raises(StateCorrupt, match="move the file aside"):
        make_group({"p1": os_disk})


def test_a_state_file_of_another_group_is_refused(
    tmp_path: Path, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "snapshots-vm1.json").write_text(
        '{"format": 1, "group": "vm2", "next_seq": 1, "points": {}, "pairs": {}}'
    )
    with pytest.raises(StateCorrupt, match="belongs to group 'vm2'"):
        make_group({"p1": os_disk})


def test_the_state_survives_a_new_group_object(tmp_path: Path, os_disk: ManagedDisk, make_group: GroupFactory) -> None:
    group = make_group({"p1": os_disk})
    group.start()
    group.begin("p1", 0, can_scan=False, target_empty=True)
    again = make_group({"p1": os_disk})
    assert [p.name for p in again.points()] == [p.name for p in group.points()] == ["fb-vm1-00000001"]
    resumed = again.begin("p1", make_cursor(1, 5), can_scan=False, target_empty=True)
    assert resumed is not None
    assert (resumed.number, resumed.position, resumed.point.name, resumed.mode) == (
        1,
        5,
        "fb-vm1-00000001",
        "full-empty",
    )


def test_a_pair_added_later_is_in_the_next_point_and_a_removed_one_leaves_no_snapshot(
    tmp_path: Path,
    lab: LocalAzure,
    clock: SimClock,
    os_disk: ManagedDisk,
    data_disk: ManagedDisk,
    make_group: GroupFactory,
) -> None:
    Guest(os_disk, seed=21).scribble(20)
    Guest(data_disk, seed=22).scribble(20)
    group = make_group({"p1": os_disk})
    first = Replica(
        tmp_path,
        SnapshotSource(group, "p1", target_empty=True),
        pair="p1",
        size=os_disk.size,
        lab=lab,
        disk=os_disk,
        on_acknowledged=lambda cursor: group.acknowledged("p1", cursor),
    )
    first.pump()
    assert set(group.points()[-1].images) == {"p1"}
    group.add_pair("p2", disk_id(lab, data_disk))
    with pytest.raises(InvalidConfig, match="names disk"):
        group.add_pair("p3", disk_id(lab, data_disk))
    second_source = SnapshotSource(group, "p2", target_empty=True)
    second = Replica(
        tmp_path,
        second_source,
        pair="p2",
        size=data_disk.size,
        lab=lab,
        disk=data_disk,
        on_acknowledged=second_source.acknowledged,
    )
    assert second.pump() == 0  # nothing before the next point is due
    clock.advance(300)
    second.pump()
    assert set(group.points()[-1].images) == {"p1", "p2"}
    assert [b.id for b in second.verified] == [group.points()[-1].name]
    assert group.acknowledged_point("p2") == group.points()[-1].name
    deleted = group.remove_pair("p2")
    assert deleted
    assert not [s for s in lab.disks.snapshots.values() if s.disk is data_disk]
    assert set(group.pairs) == {"p1"}
    with pytest.raises(InvalidConfig, match="retire"):
        group.remove_pair("p1")
    first.close()
    second.close()
