import os
from pathlib import Path

import pytest

from agent.discovery import LinuxDiscovery, PyudevSource, StaticUdevSource
from agent.discovery.errors import DuplicateDiskId, EnableUUIDMissing
from tests.discovery.conftest import OS_ID, RETENTION_ID, TARGET_B, TARGET_C, scsi_id_properties, udev_record
from tests.discovery.scenarios import PVSCSI_PCI, master_target, without_enable_uuid
from tests.discovery.sysfs_tree import vmware_pg83

IDS = {"sda": OS_ID, "sdb": TARGET_B, "sdc": TARGET_C, "sdd": RETENTION_ID}


def udev_db(tree, ids=IDS, initialized=True):
    return StaticUdevSource(
        udev_record(tree, name, initialized=initialized, **(scsi_id_properties(hex_id) if initialized else {}))
        for name, hex_id in ids.items()
    )


def by_name(inventory):
    return {disk.name: disk for disk in inventory.disks}


def test_ids_come_from_the_udev_database_when_udev_initialised_the_disk(tree):
    master_target(tree)
    inventory = LinuxDiscovery(sysfs_root=tree.root, udev=udev_db(tree)).list_disks()
    sdb = by_name(inventory)["sdb"]
    assert inventory.source == "udev"
    assert (sdb.disk_id, sdb.id_source, sdb.native_id) == (f"naa.{TARGET_B}", "udev", f"0x{TARGET_B}")
    assert (sdb.path, sdb.size_bytes, str(sdb.hctl)) == ("/dev/sdb", 100 << 30, "2:0:0:0")


def test_uninitialised_devices_fall_back_to_sysfs_for_their_ids(tree):
    master_target(tree)
    inventory = LinuxDiscovery(sysfs_root=tree.root, udev=udev_db(tree, initialized=False)).list_disks()
    sdc = by_name(inventory)["sdc"]
    assert (inventory.source, sdc.disk_id, sdc.id_source) == ("udev", f"naa.{TARGET_C}", "vpd_pg83")


def test_udev_and_sysfs_agree_on_every_record(tree):
    master_target(tree)
    from_udev = LinuxDiscovery(sysfs_root=tree.root, udev=udev_db(tree)).list_disks()
    from_sysfs = LinuxDiscovery(sysfs_root=tree.root).list_disks()
    strip = lambda inv: [(d.disk_id, d.name, d.size_bytes, d.hctl, d.controller, d.roles) for d in inv.disks]  # noqa: E731
    assert strip(from_udev) == strip(from_sysfs)


def test_a_truncated_id_wwn_alone_is_not_used_and_the_page_83_id_wins(tree):
    master_target(tree)
    only_wwn = {"ID_BUS": "scsi", "ID_SERIAL": "0VMware_Virtual_disk", "ID_WWN": f"0x{TARGET_B[:16]}"}
    source = StaticUdevSource([udev_record(tree, "sdb", **only_wwn)])
    sdb = by_name(LinuxDiscovery(sysfs_root=tree.root, udev=source).list_disks())["sdb"]
    assert (sdb.disk_id, sdb.id_source) == (f"naa.{TARGET_B}", "vpd_pg83")


def test_id_wwn_with_its_vendor_extension_is_reassembled(tree):
    master_target(tree)
    props = {"ID_WWN": f"0x{TARGET_B[:16]}", "ID_WWN_VENDOR_EXTENSION": f"0x{TARGET_B[16:]}"}
    source = StaticUdevSource([udev_record(tree, "sdb", **props)])
    sdb = by_name(LinuxDiscovery(sysfs_root=tree.root, udev=source).list_disks())["sdb"]
    assert (sdb.disk_id, sdb.id_source) == (f"naa.{TARGET_B}", "udev")


def test_a_udev_id_serial_alone_identifies_the_disk(tree):
    master_target(tree)
    source = StaticUdevSource([udev_record(tree, "sdc", ID_BUS="scsi", ID_SERIAL=f"3{TARGET_C}")])
    assert by_name(LinuxDiscovery(sysfs_root=tree.root, udev=source).list_disks())["sdc"].id_source == "udev"


def test_duplicates_reported_by_udev_are_refused_naming_both(tree):
    master_target(tree)
    tree.scsi_host(3, "vmw_pvscsi", pci="0000:04:00.0", pci_id=PVSCSI_PCI)
    tree.scsi_disk("sde", (3, 0, 0, 0), vpd83=vmware_pg83(TARGET_B))
    source = udev_db(tree, {**IDS, "sde": TARGET_B})
    with pytest.raises(DuplicateDiskId, match="/dev/sdb at 2:0:0:0, /dev/sde at 3:0:0:0"):
        LinuxDiscovery(sysfs_root=tree.root, udev=source).resolve(TARGET_B)


def test_udev_records_of_vmware_disks_without_ids_name_enable_uuid(tree):
    without_enable_uuid(tree, page=True)
    no_ids = {"ID_BUS": "scsi", "ID_VENDOR": "VMware", "ID_MODEL": "Virtual_disk"}
    source = StaticUdevSource([udev_record(tree, "sda", **no_ids), udev_record(tree, "sdb", **no_ids)])
    with pytest.raises(EnableUUIDMissing, match=r"disk\.EnableUUID"):
        LinuxDiscovery(sysfs_root=tree.root, udev=source).resolve(TARGET_B)


# The contract every UdevSource keeps; the fake is held to it as the real one is.


def _real_source():
    return PyudevSource(), Path("/")


def _fake_source(tree):
    master_target(tree)
    records = [udev_record(tree, name, **scsi_id_properties(hex_id)) for name, hex_id in IDS.items()]
    partition = udev_record(tree, "sdb")
    records.append(type(partition)(f"{partition.devpath}/sdb1", "/dev/sdb1", True, {"DEVTYPE": "partition"}))
    return StaticUdevSource(records), tree.root


@pytest.fixture(params=["pyudev", "static"])
def source_and_root(request, tree):
    return _real_source() if request.param == "pyudev" else _fake_source(tree)


def test_contract_every_record_is_a_whole_disk_under_sys(source_and_root):
    source, root = source_and_root
    disks = source.disks()
    assert disks, "this machine and the fake tree both have disks"
    for disk in disks:
        assert disk.properties.get("DEVTYPE") == "disk"
        assert (root / "sys" / disk.devpath / "size").is_file()
        assert disk.properties["DEVPATH"] == "/" + disk.devpath
        assert disk.device_node == f"/dev/{os.path.basename(disk.devpath)}"
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in disk.properties.items())


def test_contract_the_sysfs_enumeration_lists_the_same_disks(source_and_root):
    source, root = source_and_root
    from agent.discovery import SysfsReader

    assert sorted(d.devpath for d in source.disks()) == sorted(SysfsReader(root).disk_devpaths())


def test_a_stale_udev_database_that_contradicts_the_device_gives_no_id(tree):
    master_target(tree)
    # udev still holds the record of the disk that was at sdb before; the device now answers TARGET_B.
    inventory = LinuxDiscovery(sysfs_root=tree.root, udev=udev_db(tree, {**IDS, "sdb": TARGET_C})).list_disks()
    sdb = by_name(inventory)["sdb"]
    assert sdb.disk_id is None
    assert "udevadm settle" in sdb.id_problem
    assert not sdb.needs_enable_uuid
    assert inventory.find(TARGET_C).name == "sdc", "the id is not claimed twice"


def test_virtio_and_nvme_disks_through_udev(tree):
    tree.virtio_disk("vda", serial="root-disk")
    tree.nvme_disk("nvme0n1", wwid="eui.0025385b71b07e2f", model="VMware Virtual NVMe Disk", serial="VMW-1")
    source = StaticUdevSource(
        [
            # 60-persistent-storage.rules: virtio disks get ID_SERIAL from the serial attribute, NVMe gets ID_WWN
            # from the wwid attribute.
            udev_record(tree, "vda", ID_SERIAL="root-disk"),
            udev_record(tree, "nvme0n1", ID_SERIAL="VMware_Virtual_NVMe_Disk_VMW-1", ID_WWN="eui.0025385b71b07e2f"),
        ]
    )
    disks = by_name(LinuxDiscovery(sysfs_root=tree.root, udev=source).list_disks())
    assert (disks["nvme0n1"].disk_id, disks["nvme0n1"].id_source) == ("eui.0025385b71b07e2f", "udev")
    assert disks["vda"].disk_id is None
    assert disks["vda"].serial == "root-disk"
