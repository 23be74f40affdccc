"""Reads whole disks and their SCSI identity straight from sysfs, under an injectable root.

This is the fallback when there is no udev database (containers, early boot, minimal hosts) and the source of
hardware facts (size, read-only, HCTL, controller, partitions, holders) in every case. Layout relied on (all under
``<root>/sys``)::

    block/<disk> -> ../devices/.../block/<disk>         one entry per whole disk
    <disk>/size                                         512-byte sectors, whatever the logical block size
    <disk>/ro, removable, holders/, <partition>/partition, loop/backing_file
    <disk>/device -> .../<H:C:T:L>                       SCSI disks: the scsi_device
    <disk>/device/{vendor,model,wwid,vpd_pg83,vpd_pg80,delete}
    class/scsi_host/host<H>/{proc_name,scan}             the controller driver, and where to ask for a rescan
    class/block/<name>                                   disks and partitions; dm-*/dm/name, */slaves/

Tests build small trees with this layout on disk; nothing here patches ``open``.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

from agent.discovery._model import (
    PCI_CONTROLLERS,
    SCSI_HOST_DRIVERS,
    ControllerType,
    Hctl,
    is_vmware,
)
from agent.discovery._vpd import lu_identifier, parse_vpd_pg80, parse_vpd_pg83
from agent.discovery.errors import SourceError
from failback.diskid import InvalidDiskId, normalize_disk_id

__all__ = ["Identity", "SysDisk", "SysfsReader"]

_HCTL = re.compile(r"^(\d+):(\d+):(\d+):(\d+)$")
_SECTOR = 512
# A sysfs attribute that the kernel refuses to produce (wwid of a disk without page 83, a vanished device) reads
# as one of these; that is "absent", not a failure of the reader.
_ABSENT = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EINVAL, errno.EIO})


@dataclass(frozen=True)
class Identity:
    disk_id: str | None
    problem: str | None
    source: str | None
    native: str | None
    unreadable: bool = False
    """The id source was there but malformed: a fault to report, not a missing disk.EnableUUID."""


@dataclass(frozen=True)
class SysDisk:
    """The facts sysfs holds about one whole disk."""

    name: str
    devpath: str
    """Path below ``<root>/sys`` (``devices/.../block/sdb``), as udev's DEVPATH without the leading slash."""
    size_bytes: int
    read_only: bool
    removable: bool
    vendor: str
    model: str
    serial: str | None
    controller: ControllerType
    driver: str | None
    controller_key: str | None
    hctl: Hctl | None
    partitions: tuple[str, ...]
    holders: tuple[str, ...]
    identity: Identity
    delete_path: Path | None
    """``device/delete`` of a SCSI disk: writing 1 removes it from the guest."""

    @property
    def vmware(self) -> bool:
        return is_vmware(self.vendor, self.model)


class SysfsReader:
    """Reads ``<root>/sys``; ``root`` is ``/`` on a live system and a temporary directory in tests."""

    def __init__(self, root: Path | str = "/") -> None:
        self.root = Path(root)
        self.sys = self.root / "sys"

    # Enumeration --------------------------------------------------------------------------------------------------

    def disk_devpaths(self) -> list[str]:
        """DEVPATHs (without the leading slash) of every whole disk in ``/sys/block``."""
        block = self.sys / "block"
        try:
            entries = sorted(block.iterdir())
        except OSError as exc:
            raise SourceError(f"cannot list {block}: {exc}", remedy="is sysfs mounted at <root>/sys?") from exc
        return [os.path.relpath(os.path.realpath(entry), os.path.realpath(self.sys)) for entry in entries]

    def scsi_host_scan_files(self) -> list[Path]:
        hosts = self.sys / "class" / "scsi_host"
        if not hosts.is_dir():
            return []
        return sorted(path for path in hosts.glob("host*/scan"))

    def exists(self, devpath: str) -> bool:
        return (self.sys / devpath).is_dir()

    # One disk ---------------------------------------------------------------------------------------------------------

    def read(self, devpath: str) -> SysDisk | None:
        """Everything about one disk, or None when it vanished while we looked (hot removal)."""
        sysdir = self.sys / devpath.lstrip("/")
        name = sysdir.name
        size = _read_text(sysdir / "size")
        if size is None:
            return None
        try:
            size_bytes = int(size) * _SECTOR
        except ValueError as exc:
            raise SourceError(f"{sysdir / 'size'} holds {size!r}, not a sector count") from exc

        device = sysdir / "device"
        hctl = _parse_hctl(device)
        partitions = tuple(sorted(p.name for p in _children(sysdir) if (p / "partition").is_file()))
        holders = set(_names(sysdir / "holders"))
        for part in partitions:
            holders.update(_names(sysdir / part / "holders"))

        vendor = model = ""
        serial: str | None = None
        driver: str | None
        key: str | None
        delete_path: Path | None = None
        if name.startswith("loop"):
            controller, driver, key = ControllerType.LOOP, "loop", None
        elif hctl is not None:
            vendor = _read_text(device / "vendor") or ""
            model = _read_text(device / "model") or ""
            serial = self._scsi_serial(device)
            driver = _read_text(self.sys / "class" / "scsi_host" / f"host{hctl.host}" / "proc_name")
            controller = self._scsi_controller(hctl.host, driver)
            key = f"host{hctl.host}"
            delete_path = device / "delete"
        elif name.startswith("nvme"):
            model = _read_text(device / "model") or ""
            serial = _read_text(device / "serial")
            controller, driver = ControllerType.NVME, "nvme"
            key = Path(os.path.realpath(device)).name if device.exists() else None
        else:
            vendor = _read_text(device / "vendor") or ""
            driver = _link_name(device / "driver")
            controller = ControllerType.VIRTIO_BLK if driver == "virtio_blk" else ControllerType.OTHER
            key = Path(os.path.realpath(device)).name if device.exists() else None
            serial = _read_text(sysdir / "serial")

        disk_identity = self.identity(sysdir, hctl is not None)
        if disk_identity.disk_id is None and controller is ControllerType.LOOP:
            backing = _read_text(sysdir / "loop" / "backing_file")
            problem = f"loop device backed by {backing or 'nothing'}; it has no SCSI id"
            disk_identity = Identity(None, problem, None, None)

        return SysDisk(
            name=name,
            devpath=devpath.lstrip("/"),
            size_bytes=size_bytes,
            read_only=_read_text(sysdir / "ro") == "1",
            removable=_read_text(sysdir / "removable") == "1",
            vendor=vendor,
            model=model,
            serial=serial or None,
            controller=controller,
            driver=driver,
            controller_key=key,
            hctl=hctl,
            partitions=partitions,
            holders=tuple(sorted(holders)),
            identity=disk_identity,
            delete_path=delete_path,
        )

    def identity(self, sysdir: Path, scsi: bool) -> Identity:
        """The disk's id from page 0x83 (preferred) or the kernel's ``wwid``; else why there is none."""
        problem = None
        unreadable = False
        device = sysdir / "device"
        page = _read_bytes(device / "vpd_pg83") if scsi else None
        if page is not None:
            try:
                designator = lu_identifier(parse_vpd_pg83(page, source=str(device / "vpd_pg83")))
            except SourceError as exc:
                designator, problem, unreadable = None, str(exc), True
            if designator is not None:
                try:
                    return Identity(normalize_disk_id(designator.text()), None, "vpd_pg83", designator.text())
                except InvalidDiskId as exc:
                    problem, unreadable = str(exc), True
            elif problem is None:
                problem = "SCSI page 0x83 has no NAA or EUI-64 designator for the logical unit"

        wwid = _read_text(device / "wwid") if scsi else _read_text(sysdir / "wwid")
        if wwid:
            if wwid.lower().startswith(("naa.", "eui.")):
                try:
                    return Identity(normalize_disk_id(wwid), None, "wwid", wwid)
                except InvalidDiskId as exc:
                    problem, unreadable = str(exc), True
            else:
                problem = problem or f"the kernel's wwid {wwid!r} is not an NAA or EUI-64 id"
        if problem is None:
            problem = "no SCSI page 0x83 identifier" if scsi else "not a SCSI disk; it has no page 0x83 identifier"
        return Identity(None, problem, None, wwid, unreadable)

    # Relations between block devices ----------------------------------------------------------------------------------

    def block_name(self, device: str) -> str | None:
        """The kernel name (``sdb1``, ``dm-0``) of a device node path such as ``/dev/sdb1`` or ``/dev/mapper/vg-lv``."""
        if self.root == Path("/"):
            device = os.path.realpath(device)
        name = Path(device).name
        if (self.sys / "class" / "block" / name).exists():
            return name
        if device.startswith("/dev/mapper/"):
            for dm_name in (self.sys / "class" / "block").glob("dm-*/dm/name"):
                if _read_text(dm_name) == name:
                    return dm_name.parent.parent.name
        return None

    def whole_disks(self, name: str, _seen: frozenset[str] = frozenset()) -> set[str]:
        """The whole disks under a block device: itself, its parent (a partition), or its slaves (dm, md)."""
        entry = self.sys / "class" / "block" / name
        if name in _seen or not entry.exists():
            return set()
        if (entry / "partition").is_file():
            return {Path(os.path.realpath(entry)).parent.name}
        slaves = _names(entry / "slaves")
        if slaves:
            found: set[str] = set()
            for slave in slaves:
                found |= self.whole_disks(slave, _seen | {name})
            return found
        return {name}

    # Helpers ----------------------------------------------------------------------------------------------------------

    def _scsi_serial(self, device: Path) -> str | None:
        page = _read_bytes(device / "vpd_pg80")
        if page is None:
            return None
        try:
            return parse_vpd_pg80(page, source=str(device / "vpd_pg80")) or None
        except SourceError:
            return None

    def _scsi_controller(self, host: int, driver: str | None) -> ControllerType:
        if driver in SCSI_HOST_DRIVERS:
            return SCSI_HOST_DRIVERS[driver]
        # Unknown driver name: the PCI function the host hangs off still says what the virtual hardware is.
        host_device = self.sys / "class" / "scsi_host" / f"host{host}" / "device"
        if host_device.exists():
            pci = Path(os.path.realpath(host_device)).parent
            vendor, dev = _read_text(pci / "vendor"), _read_text(pci / "device")
            if vendor and dev:
                try:
                    return PCI_CONTROLLERS.get((int(vendor, 16), int(dev, 16)), ControllerType.OTHER)
                except ValueError:
                    return ControllerType.OTHER
        return ControllerType.OTHER


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError as exc:
        if exc.errno in _ABSENT or isinstance(exc, IsADirectoryError):
            return None
        raise SourceError(f"cannot read {path}: {exc}") from exc


def _read_text(path: Path) -> str | None:
    data = _read_bytes(path)
    return None if data is None else data.decode("utf-8", "replace").strip()


def _children(directory: Path) -> list[Path]:
    try:
        return [child for child in directory.iterdir() if child.is_dir() and not child.is_symlink()]
    except OSError:
        return []


def _names(directory: Path) -> list[str]:
    try:
        return sorted(child.name for child in directory.iterdir())
    except OSError:
        return []


def _link_name(link: Path) -> str | None:
    return Path(os.path.realpath(link)).name if link.exists() else None


def _parse_hctl(device: Path) -> Hctl | None:
    if not device.exists():
        return None
    match = _HCTL.match(Path(os.path.realpath(device)).name)
    if match is None:
        return None
    host, channel, target, lun = (int(group) for group in match.groups())
    return Hctl(host, channel, target, lun)
