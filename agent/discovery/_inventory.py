"""A snapshot of the disks a guest sees, and the decisions made on it: lookup by id, refusals, counts, capacity.

Everything here is pure: the platform modules build an :class:`Inventory`; this module decides whether an id maps to
exactly one disk. It never guesses: no id, two devices with one id, or an id that is absent are errors, not a
"best effort" match.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent.discovery._model import (
    DISKS_PER_CONTROLLER,
    MAX_ATTACHED_DISKS,
    MAX_SCSI_CONTROLLERS,
    ControllerType,
    Disk,
    natural_key,
)
from agent.discovery.errors import DiskNotFound, DuplicateDiskId, EnableUUIDMissing
from failback.diskid import normalize_disk_id

__all__ = ["AttachCapacity", "ControllerUsage", "DiskCounts", "Inventory"]


@dataclass(frozen=True)
class ControllerUsage:
    """One vSphere SCSI controller as the guest sees it."""

    key: str
    controller: ControllerType
    disks: int
    free: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "controller": self.controller.value, "disks": self.disks, "free": self.free}


@dataclass(frozen=True)
class AttachCapacity:
    """How many more disks this master target can take (the 4 controllers x 15 disks limit)."""

    controllers: tuple[ControllerUsage, ...]
    attached: int
    """Disks on vSphere SCSI controllers, the OS disk included: they occupy slots too."""
    limit: int
    free: int
    controllers_free: int
    """Controllers that can still be added to the VM (each brings 15 slots)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "controllers": [usage.to_dict() for usage in self.controllers],
            "attached": self.attached,
            "limit": self.limit,
            "free": self.free,
            "controllers_free": self.controllers_free,
        }


@dataclass(frozen=True)
class DiskCounts:
    total: int
    with_id: int
    without_id: int
    protected: int
    in_use: int
    duplicated: int
    candidates: int
    """Disks that could become replication targets: an id of their own, not protected, not in use, writable."""

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Inventory:
    """Every whole disk the guest sees, at one moment."""

    disks: tuple[Disk, ...]
    platform: str
    """``linux`` or ``windows``."""
    source: str
    """What enumerated the disks: ``udev``, ``sysfs`` or ``powershell``."""

    @classmethod
    def build(cls, disks: Iterable[Disk], *, platform: str, source: str) -> Inventory:
        ordered = sorted(disks, key=lambda disk: natural_key(disk.name))
        return cls(disks=tuple(ordered), platform=platform, source=source)

    def ids(self) -> list[str]:
        return sorted({disk.disk_id for disk in self.disks if disk.disk_id is not None})

    def duplicates(self) -> dict[str, tuple[Disk, ...]]:
        """Ids reported by more than one device."""
        by_id: dict[str, list[Disk]] = defaultdict(list)
        for disk in self.disks:
            if disk.disk_id is not None:
                by_id[disk.disk_id].append(disk)
        return {disk_id: tuple(group) for disk_id, group in sorted(by_id.items()) if len(group) > 1}

    def missing_enable_uuid(self) -> list[Disk]:
        """VMware disks on vSphere SCSI controllers without a page-83 id: the VM lacks disk.EnableUUID."""
        return [disk for disk in self.disks if disk.needs_enable_uuid]

    def problems(self) -> list[str]:
        """Everything that would make an id lookup refuse, as operator-facing sentences."""
        found: list[str] = []
        missing = self.missing_enable_uuid()
        if missing:
            found.append(str(EnableUUIDMissing([disk.path for disk in missing])))
        for disk_id, group in self.duplicates().items():
            found.append(str(_duplicate_error(disk_id, group)))
        return found

    def find(self, disk_id: str) -> Disk:
        """The one disk with this id; refuse rather than guess.

        Raises InvalidDiskId (bad spelling), DuplicateDiskId, EnableUUIDMissing (VMware disks without ids, so the
        id cannot be present) or DiskNotFound (lists the ids that were seen).
        """
        wanted = normalize_disk_id(disk_id)
        matches = [disk for disk in self.disks if disk.disk_id == wanted]
        if len(matches) > 1:
            raise _duplicate_error(wanted, matches)
        if matches:
            return matches[0]
        missing = self.missing_enable_uuid()
        if missing:
            raise EnableUUIDMissing([disk.path for disk in missing])
        raise DiskNotFound([wanted], self.ids())

    def counts(self) -> DiskCounts:
        duplicated = {disk.name for group in self.duplicates().values() for disk in group}
        return DiskCounts(
            total=len(self.disks),
            with_id=sum(1 for disk in self.disks if disk.disk_id),
            without_id=sum(1 for disk in self.disks if not disk.disk_id),
            protected=sum(1 for disk in self.disks if disk.protected),
            in_use=sum(1 for disk in self.disks if disk.in_use),
            duplicated=len(duplicated),
            candidates=sum(
                1
                for disk in self.disks
                if disk.disk_id
                and disk.name not in duplicated
                and not disk.protected
                and not disk.in_use
                and not disk.read_only
            ),
        )

    def capacity(self) -> AttachCapacity:
        per_controller: dict[str, list[Disk]] = defaultdict(list)
        for disk in self.disks:
            if disk.controller.is_vsphere_scsi and disk.controller_key is not None:
                per_controller[disk.controller_key].append(disk)
        usages = tuple(
            ControllerUsage(
                key=key,
                controller=group[0].controller,
                disks=len(group),
                free=max(0, DISKS_PER_CONTROLLER - len(group)),
            )
            for key, group in sorted(per_controller.items(), key=lambda item: natural_key(item[0]))
        )
        attached = sum(usage.disks for usage in usages)
        controllers_free = max(0, MAX_SCSI_CONTROLLERS - len(usages))
        free = min(
            MAX_ATTACHED_DISKS - attached,
            sum(usage.free for usage in usages) + controllers_free * DISKS_PER_CONTROLLER,
        )
        return AttachCapacity(
            controllers=usages,
            attached=attached,
            limit=MAX_ATTACHED_DISKS,
            free=max(0, free),
            controllers_free=controllers_free,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "source": self.source,
            "disks": [disk.to_dict() for disk in self.disks],
            "problems": self.problems(),
            "counts": self.counts().to_dict(),
            "capacity": self.capacity().to_dict(),
        }


def _duplicate_error(disk_id: str, group: Iterable[Disk]) -> DuplicateDiskId:
    disks = list(group)
    described = [_describe(disk) for disk in disks]
    holders = {holder for disk in disks for holder in disk.holders}
    if holders:
        remedy = (
            f"these are paths to one LUN, held by {', '.join(sorted(holders))}; a master target must see each target "
            "VMDK through exactly one path: exclude target disks from multipath"
        )
    else:
        remedy = (
            "either two attached VMDKs share one UUID (a VM cloned from a template keeps its disks' UUIDs: detach the "
            "disk that is not a replication target, or give it a new UUID) or one LUN is visible through two paths "
            "without multipathd (present each target disk through one path); then rescan"
        )
    return DuplicateDiskId(disk_id, described, remedy=remedy)


def _describe(disk: Disk) -> str:
    where = f" at {disk.hctl}" if disk.hctl else ""
    return f"{disk.path}{where}"
