import pytest

from agent.discovery import ControllerType, DiskRole, Hctl, LinuxDiscovery
from agent.discovery.errors import (
    DiskInUse,
    DiskNotFound,
    DiskNotWritable,
    DuplicateDiskId,
    EnableUUIDMissing,
    ProtectedDisk,
)
from tests.discovery.conftest import OS_ID, RETENTION_ID, TARGET_B, TARGET_C
from tests.discovery.scenarios import PVSCSI_PCI, master_target, without_enable_uuid
from tests.discovery.sysfs_tree import designator, naa, pg83, vmware_pg83

RETENTION = "/var/lib/failback retention"


def discovery(tree, **kwargs):
    kwargs.setdefault("agent_dir", "/opt/failback")
    kwargs.setdefault("retention_paths", [RETENTION + "/journal"])
    return LinuxDiscovery(sysfs_root=tree.root, **kwargs)


def by_name(inventory):
    return {disk.name: disk for disk in inventory.disks}


def test_a_pvscsi_disk_with_enable_uuid_is_listed_with_its_vmdk_id_and_scsi_address(tree):
    disks = by_name(discovery(master_target(tree)).list_disks())
    sdb = disks["sdb"]
    assert sdb.disk_id == f"naa.{TARGET_B}"
    assert (sdb.id_source, sdb.native_id, sdb.id_problem) == ("vpd_pg83", f"naa.{TARGET_B}", None)
    assert (sdb.path, sdb.size_bytes, sdb.vendor, sdb.model, sdb.serial) == (
        "/dev/sdb",
        100 << 30,
        "VMware",
        "Virtual disk",
        TARGET_B,
    )
    assert (sdb.controller, sdb.driver, sdb.controller_key, sdb.hctl) == (
        ControllerType.PVSCSI,
        "vmw_pvscsi",
        "host2",
        Hctl(2, 0, 0, 0),
    )
    assert sdb.vmware
    assert not sdb.protected
    assert not sdb.in_use


def test_an_lsi_logic_disk_reports_its_controller(tree):
    sda = by_name(discovery(master_target(tree)).list_disks())["sda"]
    assert (sda.controller, sda.driver, sda.hctl, sda.disk_id) == (
        ControllerType.LSILOGIC,
        "mptspi",
        Hctl(0, 0, 0, 0),
        f"naa.{OS_ID}",
    )


def test_the_os_agent_and_retention_disks_are_marked_and_never_candidates(tree):
    inventory = discovery(master_target(tree)).list_disks()
    disks = by_name(inventory)
    assert disks["sda"].roles == {DiskRole.OS, DiskRole.AGENT}
    assert disks["sda"].mountpoints == ("/", "[swap]")
    assert disks["sda"].partitions == ("sda1", "sda2")
    assert disks["sdd"].roles == {DiskRole.RETENTION}
    assert disks["sdd"].mountpoints == (RETENTION,)
    assert disks["sdb"].roles == disks["sdc"].roles == frozenset()
    counts = inventory.counts()
    assert (counts.total, counts.with_id, counts.protected, counts.candidates) == (4, 4, 2, 2)


def test_resolve_returns_the_one_disk_for_the_vsphere_spelling_of_its_uuid(tree):
    found = discovery(master_target(tree)).resolve("6000C29c-06cb-3c70-2073-32f14ebd2be4")
    assert (found.name, found.disk_id) == ("sdc", f"naa.{TARGET_C}")


def test_resolve_of_an_absent_id_lists_the_ids_that_were_seen(tree):
    with pytest.raises(DiskNotFound) as info:
        discovery(master_target(tree)).resolve("6000c29f-0000-0000-0000-000000000000")
    assert info.value.missing == ("naa.6000c29f000000000000000000000000",)
    assert info.value.seen == tuple(sorted(f"naa.{h}" for h in (OS_ID, TARGET_B, TARGET_C, RETENTION_ID)))
    assert f"naa.{TARGET_B}" in str(info.value)


@pytest.mark.parametrize("page", [True, False], ids=["page-without-naa", "no-page"])
def test_vmware_disks_without_enable_uuid_are_listed_and_refused_naming_the_fix(tree, page):
    inventory = discovery(without_enable_uuid(tree, page=page)).list_disks()
    sdb = by_name(inventory)["sdb"]
    assert sdb.disk_id is None
    assert "disk.EnableUUID = TRUE" in sdb.id_problem
    assert len(inventory.problems()) == 1
    assert "disk.EnableUUID" in inventory.problems()[0]
    with pytest.raises(EnableUUIDMissing) as info:
        inventory.find(f"naa.{TARGET_B}")
    assert info.value.devices == ("/dev/sda", "/dev/sdb")
    assert "power off the master target" in str(info.value)
    assert "disk.EnableUUID = TRUE" in str(info.value)


def test_two_paths_to_one_lun_without_multipathd_are_refused_naming_both(tree):
    master_target(tree)
    tree.scsi_host(3, "vmw_pvscsi", pci="0000:04:00.0", pci_id=PVSCSI_PCI)
    tree.scsi_disk("sde", (3, 0, 0, 0), vpd83=vmware_pg83(TARGET_B))
    inventory = discovery(tree).list_disks()
    with pytest.raises(DuplicateDiskId) as info:
        inventory.find(f"naa.{TARGET_B}")
    assert info.value.devices == ("/dev/sdb at 2:0:0:0", "/dev/sde at 3:0:0:0")
    assert "template" in str(info.value)
    assert "without multipathd" in str(info.value)
    assert inventory.counts().duplicated == 2
    assert any("/dev/sdb" in p and "/dev/sde" in p for p in inventory.problems())
    # The other disks are still found.
    assert inventory.find(f"naa.{TARGET_C}").name == "sdc"


def test_paths_held_by_a_multipath_device_name_the_holder(tree):
    master_target(tree)
    tree.scsi_host(3, "vmw_pvscsi", pci="0000:04:00.0", pci_id=PVSCSI_PCI)
    tree.scsi_disk("sde", (3, 0, 0, 0), vpd83=vmware_pg83(TARGET_B))
    tree.dm("dm-0", "mpatha", ["sdb", "sde"])
    inventory = discovery(tree).list_disks()
    assert "dm-0" not in by_name(inventory), "stacked devices are not attachable disks"
    with pytest.raises(DuplicateDiskId, match="held by dm-0"):
        inventory.find(f"naa.{TARGET_B}")


def test_a_template_clone_whose_disk_uuids_clash_with_the_os_disk_is_refused(tree):
    master_target(tree)
    tree.scsi_disk("sdf", (2, 0, 3, 0), vpd83=vmware_pg83(OS_ID))
    with pytest.raises(DuplicateDiskId, match="/dev/sda at 0:0:0:0, /dev/sdf at 2:0:3:0"):
        discovery(tree).resolve(OS_ID)


def test_lvm_on_a_partition_makes_the_disk_in_use(tree):
    master_target(tree)
    tree.partitions("sdc", 1)
    tree.dm("dm-1", "vg-data", ["sdc1"])
    tree.mount("/dev/mapper/vg-data", "/data", "xfs")
    sdc = by_name(discovery(tree).list_disks())["sdc"]
    assert (sdc.holders, sdc.mountpoints) == (("dm-1",), ("/data",))


def test_virtio_and_loop_disks_are_listed_without_ids_and_without_enable_uuid_blame(tree):
    tree.virtio_disk("vda", size_bytes=20 << 30, serial="root-disk")
    tree.loop("loop0", size_bytes=1 << 30, backing="/srv/image.raw")
    tree.loop("loop1", size_bytes=0)
    inventory = discovery(tree).list_disks()
    disks = by_name(inventory)
    assert set(disks) == {"vda", "loop0"}, "a loop device without a backing file has no medium"
    assert (disks["vda"].controller, disks["vda"].driver, disks["vda"].serial) == (
        ControllerType.VIRTIO_BLK,
        "virtio_blk",
        "root-disk",
    )
    assert disks["loop0"].controller is ControllerType.LOOP
    assert "/srv/image.raw" in disks["loop0"].id_problem
    assert inventory.problems() == []


def test_nvme_namespaces_use_their_eui_and_refuse_a_synthesised_wwid(tree):
    tree.nvme_disk("nvme0n1", wwid="eui.0025385b71b07e2f", model="VMware Virtual NVMe Disk", serial="VMW-1")
    tree.nvme_disk("nvme1n1", wwid="nvme.15ad-564d57-564d-00000001", model="VMware Virtual NVMe Disk", serial="VMW-2")
    disks = by_name(discovery(tree).list_disks())
    assert (disks["nvme0n1"].disk_id, disks["nvme0n1"].controller, disks["nvme0n1"].id_source) == (
        "eui.0025385b71b07e2f",
        ControllerType.NVME,
        "wwid",
    )
    assert disks["nvme1n1"].disk_id is None
    assert "not an NAA or EUI-64" in disks["nvme1n1"].id_problem


def test_the_kernel_wwid_is_used_when_there_is_no_vpd_page(tree):
    tree.scsi_host(2, "vmw_pvscsi")
    tree.scsi_disk("sdb", (2, 0, 0, 0), wwid=f"naa.{TARGET_B}")
    sdb = by_name(discovery(tree).list_disks())["sdb"]
    assert (sdb.disk_id, sdb.id_source) == (f"naa.{TARGET_B}", "wwid")


def test_a_malformed_vpd_page_is_reported_on_the_disk_without_failing_the_listing(tree):
    tree.scsi_host(2, "vmw_pvscsi")
    tree.scsi_disk("sdb", (2, 0, 0, 0), vpd83=pg83(naa(TARGET_B))[:-4])
    tree.scsi_disk("sdc", (2, 0, 1, 0), vpd83=vmware_pg83(TARGET_C))
    disks = by_name(discovery(tree).list_disks())
    assert disks["sdb"].disk_id is None
    assert "says 20 bytes follow, only 16 do" in disks["sdb"].id_problem
    assert disks["sdc"].disk_id == f"naa.{TARGET_C}"
    assert not disks["sdb"].needs_enable_uuid, "a corrupt page is a fault, not a missing VM setting"


def test_an_unknown_driver_is_recognised_by_its_pci_id(tree):
    tree.scsi_host(4, "pvscsi_ng", pci_id=PVSCSI_PCI)
    tree.scsi_disk("sdb", (4, 0, 0, 0), vpd83=vmware_pg83(TARGET_B))
    assert by_name(discovery(tree).list_disks())["sdb"].controller is ControllerType.PVSCSI


def test_an_eui64_only_disk_gets_an_eui_id(tree):
    tree.scsi_host(1, "virtio_scsi")
    tree.scsi_disk("sdb", (1, 0, 0, 0), vendor="QEMU    ", vpd83=pg83(designator(0x2, bytes(range(8)))))
    sdb = by_name(discovery(tree).list_disks())["sdb"]
    assert (sdb.disk_id, sdb.controller, sdb.vmware) == ("eui.0001020304050607", ControllerType.VIRTIO_SCSI, False)


def test_capacity_counts_disks_per_vsphere_scsi_controller_against_60(tree):
    master_target(tree)
    tree.virtio_disk("vda")
    capacity = discovery(tree).capacity()
    assert [(c.key, c.controller, c.disks, c.free) for c in capacity.controllers] == [
        ("host0", ControllerType.LSILOGIC, 1, 14),
        ("host2", ControllerType.PVSCSI, 3, 12),
    ]
    assert (capacity.attached, capacity.limit, capacity.free, capacity.controllers_free) == (4, 60, 56, 2)


def test_prepare_accepts_a_free_target_disk(tree):
    prepared = discovery(master_target(tree)).prepare(f"wwn-0x{TARGET_B}")
    assert (prepared.name, prepared.disk_id) == ("sdb", f"naa.{TARGET_B}")


@pytest.mark.parametrize(
    ("disk_id", "error", "message"),
    [
        (OS_ID, ProtectedDisk, "holds agent, os"),
        (RETENTION_ID, ProtectedDisk, "holds retention"),
    ],
)
def test_prepare_refuses_the_os_and_retention_disks(tree, disk_id, error, message):
    with pytest.raises(error, match=message):
        discovery(master_target(tree)).prepare(disk_id)


def test_prepare_refuses_a_mounted_disk_naming_the_mount(tree):
    master_target(tree)
    tree.partitions("sdb", 1)
    tree.mount("/dev/sdb1", "/mnt/old")
    with pytest.raises(DiskInUse, match="in use: /mnt/old"):
        discovery(tree).prepare(TARGET_B)


def test_prepare_refuses_a_read_only_disk(tree):
    tree.scsi_host(2, "vmw_pvscsi")
    tree.scsi_disk("sdb", (2, 0, 0, 0), vpd83=vmware_pg83(TARGET_B), ro=True)
    with pytest.raises(DiskNotWritable, match="read-only"):
        discovery(tree).prepare(TARGET_B)


def test_inventory_json_shape_is_stable(tree):
    disk = discovery(master_target(tree)).list_disks().to_dict()["disks"][1]
    assert disk == {
        "id": f"naa.{TARGET_B}",
        "id_problem": None,
        "id_source": "vpd_pg83",
        "native_id": f"naa.{TARGET_B}",
        "name": "sdb",
        "path": "/dev/sdb",
        "size_bytes": 100 << 30,
        "vendor": "VMware",
        "model": "Virtual disk",
        "serial": TARGET_B,
        "controller": "pvscsi",
        "driver": "vmw_pvscsi",
        "controller_key": "host2",
        "hctl": {"host": 2, "channel": 0, "target": 0, "lun": 0},
        "vmware": True,
        "needs_enable_uuid": False,
        "read_only": False,
        "offline": False,
        "removable": False,
        "roles": [],
        "partitions": [],
        "holders": [],
        "mountpoints": [],
        "partition_style": None,
    }
