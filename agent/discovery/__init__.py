"""SCSI disk discovery for the master target: which guest disk is which VMDK, reliably, every time.

VMware shows a VMDK's UUID to the guest as the SCSI page-83 NAA id when the VM has ``disk.EnableUUID = TRUE``.
This package finds disks (Linux: udev, sysfs fallback; Windows: PowerShell/WMI), normalises every spelling of that
id in one function (:func:`normalize_disk_id`), and refuses instead of guessing: no id, two devices with one id, or
an absent id are errors that say what to fix.

Public API (the contract the gRPC servicers expose)::

    discovery = open_discovery(agent_dir=..., retention_paths=[...])   # platform-appropriate DiskDiscovery
    discovery.list_disks() -> Inventory          # .disks, .problems(), .counts(), .capacity(), .find(id)
    discovery.resolve(disk_id) -> Disk           # exactly one disk, or DuplicateDiskId / EnableUUIDMissing / ...
    discovery.rescan(expected_ids) -> Inventory  # rescan under the host lock, wait (Policy) for the ids
    discovery.prepare(disk_id) -> Disk           # ready for raw writes, or DiskRefused
    discovery.release(disk_id) -> Disk           # flush (Linux) / offline + read-only (Windows)
    discovery.remove_for_detach(disk_id) -> Disk # flush and device/delete before the VMDK is detached
    discovery.capacity() -> AttachCapacity       # SCSI controllers and slots left under 4 x 15 = 60

This package never imports gRPC or protobuf, never stores ``/dev/sdX`` or disk numbers as identity, and writes to
the system only in rescan, prepare, release and remove_for_detach.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from agent.discovery._base import (
    DEFAULT_LOCK_POLICY,
    DEFAULT_REMOVAL_POLICY,
    DEFAULT_RESCAN_POLICY,
    DiskDiscovery,
)
from agent.discovery._inventory import AttachCapacity, ControllerUsage, DiskCounts, Inventory
from agent.discovery._linux import DEFAULT_OS_PATHS, LinuxDiscovery
from agent.discovery._model import (
    DISKS_PER_CONTROLLER,
    MAX_ATTACHED_DISKS,
    MAX_SCSI_CONTROLLERS,
    ControllerType,
    Disk,
    DiskRole,
    Hctl,
)
from agent.discovery._mounts import Mount, MountTable, proc_mounts, psutil_mounts
from agent.discovery._runner import CommandResult, CommandRunner, SubprocessRunner, powershell_argv
from agent.discovery._sysfs import SysfsReader
from agent.discovery._udev import PyudevSource, StaticUdevSource, UdevDisk, UdevSource
from agent.discovery._vpd import Designator, lu_identifier, parse_vpd_pg80, parse_vpd_pg83
from agent.discovery._windows import WindowsDiscovery, parse_disks
from agent.discovery.errors import DiscoveryError, SourceError
from failback.diskid import normalize_disk_id

__all__ = [
    "DEFAULT_LOCK_POLICY",
    "DEFAULT_OS_PATHS",
    "DEFAULT_REMOVAL_POLICY",
    "DEFAULT_RESCAN_POLICY",
    "DISKS_PER_CONTROLLER",
    "MAX_ATTACHED_DISKS",
    "MAX_SCSI_CONTROLLERS",
    "AttachCapacity",
    "CommandResult",
    "CommandRunner",
    "ControllerType",
    "ControllerUsage",
    "Designator",
    "DiscoveryError",
    "Disk",
    "DiskCounts",
    "DiskDiscovery",
    "DiskRole",
    "Hctl",
    "Inventory",
    "LinuxDiscovery",
    "Mount",
    "MountTable",
    "PyudevSource",
    "StaticUdevSource",
    "SubprocessRunner",
    "SysfsReader",
    "UdevDisk",
    "UdevSource",
    "WindowsDiscovery",
    "lu_identifier",
    "normalize_disk_id",
    "open_discovery",
    "parse_disks",
    "parse_vpd_pg80",
    "parse_vpd_pg83",
    "powershell_argv",
    "proc_mounts",
    "psutil_mounts",
]


def open_discovery(
    *,
    agent_dir: str | None = None,
    retention_paths: Sequence[str] = (),
    sysfs_root: Path | str | None = None,
    dev_root: Path | str | None = None,
) -> DiskDiscovery:
    """The discovery for this host.

    Windows: PowerShell through a subprocess runner. Linux: udev (pyudev) when the live system is examined and
    libudev loads, sysfs otherwise; ``sysfs_root`` points at another tree (a test tree, or a mounted image) and
    then uses sysfs only, since the live udev database describes a different machine. ``dev_root`` is where that
    tree's device nodes are (default ``<sysfs_root>/dev`` for opening, ``/dev/<name>`` as the reported path); disks'
    paths then name the nodes there.
    """
    if sys.platform == "win32":
        if sysfs_root is not None or dev_root is not None:
            raise SourceError("a sysfs root and a device root apply to Linux only")
        return WindowsDiscovery(SubprocessRunner(), agent_dir=agent_dir, retention_paths=retention_paths)
    root = Path(sysfs_root) if sysfs_root is not None else Path("/")
    udev: UdevSource | None = None
    if dev_root is not None and root == Path("/"):
        raise SourceError("a device root needs a sysfs root: the live /sys describes the live /dev")
    if root == Path("/"):
        try:
            udev = PyudevSource()
        except SourceError:
            udev = None
    return LinuxDiscovery(
        sysfs_root=root, dev_root=dev_root, udev=udev, agent_dir=agent_dir, retention_paths=retention_paths
    )
