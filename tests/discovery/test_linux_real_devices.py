"""Real block devices: loop devices created by the tests, seen through the real pyudev source and the real /sys."""

import os
import subprocess
import sys

import pytest

from agent.discovery import ControllerType, DiskRole, LinuxDiscovery, PyudevSource
from agent.discovery.errors import DiskInUse
from tests.conftest import skip_or_fail
from tests.discovery.conftest import TARGET_B
from tests.discovery.scenarios import master_target

pytestmark = pytest.mark.root

SIZE = 96 << 20


def find(inventory, path):
    matches = [disk for disk in inventory.disks if disk.path == path]
    assert len(matches) == 1, f"{path} listed {len(matches)} times in {[d.path for d in inventory.disks]}"
    return matches[0]


@pytest.mark.parametrize("source", ["pyudev", "sysfs"])
def test_a_loop_device_is_listed_with_its_size_and_path(loop_device, source, tmp_path):
    device = loop_device(SIZE)
    udev = PyudevSource() if source == "pyudev" else None
    inventory = LinuxDiscovery(udev=udev).list_disks()
    disk = find(inventory, device)
    assert inventory.source == ("udev" if udev else "sysfs")
    assert (disk.name, disk.size_bytes, disk.controller, disk.disk_id) == (
        os.path.basename(device),
        SIZE,
        ControllerType.LOOP,
        None,
    )
    assert str(tmp_path / "disk.img") in disk.id_problem
    assert not disk.roles
    assert not disk.in_use


@pytest.fixture
def mounted(loop_device, tmp_path):
    device = loop_device(SIZE)
    mountpoint = tmp_path / "retention"
    mountpoint.mkdir()
    try:
        subprocess.run(["mkfs.ext4", "-q", "-F", device], check=True, capture_output=True)
        subprocess.run(["mount", device, str(mountpoint)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        skip_or_fail(f"cannot make and mount ext4 on {device}: {exc}")
    yield device, mountpoint
    subprocess.run(["umount", str(mountpoint)], check=False)


def test_a_mounted_retention_volume_is_found_through_psutil_and_marked(mounted):
    device, mountpoint = mounted
    inventory = LinuxDiscovery(retention_paths=[str(mountpoint / "journal")]).list_disks()
    disk = find(inventory, device)
    assert disk.roles == {DiskRole.RETENTION}
    assert disk.mountpoints == (str(mountpoint),)


def _fake_disk_backed_by(tree, device):
    """A fake PVSCSI disk with a VMDK id whose device node is the real loop device, so that opening it exercises
    the kernel's exclusive-open rules."""
    master_target(tree)
    (tree.root / "dev" / "sdb").unlink()
    (tree.root / "dev" / "sdb").symlink_to(device)
    return LinuxDiscovery(sysfs_root=tree.root)


def test_prepare_accepts_a_free_block_device(tree, loop_device):
    discovery = _fake_disk_backed_by(tree, loop_device(SIZE))
    assert discovery.prepare(TARGET_B).disk_id == f"naa.{TARGET_B}"


def test_prepare_refuses_a_device_another_process_holds_exclusively(tree, loop_device):
    device = loop_device(SIZE)
    discovery = _fake_disk_backed_by(tree, device)
    script = (
        f"import os, sys; os.open({device!r}, os.O_RDONLY | os.O_EXCL); print('held', flush=True); sys.stdin.read()"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DiskInUse, match="claimed by another user"):
            discovery.prepare(TARGET_B)
        holder.stdin.close()
        holder.wait(timeout=30)
    assert discovery.prepare(TARGET_B).name == "sdb", "free again once the holder exits"


def test_prepare_refuses_a_device_the_kernel_has_mounted_even_if_the_mount_table_misses_it(tree, mounted):
    device, _ = mounted
    discovery = _fake_disk_backed_by(tree, device)
    with pytest.raises(DiskInUse, match="claimed by another user"):
        discovery.prepare(TARGET_B)


def test_release_writes_buffered_data_through_to_the_disk(tree, loop_device, tmp_path):
    device = loop_device(SIZE)
    discovery = _fake_disk_backed_by(tree, device)
    payload = b"failback-release-" * 256

    def on_disk() -> bytes:
        with (tmp_path / "disk.img").open("rb") as image:
            image.seek(1 << 20)
            return image.read(len(payload))

    # The writer stays open: closing the last opener of a block device would flush it by itself.
    writer = os.open(device, os.O_WRONLY)
    try:
        os.pwrite(writer, payload, 1 << 20)
        assert on_disk() != payload, "still only in the guest's buffer cache"
        discovery.release(TARGET_B)
        assert on_disk() == payload
    finally:
        os.close(writer)
