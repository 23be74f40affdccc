"""Fake master targets built with FakeSysfs, shared by the sysfs and udev tests."""

from __future__ import annotations

from tests.discovery.conftest import OS_ID, RETENTION_ID, TARGET_B, TARGET_C
from tests.discovery.sysfs_tree import FakeSysfs, pg80, pg83, rel_port, t10, vmware_pg83

PVSCSI_PCI = (0x15AD, 0x07C0)
LSILOGIC_PCI = (0x1000, 0x0030)


def master_target(tree: FakeSysfs) -> FakeSysfs:
    """A Linux master target with disk.EnableUUID = TRUE.

    host0 (LSI Logic): sda, the OS disk (/ on sda2, swap on sda1).
    host2 (PVSCSI): sdb and sdc, free replication targets; sdd holds the retention volume (sdd1).
    """
    tree.scsi_host(0, "mptspi", pci="0000:00:10.0", pci_id=LSILOGIC_PCI)
    tree.scsi_host(2, "vmw_pvscsi", pci="0000:03:00.0", pci_id=PVSCSI_PCI)
    tree.scsi_disk("sda", (0, 0, 0, 0), size_bytes=40 << 30, vpd83=vmware_pg83(OS_ID), vpd80=pg80(OS_ID))
    tree.partitions("sda", 2)
    tree.scsi_disk("sdb", (2, 0, 0, 0), size_bytes=100 << 30, vpd83=vmware_pg83(TARGET_B), vpd80=pg80(TARGET_B))
    tree.scsi_disk("sdc", (2, 0, 1, 0), size_bytes=200 << 30, vpd83=vmware_pg83(TARGET_C), vpd80=pg80(TARGET_C))
    tree.scsi_disk("sdd", (2, 0, 2, 0), size_bytes=500 << 30, vpd83=vmware_pg83(RETENTION_ID))
    tree.partitions("sdd", 1)
    tree.mount("/dev/sda2", "/")
    tree.swap("/dev/sda1")
    tree.mount("/dev/sdd1", "/var/lib/failback retention")
    return tree


def without_enable_uuid(tree: FakeSysfs, *, page: bool) -> FakeSysfs:
    """The same VM before disk.EnableUUID: VMware disks answer page 0x83 without an NAA designator (``page``) or the
    kernel exposes no page at all."""
    tree.scsi_host(0, "mptspi", pci="0000:00:10.0", pci_id=LSILOGIC_PCI)
    tree.scsi_host(2, "vmw_pvscsi", pci="0000:03:00.0", pci_id=PVSCSI_PCI)
    vpd83 = pg83(t10("VMware  Virtual disk    "), rel_port(1)) if page else None
    tree.scsi_disk("sda", (0, 0, 0, 0), size_bytes=40 << 30, vpd83=vpd83)
    tree.partitions("sda", 1)
    tree.scsi_disk("sdb", (2, 0, 0, 0), size_bytes=100 << 30, vpd83=vpd83)
    tree.mount("/dev/sda1", "/")
    return tree
