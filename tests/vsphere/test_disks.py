"""Replica VMDKs: created in their own folder, attached at free or chosen SCSI slots, detached without deletion, and
keeping their UUID when they move to another VM (the master-target pattern)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from controller.vsphere import REPLICA_FOLDER, DiskPosition, VirtualMachine, VSphere
from controller.vsphere.errors import AlreadyExists, InvalidRequest, ObjectNotFound
from lab.vcsim import Simulator

pytestmark = pytest.mark.vcsim

MIB = 1024 * 1024


def _new_vm(vc: VSphere, name: str) -> VirtualMachine:
    """A powered-off VM with the hardware of a model VM (one PVSCSI controller on bus 0) and no disks."""
    inventory = vc.inventory()
    template = next(v for v in inventory.vms if v.name == "DC0_H0_VM0")
    datastore = inventory.datastore_named("LocalDS_0")
    assert datastore is not None
    assert template.host is not None
    return vc.create_vm(template, name=name, host=template.host, datastore=datastore.moid)


def _datastore(vc: VSphere) -> str:
    datastore = vc.inventory().datastore_named("LocalDS_0")
    assert datastore is not None
    return datastore.moid


def test_a_replica_disk_is_created_in_its_own_folder(
    vc: VSphere, vcsim: Simulator, unique: Callable[[str], str]
) -> None:
    vm_name = unique("web")
    path = vc.create_replica_disk(_datastore(vc), vm_name, "disk0", 8 * MIB)
    assert path == f"[LocalDS_0] {REPLICA_FOLDER}/{vm_name}/disk0.vmdk"
    (datastore_dir,) = vcsim.tmpdir.glob("govcsim-DC0-LocalDS_0-*")
    assert (datastore_dir / REPLICA_FOLDER / vm_name / "disk0.vmdk").is_file()


def test_creating_the_same_replica_disk_twice_is_already_exists(vc: VSphere, unique: Callable[[str], str]) -> None:
    vm_name = unique("db")
    vc.create_replica_disk(_datastore(vc), vm_name, "disk0", MIB)
    with pytest.raises(AlreadyExists) as caught:
        vc.create_replica_disk(_datastore(vc), vm_name, "disk0", MIB)
    assert caught.value.fault == "vim.fault.FileAlreadyExists"


def test_a_replica_disk_on_a_missing_datastore_is_not_found(vc: VSphere) -> None:
    with pytest.raises(ObjectNotFound) as caught:
        vc.create_replica_disk("datastore-does-not-exist", "vm", "disk0", MIB)
    assert caught.value.fault == "vmodl.fault.ManagedObjectNotFound"


@pytest.mark.parametrize(
    ("vm_name", "disk_name", "capacity"),
    [("../etc", "disk0", MIB), ("vm", "a/b", MIB), ("vm", "disk0", 0), ("vm", "disk0", MIB + 1)],
)
def test_bad_replica_disk_input_is_refused_before_any_call(
    vc: VSphere, vm_name: str, disk_name: str, capacity: int
) -> None:
    before = vc.round_trips
    with pytest.raises(InvalidRequest):
        vc.create_replica_disk("datastore-1", vm_name, disk_name, capacity)
    assert vc.round_trips == before


def test_an_attached_disk_takes_the_first_free_unit_and_reports_its_uuid(
    vc: VSphere, unique: Callable[[str], str]
) -> None:
    vm = _new_vm(vc, unique("mt"))
    path = vc.create_replica_disk(_datastore(vc), vm.name, "disk0", 4 * MIB)
    disk = vc.attach_disk(vm.instance_uuid, path)
    record = vc.vm(vm.instance_uuid)
    assert record.disks == (disk,)
    assert record.position(disk) == DiskPosition(0, 0)
    assert disk.uuid is not None
    assert disk.uuid.startswith("6000C29")
    assert disk.mode == "persistent"


def test_a_disk_detached_from_one_vm_keeps_its_uuid_on_another(vc: VSphere, unique: Callable[[str], str]) -> None:
    first = _new_vm(vc, unique("source"))
    second = _new_vm(vc, unique("master-target"))
    path = vc.create_replica_disk(_datastore(vc), first.name, "disk0", 4 * MIB)
    attached = vc.attach_disk(first.instance_uuid, path)
    assert attached.uuid is not None
    detached = vc.detach_disk(first.instance_uuid, attached.uuid)
    assert vc.vm(first.instance_uuid).disks == ()
    moved = vc.attach_disk(second.instance_uuid, path, independent=True)
    assert detached == attached
    assert moved.uuid == attached.uuid
    assert moved.mode == "independent_persistent"


def test_detaching_keeps_the_vmdk_file(vc: VSphere, vcsim: Simulator, unique: Callable[[str], str]) -> None:
    vm = _new_vm(vc, unique("keep"))
    path = vc.create_replica_disk(_datastore(vc), vm.name, "disk0", MIB)
    disk = vc.attach_disk(vm.instance_uuid, path)
    assert disk.uuid is not None
    vc.detach_disk(vm.instance_uuid, disk.uuid.lower().replace("-", ""))  # any spelling of the UUID
    (datastore_dir,) = vcsim.tmpdir.glob("govcsim-DC0-LocalDS_0-*")
    assert (datastore_dir / REPLICA_FOLDER / vm.name / "disk0.vmdk").is_file()


def test_a_disk_goes_to_the_recorded_position_adding_its_controller(vc: VSphere, unique: Callable[[str], str]) -> None:
    vm = _new_vm(vc, unique("placed"))
    path = vc.create_replica_disk(_datastore(vc), vm.name, "data", MIB)
    disk = vc.attach_disk(vm.instance_uuid, path, position=DiskPosition(2, 5))
    record = vc.vm(vm.instance_uuid)
    assert record.position(disk) == DiskPosition(2, 5)
    assert sorted((c.kind, c.bus_number) for c in record.scsi_controllers) == [("pvscsi", 0), ("pvscsi", 2)]


def test_a_full_controller_gets_a_new_pvscsi_controller_for_the_sixteenth_disk(
    vc: VSphere, unique: Callable[[str], str]
) -> None:
    vm = _new_vm(vc, unique("wide"))
    positions = []
    for index in range(16):
        path = vc.create_replica_disk(_datastore(vc), vm.name, f"disk{index}", MIB)
        disk = vc.attach_disk(vm.instance_uuid, path)
        positions.append(vc.vm(vm.instance_uuid).position(disk))
    assert positions[:15] == [DiskPosition(0, unit) for unit in (*range(7), *range(8, 16))]
    assert positions[15] == DiskPosition(1, 0)


def test_attaching_a_missing_vmdk_is_not_found_and_changes_nothing(vc: VSphere, unique: Callable[[str], str]) -> None:
    vm = _new_vm(vc, unique("missing"))
    with pytest.raises(ObjectNotFound):
        vc.attach_disk(vm.instance_uuid, "[LocalDS_0] nowhere/none.vmdk")
    assert vc.vm(vm.instance_uuid).disks == ()


def test_attaching_the_same_vmdk_twice_to_one_vm_is_refused(vc: VSphere, unique: Callable[[str], str]) -> None:
    vm = _new_vm(vc, unique("twice"))
    path = vc.create_replica_disk(_datastore(vc), vm.name, "disk0", MIB)
    vc.attach_disk(vm.instance_uuid, path)
    with pytest.raises(AlreadyExists):
        vc.attach_disk(vm.instance_uuid, path)


def test_detaching_an_unknown_disk_uuid_is_not_found(vc: VSphere, unique: Callable[[str], str]) -> None:
    vm = _new_vm(vc, unique("nodisk"))
    with pytest.raises(ObjectNotFound, match="no disk"):
        vc.detach_disk(vm.instance_uuid, "6000C290-0000-0000-0000-000000000000")


def test_several_disks_detach_in_one_reconfigure_and_keep_their_uuids(
    vc: VSphere, unique: Callable[[str], str]
) -> None:
    vm = _new_vm(vc, unique("many"))
    paths = [vc.create_replica_disk(_datastore(vc), vm.name, f"disk{index}", MIB) for index in range(3)]
    disks = [vc.attach_disk(vm.instance_uuid, path) for path in paths]
    before = vc.round_trips_by_method().get("ReconfigVM_Task", 0)
    detached = vc.detach_disks(vm.instance_uuid, [d.uuid or "" for d in disks[:2]])
    assert vc.round_trips_by_method().get("ReconfigVM_Task", 0) == before + 1
    assert detached == disks[:2]
    assert vc.vm(vm.instance_uuid).disks == (disks[2],)


def test_detaching_disks_with_one_unknown_uuid_changes_nothing(vc: VSphere, unique: Callable[[str], str]) -> None:
    vm = _new_vm(vc, unique("partly"))
    disk = vc.attach_disk(vm.instance_uuid, vc.create_replica_disk(_datastore(vc), vm.name, "disk0", MIB))
    with pytest.raises(ObjectNotFound, match="6000C290-0000-0000-0000-000000000000"):
        vc.detach_disks(vm.instance_uuid, [disk.uuid or "", "6000C290-0000-0000-0000-000000000000"])
    assert vc.vm(vm.instance_uuid).disks == (disk,)
