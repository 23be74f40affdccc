import pytest

from agent.discovery import ControllerType, DiskRole, Hctl, WindowsDiscovery, parse_disks
from agent.discovery.errors import (
    CommandFailed,
    DiskInUse,
    DiskNotFound,
    DiskNotWritable,
    DuplicateDiskId,
    EnableUUIDMissing,
    ProtectedDisk,
    SourceError,
)
from failback.retry import Policy
from tests.discovery.fake_powershell import FakePowerShell, load

AGENT_DIR = r"C:\Program Files\failback"
RETENTION = r"e:\failback\retention"
TARGET_1 = "naa.6000c29bba3d8f3b3ce688b1c2c16d07"
TARGET_2 = "naa.6000c29c06cb3c70207332f14ebd2be4"
OS_DISK = "naa.6000c29a11111111111111111111111a"


def windows(fixture="master_target.json", tmp_path=None, **kwargs):
    shell = FakePowerShell(load(fixture), ignores=kwargs.pop("ignores", ()))
    kwargs.setdefault("retention_paths", [RETENTION])
    discovery = WindowsDiscovery(
        shell,
        agent_dir=AGENT_DIR,
        lock_path=(tmp_path / "lock") if tmp_path else None,
        **kwargs,
    )
    return discovery, shell


def by_number(inventory):
    return {int(disk.name.removeprefix("PhysicalDrive")): disk for disk in inventory.disks}


def test_get_disk_output_becomes_the_same_records_as_on_linux():
    discovery, _ = windows()
    disks = by_number(discovery.list_disks())
    one = disks[1]
    assert (one.disk_id, one.id_source, one.native_id) == (TARGET_1, "get-disk", "6000C29BBA3D8F3B3CE688B1C2C16D07")
    assert (one.path, one.name, one.size_bytes) == (r"\\.\PhysicalDrive1", "PhysicalDrive1", 100 << 30)
    assert (one.vendor, one.model, one.serial) == ("VMware", "Virtual disk", "6000c29bba3d8f3b3ce688b1c2c16d07")
    assert (one.controller, one.driver, one.controller_key, one.hctl) == (
        ControllerType.PVSCSI,
        "pvscsi",
        "port3",
        Hctl(3, 0, 0, 0),
    )
    assert disks[0].controller is ControllerType.LSILOGIC_SAS


def test_online_offline_read_only_and_partition_styles_are_reported():
    disks = by_number(windows()[0].list_disks())
    assert [(n, d.offline, d.read_only, d.partition_style) for n, d in sorted(disks.items())] == [
        (0, False, False, "GPT"),
        (1, True, False, "RAW"),
        (2, False, True, "RAW"),
        (3, False, False, "GPT"),
        (4, True, False, "MBR"),
    ]
    assert disks[4].partitions == ("Harddisk4Partition1",)
    assert disks[4].mountpoints == ()
    assert disks[3].mountpoints == ("E:\\",)


def test_system_boot_agent_and_retention_disks_are_protected():
    disks = by_number(windows()[0].list_disks())
    assert disks[0].roles == {DiskRole.OS, DiskRole.AGENT}
    assert disks[3].roles == {DiskRole.RETENTION}
    assert [n for n, d in sorted(disks.items()) if not d.roles] == [1, 2, 4]


def test_names_printed_by_powershell_type_data_parse_like_the_numbers():
    numbers = parse_disks((load_text("master_target.json")), agent_dir=AGENT_DIR, retention_paths=[RETENTION])
    names = parse_disks(load_text("master_target_display_names.json"), agent_dir=AGENT_DIR, retention_paths=[RETENTION])
    assert names == numbers


def load_text(name):
    from tests.discovery.fake_powershell import FIXTURES

    return (FIXTURES / name).read_text()


def test_the_controller_is_known_from_its_pci_id_when_wmi_lists_no_driver():
    discovery, shell = windows()
    shell.state["Controllers"] = []
    disks = by_number(discovery.list_disks())
    assert (disks[0].controller, disks[1].controller, disks[1].driver) == (
        ControllerType.LSILOGIC_SAS,
        ControllerType.PVSCSI,
        None,
    )


def test_a_duplicate_unique_id_is_refused_naming_both_disks():
    discovery, _ = windows("duplicate_unique_id.json")
    with pytest.raises(DuplicateDiskId) as info:
        discovery.resolve("6000C29B-BA3D-8F3B-3CE6-88B1C2C16D07")
    assert info.value.devices == (r"\\.\PhysicalDrive1 at 3:0:0:0", r"\\.\PhysicalDrive5 at 3:0:4:0")


def test_vmware_disks_without_enable_uuid_are_refused_naming_the_setting():
    discovery, _ = windows("no_enable_uuid.json")
    inventory = discovery.list_disks()
    assert all(d.disk_id is None and d.needs_enable_uuid for d in inventory.disks)
    assert "Vendor Specific" in inventory.disks[1].id_problem
    with pytest.raises(EnableUUIDMissing, match=r"disk\.EnableUUID = TRUE"):
        inventory.find(TARGET_1)


def test_prepare_brings_an_offline_disk_online_and_writable_guarded_by_its_unique_id():
    discovery, shell = windows()
    prepared = discovery.prepare(TARGET_1)
    assert (prepared.offline, prepared.read_only, prepared.path) == (False, False, r"\\.\PhysicalDrive1")
    change = next(s for s in shell.scripts if "Set-Disk" in s)
    assert "$d = Get-Disk -Number 1\nif ($d.UniqueId -ne '6000C29BBA3D8F3B3CE688B1C2C16D07')" in change
    assert change.index("-IsOffline $false") < change.index("-IsReadOnly $false")
    assert shell.disk(1)["IsOffline"] is False
    assert shell.disk(1)["IsReadOnly"] is False


def test_prepare_clears_read_only_on_an_online_disk():
    discovery, shell = windows()
    assert discovery.prepare(TARGET_2).read_only is False
    assert shell.disk(2)["IsReadOnly"] is False


def test_prepare_reports_a_disk_that_stays_read_only():
    discovery, _ = windows(ignores=["ReadOnly"])
    with pytest.raises(DiskNotWritable, match="still read-only after Set-Disk"):
        discovery.prepare(TARGET_2)


@pytest.mark.parametrize("disk_id", [OS_DISK, "6000C29D0000000000000000000000D1"])
def test_prepare_never_touches_a_protected_disk(disk_id):
    discovery, shell = windows()
    with pytest.raises(ProtectedDisk):
        discovery.prepare(disk_id)
    assert not any("Set-Disk" in s for s in shell.scripts)


def test_prepare_refuses_a_disk_with_a_mounted_volume():
    discovery, shell = windows(retention_paths=[])
    with pytest.raises(DiskInUse, match=r"E:\\"):
        discovery.prepare("6000C29D0000000000000000000000D1")
    assert not any("Set-Disk" in s for s in shell.scripts)


def test_release_and_remove_take_the_disk_read_only_then_offline():
    discovery, shell = windows()
    discovery.prepare(TARGET_1)
    discovery.remove_for_detach(TARGET_1)
    change = [s for s in shell.scripts if "Set-Disk" in s][-1]
    assert change.index("-IsReadOnly $true") < change.index("-IsOffline $true")
    assert shell.disk(1)["IsOffline"] is True
    assert shell.disk(1)["IsReadOnly"] is True


def test_a_disk_renumbered_between_resolve_and_set_disk_is_left_alone():
    discovery, shell = windows()

    def renumber(script):
        if "Set-Disk" in script:
            first, second = shell.disk(1), shell.disk(2)
            first["Number"], second["Number"] = 2, 1

    shell.before = renumber
    with pytest.raises(CommandFailed, match="disk 1 is now 6000C29C06CB3C70207332F14EBD2BE4"):
        discovery.prepare(TARGET_1)
    # Nothing was changed: the disk now numbered 1 stays read-only, the target (now 2) stays offline.
    assert shell.disk(1)["IsReadOnly"] is True
    assert shell.disk(2)["IsOffline"] is True


def test_rescan_updates_the_host_storage_cache_and_waits_for_the_id(tmp_path, clock):
    discovery, shell = windows(
        tmp_path=tmp_path,
        rescan_policy=Policy(deadline=10.0, initial=0.5, maximum=2.0, jitter=0.0, sleep=clock.sleep, clock=clock),
    )
    new_disk = dict(shell.disk(4), Number=6, UniqueId="6000C29F000000000000000000000006", IsOffline=True)
    clock.on_sleep.append(lambda sleeps: shell.state["Disks"].append(new_disk) if sleeps == 2 else None)
    inventory = discovery.rescan(["6000C29f-0000-0000-0000-000000000006"])
    assert inventory.find("naa.6000c29f000000000000000000000006").name == "PhysicalDrive6"
    assert any("Update-HostStorageCache" in s for s in shell.scripts)
    assert len(clock.sleeps) == 2


def test_rescan_deadline_lists_the_ids_windows_reported(tmp_path, clock):
    discovery, _ = windows(
        tmp_path=tmp_path,
        rescan_policy=Policy(deadline=5.0, initial=0.5, maximum=2.0, jitter=0.0, sleep=clock.sleep, clock=clock),
    )
    with pytest.raises(DiskNotFound) as info:
        discovery.rescan(["naa.6000c29f000000000000000000000006"])
    assert TARGET_1 in info.value.seen
    assert OS_DISK in info.value.seen


def test_a_failing_powershell_is_reported_with_its_error():
    def broken(argv, *, timeout):
        from agent.discovery import CommandResult

        return CommandResult(
            1, "", "Get-Disk : Access denied\r\n    + CategoryInfo : PermissionDenied\r\nAccess denied"
        )

    with pytest.raises(CommandFailed, match=r"Get-Disk\) failed \(exit code 1\): Access denied"):
        WindowsDiscovery(broken).list_disks()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("WARNING: something\n", "not JSON"),
        ('{"Partitions": []}', "without a Disks list"),
        ('{"Disks": [{"UniqueId": "x"}]}', "a disk record we cannot read"),
    ],
)
def test_unreadable_powershell_output_is_refused(payload, message):
    with pytest.raises(SourceError, match=message):
        parse_disks(payload)


def test_capacity_counts_disks_per_controller_port():
    capacity = windows()[0].capacity()
    assert [(c.key, c.controller, c.disks) for c in capacity.controllers] == [
        ("port2", ControllerType.LSILOGIC_SAS, 1),
        ("port3", ControllerType.PVSCSI, 4),
    ]
    assert (capacity.attached, capacity.free) == (5, 55)
