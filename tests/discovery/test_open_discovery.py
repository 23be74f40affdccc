from agent.discovery import LinuxDiscovery, open_discovery
from tests.discovery.scenarios import master_target


def test_this_machine_is_examined_through_udev():
    discovery = open_discovery()
    assert isinstance(discovery, LinuxDiscovery)
    assert discovery.list_disks().source == "udev"


def test_another_sysfs_root_is_read_through_sysfs_only(tree):
    master_target(tree)
    inventory = open_discovery(sysfs_root=tree.root, retention_paths=["/var/lib/failback retention"]).list_disks()
    assert inventory.source == "sysfs"
    assert [d.name for d in inventory.disks if d.protected] == ["sda", "sdd"]
