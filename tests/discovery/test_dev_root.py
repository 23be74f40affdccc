"""An injected device root: disks' paths name the nodes there, and prepare/release open exactly those.

The lab's master target reads a sysfs tree the lab's hypervisor shim writes, with device nodes that are symlinks to
the VMDKs' extent files; the data plane opens ``Disk.path``, so the path must be that node, not ``/dev/<name>``.
"""

from pathlib import Path

import pytest

from agent.discovery import LinuxDiscovery, open_discovery
from agent.discovery.errors import SourceError
from tests.discovery.conftest import TARGET_B
from tests.discovery.scenarios import master_target


def _backed_node(dev_root: Path, name: str, backing: Path, size: int) -> None:
    with backing.open("wb") as out:
        out.truncate(size)
    dev_root.mkdir(parents=True, exist_ok=True)
    (dev_root / name).symlink_to(backing)


def test_paths_name_the_nodes_under_the_device_root(tree, tmp_path):
    master_target(tree)
    dev_root = tmp_path / "devices"
    inventory = open_discovery(sysfs_root=tree.root, dev_root=dev_root).list_disks()
    assert {d.name: d.path for d in inventory.disks} == {
        name: str(dev_root / name) for name in ("sda", "sdb", "sdc", "sdd")
    }


def test_without_a_device_root_a_fake_tree_still_reports_dev_paths(tree):
    master_target(tree)
    inventory = open_discovery(sysfs_root=tree.root).list_disks()
    assert inventory.find(TARGET_B).path == "/dev/sdb"


def test_prepare_and_release_open_the_node_under_the_device_root(tree, tmp_path):
    master_target(tree)
    dev_root = tmp_path / "devices"
    backing = tmp_path / "sdb-flat.vmdk"
    _backed_node(dev_root, "sdb", backing, 1 << 20)
    discovery = LinuxDiscovery(sysfs_root=tree.root, dev_root=dev_root)
    disk = discovery.prepare(TARGET_B)
    assert Path(disk.path).resolve() == backing
    assert discovery.release(TARGET_B).path == str(dev_root / "sdb")


def test_a_missing_node_under_the_device_root_is_an_error_naming_it(tree, tmp_path):
    master_target(tree)
    dev_root = tmp_path / "devices"
    dev_root.mkdir()
    with pytest.raises(SourceError, match=str(dev_root / "sdb")):
        LinuxDiscovery(sysfs_root=tree.root, dev_root=dev_root).prepare(TARGET_B)


def test_a_device_root_without_a_sysfs_root_is_refused(tmp_path):
    with pytest.raises(SourceError, match="needs a sysfs root"):
        open_discovery(dev_root=tmp_path)
