"""The Linux guest's view of its SCSI disks, written as files: the sysfs tree, device nodes and mount table that the
master-target agent's discovery reads (``[discovery] sysfs_root`` and ``dev_root``).

Layout written under ``root`` (the subset of the kernel's layout that ``agent.discovery`` reads)::

    sys/devices/pci0000:00/0000:00:1<bus>.0/host<bus>/scsi_host/host<bus>/{proc_name,scan}
    sys/devices/.../host<bus>/target<bus>:0:<unit>/<bus>:0:<unit>:0/{vendor,model,vpd_pg83,vpd_pg80,delete}
    sys/devices/.../<bus>:0:<unit>:0/block/<sdX>/{size,ro,removable,holders/,slaves/,device ->}
    sys/block/<sdX> -> ../devices/.../block/<sdX>        written last when a disk appears, removed first when it goes
    sys/class/block/<sdX>, sys/class/scsi_host/host<bus>
    dev/<sdX> -> the VMDK's extent file                   what the agent opens (dev_root = root/dev)
    proc/self/mounts                                      the OS disk's first partition is mounted on /

The guest's requests to the "kernel" are writes to files, as on Linux: ``scan`` (rescan a SCSI host) and a device's
``delete`` (remove it). :meth:`GuestSysfs.take_requests` reads and clears them; the hypervisor shim acts on them.
Nothing here talks to vSphere; this module only writes below ``root``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DRIVERS", "GuestRequests", "GuestSysfs", "vmware_page83"]

# vSphere controller kinds -> the Linux driver that claims them (scsi_host/proc_name).
DRIVERS = {"pvscsi": "vmw_pvscsi", "lsilogic": "mptspi", "lsilogic-sas": "mptsas", "buslogic": "BusLogic"}
_SECTOR = 512


def vmware_page83(uuid: str) -> bytes:
    """SCSI VPD page 0x83 as a VMware virtual disk answers it with disk.EnableUUID = TRUE: a T10 vendor id, the
    logical unit's NAA-6 designator (the VMDK's backing UUID) and a relative target port."""
    naa = bytes.fromhex(uuid.replace("-", ""))
    if len(naa) != 16:
        raise ValueError(f"{uuid!r} is not a 128-bit VMDK UUID")
    vendor = b"VMware  Virtual disk    "
    descriptors = (
        bytes([0x02, 0x01, 0, len(vendor)]) + vendor  # ASCII, LU, T10 vendor id
        + bytes([0x01, 0x03, 0, 16]) + naa  # binary, LU, NAA
        + bytes([0x01, 0x14, 0, 4]) + (1).to_bytes(4, "big")  # binary, target port, relative port 1
    )  # fmt: skip
    return bytes([0x00, 0x83]) + len(descriptors).to_bytes(2, "big") + descriptors


def _page80(serial: str) -> bytes:
    data = serial.encode("ascii")
    return bytes([0x00, 0x80]) + len(data).to_bytes(2, "big") + data


@dataclass(frozen=True)
class GuestRequests:
    """What the guest asked since the last look: hosts to rescan, devices to delete."""

    scans: frozenset[int]
    deletes: frozenset[str]


class GuestSysfs:
    """Writes the guest's disks under ``root``. One writer (the shim); readers (the agent) see whole disks only."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sys = root / "sys"
        self.dev = root / "dev"
        for sub in ("block", "class/block", "class/scsi_host", "devices/pci0000:00"):
            (self.sys / sub).mkdir(parents=True, exist_ok=True)
        self.dev.mkdir(exist_ok=True)
        (root / "proc" / "self").mkdir(parents=True, exist_ok=True)
        mounts = root / "proc" / "self" / "mounts"
        if not mounts.exists():
            mounts.write_text("")

    # -- controllers -------------------------------------------------------------------------------------------

    def _host_dir(self, bus: int) -> Path:
        return self.sys / "devices" / "pci0000:00" / f"0000:00:1{bus}.0" / f"host{bus}"

    def hosts(self) -> dict[int, str]:
        """SCSI hosts present: bus number -> driver."""
        found = {}
        for link in (self.sys / "class" / "scsi_host").glob("host*"):
            found[int(link.name[4:])] = (link / "proc_name").read_text().strip()
        return found

    def add_host(self, bus: int, kind: str) -> None:
        driver = DRIVERS.get(kind, kind)
        host = self._host_dir(bus)
        cls = host / "scsi_host" / f"host{bus}"
        cls.mkdir(parents=True, exist_ok=True)
        (cls / "proc_name").write_text(driver + "\n")
        (cls / "scan").write_text("")
        _relink(cls / "device", host)
        _relink(self.sys / "class" / "scsi_host" / f"host{bus}", cls)

    def remove_host(self, bus: int) -> None:
        (self.sys / "class" / "scsi_host" / f"host{bus}").unlink(missing_ok=True)
        shutil.rmtree(self._host_dir(bus), ignore_errors=True)

    # -- disks -------------------------------------------------------------------------------------------------

    def disks(self) -> dict[str, tuple[int, int, int, int]]:
        """Disks present: name -> H:C:T:L."""
        found = {}
        for link in (self.sys / "block").iterdir():
            address = Path(os.path.realpath(link / "device")).name
            host, channel, target, lun = (int(part) for part in address.split(":"))
            found[link.name] = (host, channel, target, lun)
        return found

    def free_name(self) -> str:
        """The lowest unused sdX name, as the kernel's sd driver hands them out."""
        used = {link.name for link in (self.sys / "block").iterdir()}
        index = 0
        while True:
            name = _sd_name(index)
            if name not in used:
                return name
            index += 1

    def add_disk(self, name: str, bus: int, unit: int, *, uuid: str, size_bytes: int, backing: Path) -> None:
        """A disk at bus:0:unit:0 whose page 0x83 carries ``uuid`` and whose node is a symlink to ``backing``."""
        address = f"{bus}:0:{unit}:0"
        sdev = self._host_dir(bus) / f"target{bus}:0:{unit}" / address
        sdev.mkdir(parents=True, exist_ok=True)
        (sdev / "vendor").write_text("VMware  \n")
        (sdev / "model").write_text("Virtual disk    \n")
        (sdev / "vpd_pg83").write_bytes(vmware_page83(uuid))
        (sdev / "vpd_pg80").write_bytes(_page80(uuid.replace("-", "").lower()))
        (sdev / "delete").write_text("")
        block = sdev / "block" / name
        block.mkdir(parents=True, exist_ok=True)
        (block / "size").write_text(f"{size_bytes // _SECTOR}\n")
        (block / "ro").write_text("0\n")
        (block / "removable").write_text("0\n")
        (block / "holders").mkdir(exist_ok=True)
        (block / "slaves").mkdir(exist_ok=True)
        _relink(block / "device", sdev)
        _relink(self.dev / name, backing, relative=False)
        _relink(self.sys / "class" / "block" / name, block)
        # Last: discovery enumerates sys/block, so it never sees a half-written disk.
        _relink(self.sys / "block" / name, block)

    def add_partition(self, disk: str, number: int, size_bytes: int) -> str:
        block = Path(os.path.realpath(self.sys / "block" / disk))
        name = f"{disk}{number}"
        part = block / name
        part.mkdir(exist_ok=True)
        (part / "partition").write_text(f"{number}\n")
        (part / "size").write_text(f"{size_bytes // _SECTOR}\n")
        (part / "holders").mkdir(exist_ok=True)
        _relink(self.sys / "class" / "block" / name, part)
        return name

    def remove_disk(self, name: str) -> None:
        """What the kernel does when a disk goes: sys/block first, then the rest."""
        link = self.sys / "block" / name
        if not link.is_symlink():
            return
        block = Path(os.path.realpath(link))
        sdev = Path(os.path.realpath(block / "device"))
        link.unlink()
        for entry in (self.sys / "class" / "block").glob(f"{name}*"):
            if entry.name == name or entry.name[len(name) :].isdigit():
                entry.unlink()
        (self.dev / name).unlink(missing_ok=True)
        shutil.rmtree(sdev.parent, ignore_errors=True)  # the target<b>:0:<u> directory
        self.set_mounts([line for line in self.mounts() if not line.startswith(f"/dev/{name}")])

    # -- mounts ------------------------------------------------------------------------------------------------

    def mounts(self) -> list[str]:
        return [line for line in (self.root / "proc" / "self" / "mounts").read_text().splitlines() if line]

    def set_mounts(self, lines: list[str]) -> None:
        path = self.root / "proc" / "self" / "mounts"
        tmp = path.with_name("mounts.tmp")
        tmp.write_text("".join(line + "\n" for line in lines))
        tmp.replace(path)

    # -- requests from the guest -------------------------------------------------------------------------------

    def take_requests(self) -> GuestRequests:
        """Read and clear every ``scan`` and ``delete`` the guest wrote. Cleared before the caller acts, so a
        request written while it acts is seen next time rather than lost."""
        scans = set()
        for scan in (self.sys / "class" / "scsi_host").glob("host*/scan"):
            if _take(scan):
                scans.add(int(scan.parent.name[4:]))
        deletes = set()
        for link in (self.sys / "block").iterdir():
            if _take(link / "device" / "delete"):
                deletes.add(link.name)
        return GuestRequests(frozenset(scans), frozenset(deletes))


def _take(path: Path) -> bool:
    try:
        if path.stat().st_size == 0:
            return False
        with path.open("r+") as handle:
            asked = bool(handle.read().strip())
            handle.truncate(0)
    except FileNotFoundError:
        return False
    return asked


def _sd_name(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return "sd" + letters


def _relink(link: Path, target: Path, *, relative: bool = True) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(link.name + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(os.path.relpath(target, link.parent) if relative else target)
    tmp.replace(link)
