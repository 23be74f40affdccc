import pytest

from agent.discovery import ControllerType, Disk, DiskRole, Hctl, Inventory
from agent.discovery.errors import DiskNotFound


def disk(name, disk_id=None, *, host=2, target=0, controller=ControllerType.PVSCSI, **kwargs):
    return Disk(
        disk_id=disk_id,
        id_problem=None if disk_id else "no id",
        id_source="vpd_pg83" if disk_id else None,
        native_id=disk_id,
        name=name,
        path=f"/dev/{name}",
        size_bytes=1 << 30,
        vendor="VMware",
        model="Virtual disk",
        serial=None,
        controller=controller,
        driver=None,
        controller_key=f"host{host}",
        hctl=Hctl(host, 0, target, 0),
        vmware=True,
        **kwargs,
    )


def naa(n):
    return f"naa.6000c29{n:025x}"


def test_disks_are_listed_in_natural_order():
    names = ["sdaa", "sdb", "sdz", "sda"]
    inventory = Inventory.build([disk(n) for n in names], platform="linux", source="sysfs")
    assert [d.name for d in inventory.disks] == ["sda", "sdb", "sdz", "sdaa"]


def test_a_full_master_target_has_no_room_left():
    disks = [disk(f"d{h}{t}", naa(h * 100 + t), host=h, target=t) for h in range(4) for t in range(15)]
    capacity = Inventory.build(disks, platform="linux", source="sysfs").capacity()
    assert (capacity.attached, capacity.free, capacity.controllers_free) == (60, 0, 0)
    assert all(c.free == 0 for c in capacity.controllers)


def test_room_counts_slots_on_existing_controllers_and_controllers_not_yet_added():
    disks = [disk(f"a{t}", naa(t), host=2, target=t) for t in range(10)]
    disks.append(disk("vda", controller=ControllerType.VIRTIO_BLK, host=9))
    capacity = Inventory.build(disks, platform="linux", source="sysfs").capacity()
    assert [(c.key, c.disks, c.free) for c in capacity.controllers] == [("host2", 10, 5)]
    assert (capacity.attached, capacity.free, capacity.controllers_free) == (10, 50, 3)


def test_counts_separate_candidates_from_protected_busy_read_only_and_duplicated_disks():
    disks = [
        disk("sda", naa(1), roles=frozenset({DiskRole.OS})),
        disk("sdb", naa(2)),
        disk("sdc", naa(3), mountpoints=("/mnt",)),
        disk("sdd", naa(4), read_only=True),
        disk("sde", naa(5)),
        disk("sdf", naa(5)),
        disk("sdg"),
    ]
    counts = Inventory.build(disks, platform="linux", source="sysfs").counts()
    assert counts.to_dict() == {
        "total": 7,
        "with_id": 6,
        "without_id": 1,
        "protected": 1,
        "in_use": 1,
        "duplicated": 2,
        "candidates": 1,
    }


def test_an_empty_host_reports_no_ids_seen():
    with pytest.raises(DiskNotFound, match="ids seen: none"):
        Inventory.build([], platform="linux", source="sysfs").find(naa(7))
