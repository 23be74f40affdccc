"""The guest tree the shim writes is what Linux discovery reads: ids, names and requests as the kernel has them."""

from pathlib import Path

from agent.discovery import LinuxDiscovery, lu_identifier, parse_vpd_pg83
from lab.world._guest import GuestSysfs, vmware_page83

UUID = "6000C29a-1b2c-3d4e-5f60-718293a4b5c6"


def test_page83_carries_the_vmdk_uuid_as_the_logical_units_naa():
    designator = lu_identifier(parse_vpd_pg83(vmware_page83(UUID), source="test"))
    assert designator is not None
    assert designator.text() == "naa." + UUID.replace("-", "").lower()


def test_names_are_handed_out_lowest_first_past_sdz(tmp_path: Path):
    guest = GuestSysfs(tmp_path / "guest")
    guest.add_host(0, "pvscsi")
    backing = tmp_path / "disk"
    backing.write_bytes(bytes(4096))
    names = []
    for unit in range(28):
        name = guest.free_name()
        guest.add_disk(name, 0, unit, uuid=f"6000C29a-1b2c-3d4e-5f60-7182{unit:08x}", size_bytes=4096, backing=backing)
        names.append(name)
    assert names[:2] == ["sda", "sdb"]
    assert names[25:] == ["sdz", "sdaa", "sdab"]
    guest.remove_disk("sdb")
    assert guest.free_name() == "sdb"


def test_scan_and_delete_requests_are_read_once(tmp_path: Path):
    guest = GuestSysfs(tmp_path / "guest")
    guest.add_host(1, "lsilogic")
    backing = tmp_path / "disk"
    backing.write_bytes(bytes(8192))
    guest.add_disk("sda", 1, 0, uuid=UUID, size_bytes=8192, backing=backing)
    (guest.sys / "class" / "scsi_host" / "host1" / "scan").write_text("- - -")
    (guest.sys / "block" / "sda" / "device" / "delete").write_text("1")
    first = guest.take_requests()
    assert (first.scans, first.deletes) == ({1}, {"sda"})
    second = guest.take_requests()
    assert (second.scans, second.deletes) == (set(), set())


def test_linux_discovery_reads_the_tree_with_the_lsi_driver_and_the_backing_file(tmp_path: Path):
    guest = GuestSysfs(tmp_path / "guest")
    guest.add_host(1, "lsilogic")
    backing = tmp_path / "disk"
    backing.write_bytes(bytes(8192))
    guest.add_disk("sda", 1, 3, uuid=UUID, size_bytes=8192, backing=backing)
    disk = LinuxDiscovery(sysfs_root=guest.root, dev_root=guest.dev).resolve(UUID)
    assert (disk.name, disk.size_bytes, disk.driver, str(disk.hctl)) == ("sda", 8192, "mptspi", "1:0:3:0")
    assert Path(disk.path).resolve() == backing
