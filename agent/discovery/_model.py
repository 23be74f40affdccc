"""The disk record both platforms produce, and the facts about virtual controllers that placement depends on.

A :class:`Disk` is a snapshot: ``path`` says where the disk can be opened *now*; ``disk_id`` is its identity. Only
``disk_id`` may be stored or sent to the controller; ``/dev/sdX`` and Windows disk numbers change across reboots and
rescans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "DISKS_PER_CONTROLLER",
    "MAX_ATTACHED_DISKS",
    "MAX_SCSI_CONTROLLERS",
    "ControllerType",
    "Disk",
    "DiskRole",
    "Hctl",
]

# Azure Site Recovery documents a master target with up to 60 disks: 4 SCSI controllers x 15 disks each.
MAX_SCSI_CONTROLLERS = 4
DISKS_PER_CONTROLLER = 15
MAX_ATTACHED_DISKS = MAX_SCSI_CONTROLLERS * DISKS_PER_CONTROLLER


class DiskRole(StrEnum):
    """Why a disk must never be offered as a replication target."""

    OS = "os"
    AGENT = "agent"
    RETENTION = "retention"


class ControllerType(StrEnum):
    """The virtual (or physical) controller a disk hangs off."""

    PVSCSI = "pvscsi"
    LSILOGIC = "lsilogic"
    LSILOGIC_SAS = "lsilogic-sas"
    BUSLOGIC = "buslogic"
    SATA = "sata"
    IDE = "ide"
    NVME = "nvme"
    VIRTIO_SCSI = "virtio-scsi"
    VIRTIO_BLK = "virtio-blk"
    LOOP = "loop"
    OTHER = "other"

    @property
    def is_vsphere_scsi(self) -> bool:
        """Counts against the 4 x 15 SCSI slots of a vSphere VM, and gets page-83 ids from disk.EnableUUID."""
        return self in _VSPHERE_SCSI


_VSPHERE_SCSI = frozenset(
    {ControllerType.PVSCSI, ControllerType.LSILOGIC, ControllerType.LSILOGIC_SAS, ControllerType.BUSLOGIC}
)

# Linux SCSI host ``proc_name`` -> controller.
SCSI_HOST_DRIVERS: dict[str, ControllerType] = {
    "vmw_pvscsi": ControllerType.PVSCSI,
    "mptspi": ControllerType.LSILOGIC,
    "mptsas": ControllerType.LSILOGIC_SAS,
    "mpt3sas": ControllerType.LSILOGIC_SAS,
    "BusLogic": ControllerType.BUSLOGIC,
    "ahci": ControllerType.SATA,
    "ata_piix": ControllerType.IDE,
    "virtio_scsi": ControllerType.VIRTIO_SCSI,
}

# Windows miniport driver names (Win32_SCSIController.DriverName), lower-cased.
WINDOWS_DRIVERS: dict[str, ControllerType] = {
    "pvscsi": ControllerType.PVSCSI,
    "lsi_scsi": ControllerType.LSILOGIC,
    "lsi_sas": ControllerType.LSILOGIC_SAS,
    "buslogic": ControllerType.BUSLOGIC,
    "storahci": ControllerType.SATA,
    "stornvme": ControllerType.NVME,
    "vioscsi": ControllerType.VIRTIO_SCSI,
    "viostor": ControllerType.VIRTIO_BLK,
}

# PCI vendor:device of the virtual controllers vSphere offers; the same ids on Linux and Windows.
PCI_CONTROLLERS: dict[tuple[int, int], ControllerType] = {
    (0x15AD, 0x07C0): ControllerType.PVSCSI,
    (0x1000, 0x0030): ControllerType.LSILOGIC,
    (0x1000, 0x0054): ControllerType.LSILOGIC_SAS,
    (0x104B, 0x1040): ControllerType.BUSLOGIC,
    (0x15AD, 0x07F0): ControllerType.NVME,
}


@dataclass(frozen=True, order=True)
class Hctl:
    """SCSI address: host (Windows: port), channel (bus / path id), target, LUN."""

    host: int
    channel: int
    target: int
    lun: int

    def __str__(self) -> str:
        return f"{self.host}:{self.channel}:{self.target}:{self.lun}"


@dataclass(frozen=True)
class Disk:
    """One whole disk as this guest sees it."""

    disk_id: str | None
    """Normalised NAA/EUI id (``naa.6000c29...``), or None when the disk has no unique page-83 id."""
    id_problem: str | None
    """Why ``disk_id`` is None, in words an operator can act on."""
    id_source: str | None
    """Where the id came from: ``udev``, ``vpd_pg83``, ``wwid`` or ``get-disk``."""
    native_id: str | None
    """The id exactly as the platform printed it (udev ID_SERIAL, kernel wwid, Windows UniqueId)."""
    name: str
    """Kernel name (``sdb``) or Windows ``PhysicalDriveN``; a label for humans, never an identity."""
    path: str
    """Where to open the disk now: ``/dev/sdb`` or ``\\\\.\\PhysicalDrive3``."""
    size_bytes: int
    vendor: str
    model: str
    serial: str | None
    controller: ControllerType
    driver: str | None
    """The controller driver as the platform names it (``vmw_pvscsi``, ``pvscsi``, ``virtio_blk``)."""
    controller_key: str | None
    """Disks with the same key share one controller (``host2`` on Linux, ``port2`` on Windows)."""
    hctl: Hctl | None
    vmware: bool
    """A VMware virtual disk (vendor or model says VMware)."""
    needs_enable_uuid: bool = False
    """A VMware disk on a SCSI controller that answered without a page-83 id: the VM lacks disk.EnableUUID."""
    read_only: bool = False
    offline: bool = False
    removable: bool = False
    roles: frozenset[DiskRole] = field(default_factory=frozenset)
    partitions: tuple[str, ...] = ()
    holders: tuple[str, ...] = ()
    """Devices stacked on the disk or its partitions (dm-0, md0): LVM, multipath, RAID."""
    mountpoints: tuple[str, ...] = ()
    """Mount points (and ``[swap]``) of the disk or its partitions."""
    partition_style: str | None = None
    """Windows: RAW, MBR, GPT or UNKNOWN. Linux: None (partitions are listed instead)."""

    @property
    def protected(self) -> bool:
        """Holds the OS, the agent or a retention volume: never a replication target."""
        return bool(self.roles)

    @property
    def in_use(self) -> bool:
        return bool(self.mountpoints or self.holders)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape documented in ``agent.cli._disks``."""
        return {
            "id": self.disk_id,
            "id_problem": self.id_problem,
            "id_source": self.id_source,
            "native_id": self.native_id,
            "name": self.name,
            "path": self.path,
            "size_bytes": self.size_bytes,
            "vendor": self.vendor,
            "model": self.model,
            "serial": self.serial,
            "controller": self.controller.value,
            "driver": self.driver,
            "controller_key": self.controller_key,
            "hctl": None
            if self.hctl is None
            else {
                "host": self.hctl.host,
                "channel": self.hctl.channel,
                "target": self.hctl.target,
                "lun": self.hctl.lun,
            },
            "vmware": self.vmware,
            "needs_enable_uuid": self.needs_enable_uuid,
            "read_only": self.read_only,
            "offline": self.offline,
            "removable": self.removable,
            "roles": sorted(role.value for role in self.roles),
            "partitions": list(self.partitions),
            "holders": list(self.holders),
            "mountpoints": list(self.mountpoints),
            "partition_style": self.partition_style,
        }


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort ``sdb`` < ``sdz`` < ``sdaa`` and ``loop2`` < ``loop10``, as humans expect."""
    parts: list[tuple[int, int | str]] = [(0, len(name))]
    for chunk in re.findall(r"\d+|\D+", name):
        parts.append((1, int(chunk)) if chunk.isdigit() else (2, chunk))
    return tuple(parts)


def is_vmware(vendor: str, model: str) -> bool:
    return "vmware" in vendor.lower() or "vmware" in model.lower()
