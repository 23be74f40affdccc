"""Small sysfs trees on disk, laid out as the kernel lays out /sys, for the sysfs reader and the udev fake.

The page builders here encode SPC-4 page 0x83/0x80 bytes by hand, independently of the parser under test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Designator types and associations (SPC-4 7.8.6).
T10_VENDOR, EUI64, NAA, REL_TARGET_PORT, SCSI_NAME = 0x1, 0x2, 0x3, 0x4, 0x8
LU, TARGET_PORT, TARGET_DEVICE = 0, 1, 2
BINARY, ASCII, UTF8 = 1, 2, 3


def designator(kind: int, value: bytes, *, association: int = LU, code_set: int = BINARY, piv: bool = False) -> bytes:
    return bytes([code_set & 0x0F, (0x80 if piv else 0) | (association << 4) | kind, 0, len(value)]) + value


def naa(hex_id: str, association: int = LU) -> bytes:
    return designator(NAA, bytes.fromhex(hex_id), association=association)


def t10(text: str) -> bytes:
    return designator(T10_VENDOR, text.encode("ascii"), code_set=ASCII)


def rel_port(port: int) -> bytes:
    return designator(REL_TARGET_PORT, port.to_bytes(4, "big"), association=TARGET_PORT)


def pg83(*descriptors: bytes, peripheral: int = 0x00) -> bytes:
    body = b"".join(descriptors)
    return bytes([peripheral, 0x83]) + len(body).to_bytes(2, "big") + body


def pg80(serial: str) -> bytes:
    data = serial.encode("ascii")
    return bytes([0, 0x80]) + len(data).to_bytes(2, "big") + data


def vmware_pg83(hex_id: str) -> bytes:
    """What a VMware virtual disk with disk.EnableUUID = TRUE answers: a T10 vendor id, the LU's NAA, a port."""
    return pg83(t10("VMware  Virtual disk    "), naa(hex_id), rel_port(1))


class FakeSysfs:
    """Builds ``<root>/sys`` (plus ``dev``, ``proc``) with real directories, files and relative symlinks."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sys = root / "sys"
        for sub in ("block", "class/block", "class/scsi_host", "devices/virtual/block"):
            (self.sys / sub).mkdir(parents=True, exist_ok=True)
        (root / "dev").mkdir(exist_ok=True)
        (root / "proc" / "self").mkdir(parents=True, exist_ok=True)
        self._hosts: dict[int, Path] = {}
        self._virtio = 0

    # Helpers ----------------------------------------------------------------------------------------------------

    @staticmethod
    def _write(path: Path, data: str | bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data + "\n")

    @staticmethod
    def _link(link: Path, target: Path) -> None:
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(target, link.parent))

    def _block(self, name: str, devdir: Path, size_bytes: int, *, ro: bool = False, removable: bool = False) -> Path:
        block = devdir / "block" / name if devdir.name != "block" else devdir / name
        self._write(block / "size", str(size_bytes // 512))
        self._write(block / "ro", "1" if ro else "0")
        self._write(block / "removable", "1" if removable else "0")
        (block / "holders").mkdir(exist_ok=True)
        (block / "slaves").mkdir(exist_ok=True)
        self._link(self.sys / "block" / name, block)
        self._link(self.sys / "class" / "block" / name, block)
        # A regular file stands in for the device node (O_EXCL open, fsync work on it); tests that need a real
        # block device replace it with a symlink to a loop device.
        (self.root / "dev" / name).write_bytes(b"")
        return block

    def partitions(self, disk: str, count: int, size_bytes: int = 1 << 20) -> list[str]:
        block = Path(os.path.realpath(self.sys / "block" / disk))
        names = []
        for number in range(1, count + 1):
            name = f"{disk}{number}"
            part = block / name
            self._write(part / "partition", str(number))
            self._write(part / "size", str(size_bytes // 512))
            (part / "holders").mkdir(exist_ok=True)
            self._link(self.sys / "class" / "block" / name, part)
            names.append(name)
        return names

    # Devices ----------------------------------------------------------------------------------------------------

    def scsi_host(
        self, host: int, proc_name: str, *, pci: str = "0000:03:00.0", pci_id: tuple[int, int] = (0, 0)
    ) -> Path:
        pci_dir = self.sys / "devices" / "pci0000:00" / "0000:00:15.0" / pci
        self._write(pci_dir / "vendor", f"0x{pci_id[0]:04x}")
        self._write(pci_dir / "device", f"0x{pci_id[1]:04x}")
        host_dir = pci_dir / f"host{host}"
        cls = host_dir / "scsi_host" / f"host{host}"
        self._write(cls / "proc_name", proc_name)
        self._write(cls / "scan", "")
        self._link(cls / "device", host_dir)
        self._link(self.sys / "class" / "scsi_host" / f"host{host}", cls)
        self._hosts[host] = host_dir
        return host_dir

    def scsi_disk(
        self,
        name: str,
        hctl: tuple[int, int, int, int],
        *,
        size_bytes: int = 8 << 30,
        vendor: str = "VMware  ",
        model: str = "Virtual disk    ",
        vpd83: bytes | None = None,
        vpd80: bytes | None = None,
        wwid: str | None = None,
        ro: bool = False,
    ) -> Path:
        host, channel, target, lun = hctl
        address = f"{host}:{channel}:{target}:{lun}"
        sdev = self._hosts[host] / f"target{host}:{channel}:{target}" / address
        self._write(sdev / "vendor", vendor)
        self._write(sdev / "model", model)
        self._write(sdev / "delete", "")
        if vpd83 is not None:
            self._write(sdev / "vpd_pg83", vpd83)
        if vpd80 is not None:
            self._write(sdev / "vpd_pg80", vpd80)
        if wwid is not None:
            self._write(sdev / "wwid", wwid)
        block = self._block(name, sdev, size_bytes, ro=ro)
        self._link(block / "device", sdev)
        return block

    def virtio_disk(self, name: str, *, size_bytes: int = 16 << 30, serial: str = "") -> Path:
        self._virtio += 1
        vdev = self.sys / "devices" / "pci0000:00" / f"0000:00:0{self._virtio}.0" / f"virtio{self._virtio}"
        self._write(vdev / "vendor", "0x1af4")
        driver = self.sys / "bus" / "virtio" / "drivers" / "virtio_blk"
        driver.mkdir(parents=True, exist_ok=True)
        self._link(vdev / "driver", driver)
        block = self._block(name, vdev, size_bytes)
        self._link(block / "device", vdev)
        if serial:
            self._write(block / "serial", serial)
        return block

    def nvme_disk(self, name: str, *, size_bytes: int = 32 << 30, wwid: str, model: str, serial: str) -> Path:
        ctrl = self.sys / "devices" / "pci0000:00" / "0000:00:04.0" / "nvme" / name[: name.rindex("n")]
        self._write(ctrl / "model", model)
        self._write(ctrl / "serial", serial)
        block = self._block(name, ctrl, size_bytes)
        self._write(block / "wwid", wwid)
        self._link(block / "device", ctrl)
        return block

    def loop(self, name: str, *, size_bytes: int, backing: str | None = None) -> Path:
        block = self._block(name, self.sys / "devices" / "virtual" / "block", size_bytes)
        if backing is not None:
            self._write(block / "loop" / "backing_file", backing)
        return block

    def dm(self, name: str, dm_name: str, slaves: list[str]) -> Path:
        block = self._block(name, self.sys / "devices" / "virtual" / "block", 8 << 30)
        self._write(block / "dm" / "name", dm_name)
        for slave in slaves:
            target = Path(os.path.realpath(self.sys / "class" / "block" / slave))
            self._link(block / "slaves" / slave, target)
            self._link(target / "holders" / name, block)
        return block

    def mount(self, device: str, mountpoint: str, fstype: str = "ext4") -> None:
        escaped = mountpoint.replace(" ", "\\040")
        with (self.root / "proc" / "self" / "mounts").open("a") as mounts:
            mounts.write(f"{device} {escaped} {fstype} rw,relatime 0 0\n")

    def swap(self, device: str) -> None:
        swaps = self.root / "proc" / "swaps"
        if not swaps.exists():
            swaps.write_text("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
        with swaps.open("a") as out:
            out.write(f"{device}                               partition\t1048572\t\t0\t\t-2\n")

    def remove(self, name: str) -> None:
        """What the kernel does when a disk goes away: its directory and links vanish."""
        block = Path(os.path.realpath(self.sys / "block" / name))
        (self.sys / "block" / name).unlink()
        (self.sys / "class" / "block" / name).unlink()
        shutil.rmtree(block)
