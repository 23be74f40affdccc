"""udev as the primary Linux source: which block devices are whole disks, and their ids from the udev database.

:class:`UdevSource` is the seam. :class:`PyudevSource` asks libudev through pyudev; :class:`StaticUdevSource` is a
small in-memory source with the same interface for trees that only exist on disk in tests. Both are held to the same
contract tests. A device that udev has not initialised (no database: containers, early boot) carries only the
kernel's uevent properties; its identity then comes from sysfs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.discovery._sysfs import Identity
from agent.discovery.errors import SourceError
from failback.diskid import InvalidDiskId, normalize_disk_id

__all__ = ["PyudevSource", "StaticUdevSource", "UdevDisk", "UdevSource", "udev_identity"]


@dataclass(frozen=True)
class UdevDisk:
    """One block device of DEVTYPE ``disk`` as udev reports it."""

    devpath: str
    """The kernel DEVPATH below /sys, without the leading slash (``devices/.../block/sdb``)."""
    device_node: str | None
    initialized: bool
    """udev has processed the device and its database entry (ID_* properties) exists."""
    properties: Mapping[str, str] = field(default_factory=dict)


class UdevSource(Protocol):
    def disks(self) -> list[UdevDisk]:
        """Every block device with DEVTYPE=disk."""
        ...


class PyudevSource:
    """The live udev database through pyudev (libudev)."""

    def __init__(self, context: Any = None) -> None:
        try:
            import pyudev

            self._context: Any = context if context is not None else pyudev.Context()
        except (ImportError, OSError) as exc:
            # pyudev raises ImportError when libudev itself cannot be loaded.
            raise SourceError(f"cannot use udev: {exc}", remedy="install libudev1, or use the sysfs reader") from exc

    def disks(self) -> list[UdevDisk]:
        try:
            devices = list(self._context.list_devices(subsystem="block", DEVTYPE="disk"))
            return [
                UdevDisk(
                    devpath=str(device.properties.get("DEVPATH", "")).lstrip("/"),
                    device_node=device.device_node,
                    initialized=bool(device.is_initialized),
                    properties={str(key): str(device.properties[key]) for key in device.properties},
                )
                for device in devices
            ]
        except OSError as exc:
            raise SourceError(f"udev enumeration failed: {exc}") from exc


class StaticUdevSource:
    """A fixed set of udev records; for sysfs trees built by tests, where libudev cannot look."""

    def __init__(self, disks: Iterable[UdevDisk]) -> None:
        self._disks = list(disks)

    def disks(self) -> list[UdevDisk]:
        return [disk for disk in self._disks if disk.properties.get("DEVTYPE", "disk") == "disk"]


def udev_identity(properties: Mapping[str, str]) -> Identity | None:
    """The id udev's database recorded (scsi_id / nvme rules), or None if it recorded none we can trust.

    Order: ``ID_WWN_WITH_EXTENSION`` (the full NAA), ``ID_WWN`` + ``ID_WWN_VENDOR_EXTENSION``, ``ID_SERIAL`` when it
    is an NAA (3...) or EUI-64 (2...) designator, then ``ID_WWN`` alone (valid only for 8-byte NAA ids; a 16-byte
    id cut to 8 bytes is refused by the normaliser, never matched).
    """
    candidates: list[tuple[str, str]] = []
    if properties.get("ID_WWN_WITH_EXTENSION"):
        candidates.append(("ID_WWN_WITH_EXTENSION", properties["ID_WWN_WITH_EXTENSION"]))
    wwn, extension = properties.get("ID_WWN"), properties.get("ID_WWN_VENDOR_EXTENSION")
    if wwn and extension:
        candidates.append(("ID_WWN+ID_WWN_VENDOR_EXTENSION", wwn + extension.removeprefix("0x")))
    serial = properties.get("ID_SERIAL")
    # ID_SERIAL starts with the page-83 designator type only when scsi_id produced it.
    if serial and properties.get("ID_BUS") == "scsi" and serial[:1] in ("2", "3"):
        candidates.append(("ID_SERIAL", serial))
    if wwn:
        candidates.append(("ID_WWN", wwn))
    problems = []
    for name, value in candidates:
        try:
            return Identity(normalize_disk_id(value), None, "udev", value)
        except InvalidDiskId as exc:
            problems.append(f"udev {name}: {exc}")
    if problems:
        return Identity(None, "; ".join(problems), None, candidates[0][1])
    return None
