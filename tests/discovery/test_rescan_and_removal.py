import subprocess
import sys

import pytest

from agent.discovery import LinuxDiscovery
from agent.discovery.errors import (
    DiskInUse,
    DiskNotFound,
    DiskRefused,
    DuplicateDiskId,
    EnableUUIDMissing,
    ProtectedDisk,
    RescanBusy,
)
from failback.diskid import InvalidDiskId
from failback.errors import DeadlineExceeded
from failback.retry import Policy
from tests.discovery.conftest import OS_ID, TARGET_B, TARGET_C
from tests.discovery.scenarios import master_target, without_enable_uuid
from tests.discovery.sysfs_tree import vmware_pg83

NEW = "6000c29e5e5e5e5e5e5e5e5e5e5e5e5e"


def policy(clock, deadline=10.0):
    return Policy(deadline=deadline, initial=0.5, maximum=2.0, jitter=0.0, sleep=clock.sleep, clock=clock)


def discovery(tree, clock, **kwargs):
    return LinuxDiscovery(
        sysfs_root=tree.root,
        lock_path=tree.root / "lock",
        rescan_policy=policy(clock),
        lock_policy=policy(clock, deadline=2.0),
        removal_policy=policy(clock, deadline=5.0),
        **kwargs,
    )


def attach_after(tree, clock, polls, name, hctl, hex_id):
    """The hypervisor hot-adds a disk while we wait: it shows up at the given sleep."""

    def maybe_attach(sleeps):
        if sleeps == polls:
            tree.scsi_disk(name, hctl, vpd83=vmware_pg83(hex_id))

    clock.on_sleep.append(maybe_attach)


def test_rescan_asks_every_scsi_host_to_scan_all_targets(tree, clock):
    master_target(tree)
    discovery(tree, clock).rescan()
    for host in ("host0", "host2"):
        assert (tree.sys / "class" / "scsi_host" / host / "scan").read_text() == "- - -"


def test_rescan_waits_until_the_expected_id_appears(tree, clock):
    master_target(tree)
    attach_after(tree, clock, 3, "sde", (2, 0, 3, 0), NEW)
    inventory = discovery(tree, clock).rescan([f"6000C29e-5e5e-5e5e-5e5e-{'5e' * 6}"])
    assert inventory.find(NEW).name == "sde"
    assert clock.sleeps == [0.5, 1.0, 2.0], "three polls came back empty, the fourth found it"


def test_rescan_gives_up_at_the_deadline_listing_the_ids_seen(tree, clock):
    master_target(tree)
    with pytest.raises(DiskNotFound) as info:
        discovery(tree, clock).rescan([NEW, TARGET_B])
    assert clock.now >= 10.0
    assert info.value.missing == (f"naa.{NEW}",)
    assert f"naa.{TARGET_B}" in info.value.seen
    assert f"naa.{TARGET_C}" in info.value.seen
    assert "after a rescan and 10 s of waiting" in str(info.value)
    assert isinstance(info.value.__cause__, DeadlineExceeded)


def test_rescan_stops_at_once_on_a_duplicate(tree, clock):
    master_target(tree)
    tree.scsi_disk("sde", (2, 0, 3, 0), vpd83=vmware_pg83(TARGET_B))
    with pytest.raises(DuplicateDiskId):
        discovery(tree, clock).rescan([TARGET_B])
    assert clock.sleeps == [], "waiting cannot fix a duplicate"


def test_rescan_stops_at_once_when_enable_uuid_is_missing(tree, clock):
    without_enable_uuid(tree, page=True)
    with pytest.raises(EnableUUIDMissing):
        discovery(tree, clock).rescan([NEW])
    assert clock.sleeps == []


def test_a_bad_id_is_refused_before_anything_is_written(tree, clock):
    master_target(tree)
    with pytest.raises(InvalidDiskId):
        discovery(tree, clock).rescan(["/dev/sdb"])
    assert (tree.sys / "class" / "scsi_host" / "host2" / "scan").read_text() == "\n"


def test_rescan_waits_for_the_lock_another_process_holds(tree, clock):
    master_target(tree)
    lock = tree.root / "lock"
    script = (
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RescanBusy, match="another process holds the rescan lock"):
            discovery(tree, clock).rescan()
        assert (tree.sys / "class" / "scsi_host" / "host2" / "scan").read_text() == "\n", "no scan without the lock"
        holder.stdin.close()
        holder.wait(timeout=30)
    discovery(tree, clock).rescan()
    assert (tree.sys / "class" / "scsi_host" / "host2" / "scan").read_text() == "- - -"


def test_remove_for_detach_deletes_the_device_and_waits_until_it_is_gone(tree, clock):
    master_target(tree)
    delete = tree.sys / "block" / "sdc" / "device" / "delete"
    clock.on_sleep.append(lambda sleeps: tree.remove("sdc") if sleeps == 2 and delete.read_text() == "1" else None)
    removed = discovery(tree, clock).remove_for_detach(TARGET_C)
    assert removed.name == "sdc"
    assert len(clock.sleeps) == 2
    assert f"naa.{TARGET_C}" not in discovery(tree, clock).list_disks().ids()


def test_remove_for_detach_times_out_when_the_device_stays(tree, clock):
    master_target(tree)
    with pytest.raises(DeadlineExceeded, match="/dev/sdc to disappear"):
        discovery(tree, clock).remove_for_detach(TARGET_C)


def test_remove_for_detach_refuses_the_os_disk_and_a_mounted_disk(tree, clock):
    master_target(tree)
    tree.partitions("sdb", 1)
    tree.mount("/dev/sdb1", "/mnt/data")
    with pytest.raises(ProtectedDisk):
        discovery(tree, clock).remove_for_detach(OS_ID)
    with pytest.raises(DiskInUse, match="/mnt/data"):
        discovery(tree, clock).remove_for_detach(TARGET_B)
    assert (tree.sys / "block" / "sdb" / "device" / "delete").read_text() == "\n"
    assert (tree.sys / "block" / "sda" / "device" / "delete").read_text() == "\n"


def test_remove_for_detach_refuses_a_disk_that_is_not_scsi(tree, clock):
    tree.nvme_disk("nvme0n1", wwid="eui.0025385b71b07e2f", model="VMware Virtual NVMe Disk", serial="1")
    with pytest.raises(DiskRefused, match="not a SCSI device"):
        discovery(tree, clock).remove_for_detach("eui.0025385b71b07e2f")
