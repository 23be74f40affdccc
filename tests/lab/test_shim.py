"""The hypervisor shim against the real simulator and the real master-target discovery: attaching a VMDK to the
master-target VM makes a disk with that VMDK's page-83 id appear to the agent at its next rescan, backed by the VMDK's
extent file; deleting or detaching it makes it disappear."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.discovery import LinuxDiscovery
from agent.discovery.errors import DiskNotFound, ProtectedDisk
from controller.vsphere import Credentials, VSphere
from controller.vsphere import connect as product_connect
from failback.diskid import normalize_disk_id
from failback.errors import DeadlineExceeded
from failback.retry import Policy
from lab.vcsim import Simulator
from lab.world._guest import GuestSysfs
from lab.world._shim import Shim, serve
from lab.world._vsphere import VmWatcher, create_vm, datastore_urls, extent_path, read_vms
from tests.lab.conftest import session

pytestmark = [pytest.mark.vcsim]

MIB = 1 << 20
FAST = Policy(deadline=5.0, initial=0.02, maximum=0.2)


@dataclass
class World:
    sim: Simulator
    si: Any
    shim: Shim
    discovery: LinuxDiscovery
    vc: VSphere
    mt_uuid: str
    web_uuid: str
    web_disk: str  # the web VM's VMDK uuid
    web_file: str  # [ds] path
    urls: dict[str, Path]


@pytest.fixture
def world(simulator: Simulator, tmp_path: Path) -> Iterator[World]:
    with session(simulator) as si, session(simulator) as watch_si:
        mt = create_vm(si, "mt-lab", [16 * MIB], enable_uuid=True, power_on=True)
        web = create_vm(si, "web01", [8 * MIB], enable_uuid=False, power_on=False)
        urls = datastore_urls(si)
        guest = GuestSysfs(tmp_path / "guest")
        shim = Shim(guest, "mt-lab", urls, lambda: read_vms(si), tmp_path / "state.json")
        shim.boot()
        watcher = VmWatcher(watch_si)
        stop = threading.Event()
        runner = threading.Thread(target=serve, args=(shim, watcher.wait, stop))
        runner.start()
        discovery = LinuxDiscovery(sysfs_root=guest.root, dev_root=guest.dev, rescan_policy=FAST, removal_policy=FAST)
        credentials = Credentials(
            host=simulator.host,
            port=simulator.port,
            user=simulator.username,
            password=simulator.password,
            ca_file=simulator.ca_file,
        )
        try:
            with product_connect(credentials) as vc:
                yield World(
                    simulator,
                    si,
                    shim,
                    discovery,
                    vc,
                    mt.instance_uuid,
                    web.instance_uuid,
                    web.disks[0].uuid,
                    web.disks[0].file_name,
                    urls,
                )
        finally:
            stop.set()
            runner.join(timeout=10)
            watcher.close()


def _move_to_master_target(world: World) -> None:
    world.vc.detach_disk(world.web_uuid, world.web_disk)
    world.vc.attach_disk(world.mt_uuid, world.web_file)


def test_the_os_disk_is_there_at_boot_and_refused_as_a_target(world: World):
    inventory = world.discovery.list_disks()
    assert [d.name for d in inventory.disks] == ["sda"]
    os_disk = inventory.disks[0]
    assert os_disk.mountpoints == ("/",)
    with pytest.raises(ProtectedDisk):
        world.discovery.prepare(os_disk.disk_id or "")


def test_an_attached_vmdk_appears_at_the_rescan_backed_by_its_extent(world: World):
    _move_to_master_target(world)
    world.discovery.rescan([world.web_disk])
    disk = world.discovery.prepare(world.web_disk)
    extent = extent_path(world.web_file, world.urls)
    assert disk.disk_id == normalize_disk_id(world.web_disk)
    assert disk.size_bytes == 8 * MIB
    assert Path(disk.path) == world.shim.guest.dev / disk.name
    assert Path(os.path.realpath(disk.path)) == extent
    fd = os.open(disk.path, os.O_WRONLY)
    try:
        os.pwrite(fd, b"replicated" * 100, 4096)
    finally:
        os.close(fd)
    assert extent.read_bytes()[4096:5096] == b"replicated" * 100


def test_a_vmdk_attached_without_a_rescan_stays_invisible(world: World):
    _move_to_master_target(world)
    # resolve() does not rescan: the guest has not been told to look, so the disk never shows up.
    with pytest.raises(DeadlineExceeded) as info:
        Policy(deadline=1.0, initial=0.05, maximum=0.2).wait_for(
            lambda: world.discovery.resolve(world.web_disk), what="the disk without a rescan"
        )
    assert isinstance(info.value.__cause__, DiskNotFound)


def test_remove_for_detach_deletes_the_device_and_a_rescan_brings_it_back(world: World):
    _move_to_master_target(world)
    world.discovery.rescan([world.web_disk])
    removed = world.discovery.remove_for_detach(world.web_disk)
    assert not (world.shim.guest.dev / removed.name).exists()
    assert normalize_disk_id(world.web_disk) not in world.discovery.list_disks().ids()
    world.discovery.rescan([world.web_disk])
    assert world.discovery.resolve(world.web_disk).size_bytes == 8 * MIB


def test_detaching_the_vmdk_removes_the_disk_and_the_state_names_its_new_owner(world: World):
    _move_to_master_target(world)
    world.discovery.rescan([world.web_disk])
    world.vc.detach_disk(world.mt_uuid, world.web_disk)
    FAST.wait_for(
        lambda: True if normalize_disk_id(world.web_disk) not in world.discovery.list_disks().ids() else None,
        what="the surprise removal",
    )
    assert [e.what for e in world.shim.events][-1] == "surprise-removal"
    world.vc.attach_disk(world.web_uuid, world.web_file)
    web = read_vms(world.si)["web01"]
    assert extent_path(web.disks[0].file_name, world.urls) == extent_path(world.web_file, world.urls)
