"""Disk discovery on a Linux master target.

Enumeration comes from udev when a :class:`UdevSource` is given (the live database through pyudev), else from
``<root>/sys/block``. Ids come from the udev database when udev has initialised the device, else from sysfs
(``vpd_pg83``, then ``wwid``). Mounts come from psutil (a mount file under the root for fake trees); they decide which
disks hold the OS, the agent's install and retention volumes.

Only whole disks with a medium are listed: partitions, empty loop devices (size 0) and stacked devices (dm, md) are
not attachable VMDKs. This module writes to sysfs only in :meth:`LinuxDiscovery.rescan` (``scsi_host/*/scan``) and
:meth:`LinuxDiscovery.remove_for_detach` (``device/delete``), both under the host lock.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.discovery._base import (
    DEFAULT_LOCK_POLICY,
    DEFAULT_REMOVAL_POLICY,
    DEFAULT_RESCAN_POLICY,
    DiskDiscovery,
)
from agent.discovery._inventory import Inventory
from agent.discovery._lock import host_lock
from agent.discovery._model import Disk, DiskRole
from agent.discovery._mounts import Mount, MountTable, proc_mounts, psutil_mounts, read_swaps
from agent.discovery._sysfs import Identity, SysDisk, SysfsReader
from agent.discovery._udev import UdevDisk, UdevSource, udev_identity
from agent.discovery.errors import DiskInUse, DiskRefused, SourceError
from failback.retry import Policy

__all__ = ["DEFAULT_OS_PATHS", "LinuxDiscovery"]

DEFAULT_OS_PATHS: tuple[str, ...] = ("/", "/boot", "/boot/efi", "/usr", "/var")
"""Where the operating system lives; a disk holding any of them is the OS disk."""

_BLKFLSBUF = 0x1261  # <linux/fs.h> _IO(0x12, 97): write back and drop the block device's buffer cache


@dataclass(frozen=True)
class _Scanned:
    disk: Disk
    sys: SysDisk


class LinuxDiscovery(DiskDiscovery):
    """Discovery over ``<sysfs_root>/sys`` (and udev, when given)."""

    platform = "linux"

    def __init__(
        self,
        *,
        sysfs_root: Path | str = "/",
        dev_root: Path | str | None = None,
        udev: UdevSource | None = None,
        mounts: MountTable | None = None,
        agent_dir: str | None = None,
        retention_paths: Sequence[str] = (),
        os_paths: Sequence[str] = DEFAULT_OS_PATHS,
        lock_path: Path | None = None,
        rescan_policy: Policy = DEFAULT_RESCAN_POLICY,
        lock_policy: Policy = DEFAULT_LOCK_POLICY,
        removal_policy: Policy = DEFAULT_REMOVAL_POLICY,
    ) -> None:
        self.root = Path(sysfs_root)
        live = self.root == Path("/")
        super().__init__(
            lock_path=lock_path or self.root / "run" / "failback" / "discovery.lock",
            rescan_policy=rescan_policy,
            lock_policy=lock_policy,
            removal_policy=removal_policy,
        )
        self._sysfs = SysfsReader(self.root)
        self._udev = udev
        # The live mount table says nothing about a fake tree's devices; a fake tree brings its own mount file.
        self._mounts = mounts or (psutil_mounts if live else proc_mounts(self.root / "proc" / "self" / "mounts"))
        self._live = live
        # Where device nodes are: /dev on a live system. A fake tree's nodes are <root>/dev unless ``dev_root``
        # says otherwise; with ``dev_root`` the disks' paths name the real nodes (or files) there, so the data plane
        # opens what discovery reports.
        self._dev_root = Path(dev_root) if dev_root is not None else None
        self._roles_paths: list[tuple[DiskRole, str]] = [(DiskRole.OS, path) for path in os_paths]
        if agent_dir:
            self._roles_paths.append((DiskRole.AGENT, agent_dir))
        self._roles_paths.extend((DiskRole.RETENTION, path) for path in retention_paths)

    # Listing ------------------------------------------------------------------------------------------------------

    def list_disks(self) -> Inventory:
        return self._inventory(self._scan())

    def _inventory(self, scanned: list[_Scanned]) -> Inventory:
        return Inventory.build(
            (entry.disk for entry in scanned),
            platform=self.platform,
            source="udev" if self._udev is not None else "sysfs",
        )

    def _scan(self) -> list[_Scanned]:
        if self._udev is not None:
            entries: list[tuple[str, UdevDisk | None]] = [(ud.devpath, ud) for ud in self._udev.disks()]
        else:
            entries = [(devpath, None) for devpath in self._sysfs.disk_devpaths()]
        mounts = self._mounts()
        mountpoints = self._mountpoints(mounts)
        roles = self._roles(mounts)
        scanned = []
        for devpath, udev_disk in entries:
            sys_disk = self._sysfs.read(devpath)
            if sys_disk is None or sys_disk.size_bytes == 0 or _stacked(sys_disk):
                continue
            disk = self._record(sys_disk, udev_disk, mountpoints, roles)
            scanned.append(_Scanned(disk, sys_disk))
        return scanned

    def _record(
        self,
        sys_disk: SysDisk,
        udev_disk: UdevDisk | None,
        mountpoints: dict[str, list[str]],
        roles: dict[str, set[DiskRole]],
    ) -> Disk:
        identity = _merge(sys_disk.identity, udev_disk)
        problem = identity.problem
        needs_enable_uuid = (
            identity.disk_id is None
            and not identity.unreadable
            and sys_disk.vmware
            and sys_disk.controller.is_vsphere_scsi
        )
        if needs_enable_uuid:
            problem = f"no SCSI page-83 id: the master target VM needs disk.EnableUUID = TRUE ({problem})"
        if self._dev_root is not None:
            node = str(self._dev_root / sys_disk.name)
        elif udev_disk is not None and udev_disk.device_node:
            node = udev_disk.device_node
        else:
            node = f"/dev/{sys_disk.name}"
        return Disk(
            disk_id=identity.disk_id,
            id_problem=None if identity.disk_id else problem,
            id_source=identity.source,
            native_id=identity.native,
            name=sys_disk.name,
            path=node,
            size_bytes=sys_disk.size_bytes,
            vendor=sys_disk.vendor,
            model=sys_disk.model,
            serial=sys_disk.serial,
            controller=sys_disk.controller,
            driver=sys_disk.driver,
            controller_key=sys_disk.controller_key,
            hctl=sys_disk.hctl,
            vmware=sys_disk.vmware,
            needs_enable_uuid=needs_enable_uuid,
            read_only=sys_disk.read_only,
            removable=sys_disk.removable,
            roles=frozenset(roles.get(sys_disk.name, ())),
            partitions=sys_disk.partitions,
            holders=sys_disk.holders,
            mountpoints=tuple(mountpoints.get(sys_disk.name, ())),
        )

    def _mountpoints(self, mounts: list[Mount]) -> dict[str, list[str]]:
        used: dict[str, list[str]] = defaultdict(list)
        users = [(mount.device, mount.mountpoint) for mount in mounts]
        users += [(device, "[swap]") for device in read_swaps(self.root / "proc" / "swaps")]
        for device, mountpoint in users:
            name = self._sysfs.block_name(device) if device.startswith("/dev/") else None
            for disk in self._sysfs.whole_disks(name) if name else ():
                if mountpoint not in used[disk]:
                    used[disk].append(mountpoint)
        return used

    def _roles(self, mounts: list[Mount]) -> dict[str, set[DiskRole]]:
        roles: dict[str, set[DiskRole]] = defaultdict(set)
        for role, path in self._roles_paths:
            mount = _mount_holding(os.path.realpath(path) if self._live else path, mounts)
            if mount is None or not mount.device.startswith("/dev/"):
                continue
            name = self._sysfs.block_name(mount.device)
            for disk in self._sysfs.whole_disks(name) if name else ():
                roles[disk].add(role)
        return roles

    # Rescan, prepare, release, remove -----------------------------------------------------------------------------

    def _trigger_rescan(self) -> None:
        for scan in self._sysfs.scsi_host_scan_files():
            try:
                # "- - -": every channel, target and LUN of the host.
                scan.write_text("- - -")
            except OSError as exc:
                raise SourceError(f"cannot request a SCSI rescan through {scan}: {exc}") from exc

    def prepare(self, disk_id: str) -> Disk:
        disk = self.resolve(disk_id)
        self._check_target(disk)
        fd = self._open_exclusive(disk)
        os.close(fd)
        return disk

    def release(self, disk_id: str) -> Disk:
        disk = self.resolve(disk_id)
        self._flush(disk)
        return disk

    def remove_for_detach(self, disk_id: str) -> Disk:
        with host_lock(self.lock_path, self.lock_policy):
            scanned = self._scan()
            disk = self._inventory(scanned).find(disk_id)
            sys_disk = next(s.sys for s in scanned if s.disk.name == disk.name)
            self._check_target(disk)
            if sys_disk.delete_path is None:
                raise DiskRefused(f"{disk.path} is not a SCSI device; there is no device/delete to remove it with")
            self._flush(disk)
            try:
                sys_disk.delete_path.write_text("1")
            except OSError as exc:
                raise SourceError(f"cannot remove {disk.path} through {sys_disk.delete_path}: {exc}") from exc
            self.removal_policy.wait_for(
                lambda: True if not self._sysfs.exists(sys_disk.devpath) else None,
                what=f"{disk.path} to disappear after device/delete",
            )
        return disk

    def _node(self, disk: Disk) -> Path:
        if self._dev_root is not None or self._live:
            return Path(disk.path)
        return self.root / "dev" / disk.name

    def _open_exclusive(self, disk: Disk) -> int:
        """Open the device with O_EXCL: on a block device this fails with EBUSY while anything else claims it
        (a mount, swap, dm/md/LVM, or another exclusive opener)."""
        node = self._node(disk)
        try:
            return os.open(node, os.O_RDONLY | os.O_EXCL | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise DiskInUse(
                    f"{disk.path} ({disk.disk_id}) is claimed by another user (mount, swap, device-mapper, MD or an "
                    "exclusive open)",
                    remedy="find the user with `lsof` or `ls /sys/class/block/<disk>/holders` and stop it",
                ) from exc
            raise SourceError(f"cannot open {node}: {exc}") from exc

    def _flush(self, disk: Disk) -> None:
        """Write back everything the guest has buffered for the disk, and drop its buffer cache."""
        fd = self._open_exclusive(disk)
        try:
            os.fsync(fd)
            if stat.S_ISBLK(os.fstat(fd).st_mode):
                import fcntl

                fcntl.ioctl(fd, _BLKFLSBUF)
        except OSError as exc:
            raise SourceError(f"cannot flush {disk.path}: {exc}") from exc
        finally:
            os.close(fd)


def _merge(from_sysfs: Identity, udev_disk: UdevDisk | None) -> Identity:
    """udev's id when it has one; sysfs's otherwise. When both have one and they differ, the udev database is stale
    (a disk replaced under the same name before udev processed the event): no id, rather than a guess."""
    if udev_disk is None or not udev_disk.initialized:
        return from_sysfs
    from_udev = udev_identity(udev_disk.properties)
    if from_udev is None or (from_udev.disk_id is None and from_sysfs.disk_id is not None):
        return from_sysfs
    if from_udev.disk_id and from_sysfs.disk_id and from_udev.disk_id != from_sysfs.disk_id:
        return Identity(
            None,
            f"udev's database says {from_udev.disk_id} but the device answers {from_sysfs.disk_id}; the database is "
            "stale: run `udevadm settle` or `udevadm trigger` and rescan",
            None,
            from_udev.native,
            unreadable=True,
        )
    return from_udev


def _stacked(sys_disk: SysDisk) -> bool:
    return sys_disk.name.startswith(("dm-", "md"))


def _mount_holding(path: str, mounts: list[Mount]) -> Mount | None:
    """The mount whose mount point is the longest prefix of ``path``."""
    best: Mount | None = None
    for mount in mounts:
        point = mount.mountpoint.rstrip("/") or "/"
        if (path == point or path.startswith(point.rstrip("/") + "/")) and (
            best is None or len(point) > len(best.mountpoint.rstrip("/") or "/")
        ):
            best = mount
    return best
