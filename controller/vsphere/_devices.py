"""Device planning: where a disk goes on a VM's SCSI controllers, and the device specs that put it there.

Pure functions over records, so placement rules are tested without a server. A VM has at most four SCSI
controllers (buses 0-3) of fifteen disks each (units 0-15; unit 7 is the controller's own); past that we refuse
rather than spill onto SATA or NVMe, whose disks a master target would see under different identifiers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim

from controller.vsphere._records import SCSI_KINDS, Controller, DiskPosition
from controller.vsphere.errors import InvalidRequest

__all__ = [
    "MAX_SCSI_BUSES",
    "SCSI_UNITS",
    "SlotPlan",
    "controller_spec",
    "disk_spec",
    "plan_disk_slot",
]

MAX_SCSI_BUSES = 4
SCSI_UNITS = tuple(unit for unit in range(16) if unit != 7)
_NEW_CONTROLLER_KEY = -100  # negative keys name devices added in the same reconfiguration

_CONTROLLER_CLASSES: dict[str, Any] = {
    "pvscsi": vim.vm.device.ParaVirtualSCSIController,
    "lsilogic": vim.vm.device.VirtualLsiLogicController,
    "lsilogic-sas": vim.vm.device.VirtualLsiLogicSASController,
    "buslogic": vim.vm.device.VirtualBusLogicController,
}


@dataclass(frozen=True)
class SlotPlan:
    """Put the disk at ``unit_number`` of controller ``controller_key``; if ``new_bus`` is set, that controller is a
    new PVSCSI controller on that bus (``controller_key`` is then its temporary negative key)."""

    controller_key: int
    unit_number: int
    new_bus: int | None


def plan_disk_slot(
    controllers: Sequence[Controller],
    used: Iterable[tuple[int, int]],
    position: DiskPosition | None = None,
) -> SlotPlan:
    """Choose where a new disk goes.

    ``used`` lists (controller key, unit number) of every device already on a controller. With ``position``, that
    exact bus and unit (adding a PVSCSI controller on that bus if there is none); without, the first free unit on the
    existing SCSI controllers by bus order, else a new PVSCSI controller on the lowest free bus.
    """
    scsi = sorted((c for c in controllers if c.kind in SCSI_KINDS), key=lambda c: c.bus_number)
    taken = set(used)
    if position is not None:
        return _exact(scsi, taken, position)
    for controller in scsi:
        for unit in SCSI_UNITS:
            if (controller.key, unit) not in taken:
                return SlotPlan(controller.key, unit, None)
    free_buses = sorted(set(range(MAX_SCSI_BUSES)) - {c.bus_number for c in scsi})
    if not free_buses:
        raise InvalidRequest(
            f"the VM has no free SCSI slot: {MAX_SCSI_BUSES} controllers with {len(SCSI_UNITS)} disks each are in use",
            remedy="detach a disk first, or use another VM",
        )
    return SlotPlan(_NEW_CONTROLLER_KEY, SCSI_UNITS[0], free_buses[0])


def _exact(scsi: Sequence[Controller], taken: set[tuple[int, int]], position: DiskPosition) -> SlotPlan:
    if not 0 <= position.bus_number < MAX_SCSI_BUSES:
        raise InvalidRequest(
            f"SCSI bus {position.bus_number} does not exist", remedy=f"use a bus from 0 to {MAX_SCSI_BUSES - 1}"
        )
    if position.unit_number not in SCSI_UNITS:
        raise InvalidRequest(
            f"SCSI unit {position.unit_number} cannot hold a disk",
            remedy="use a unit from 0 to 15 other than 7 (the controller's own)",
        )
    controller = next((c for c in scsi if c.bus_number == position.bus_number), None)
    if controller is None:
        return SlotPlan(_NEW_CONTROLLER_KEY, position.unit_number, position.bus_number)
    if (controller.key, position.unit_number) in taken:
        raise InvalidRequest(
            f"SCSI {position.bus_number}:{position.unit_number} is already in use",
            remedy="detach the disk there first, or choose another position",
        )
    return SlotPlan(controller.key, position.unit_number, None)


def controller_spec(kind: str, bus_number: int, key: int) -> Any:
    """A device change adding a SCSI controller of ``kind`` on ``bus_number`` with temporary ``key``."""
    try:
        cls = _CONTROLLER_CLASSES[kind]
    except KeyError:
        raise InvalidRequest(
            f"SCSI controller type {kind!r} is not one we can create",
            remedy=f"use one of {sorted(_CONTROLLER_CLASSES)}",
        ) from None
    device = cls(key=key, busNumber=bus_number, sharedBus=vim.vm.device.VirtualSCSIController.Sharing.noSharing)
    return vim.vm.device.VirtualDeviceSpec(operation=vim.vm.device.VirtualDeviceSpec.Operation.add, device=device)


def disk_spec(file_name: str, plan: SlotPlan, *, independent: bool) -> Any:
    """A device change attaching the existing VMDK ``file_name`` where ``plan`` says (no file operation)."""
    mode = "independent_persistent" if independent else "persistent"
    backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(fileName=file_name, diskMode=mode)
    disk = vim.vm.device.VirtualDisk(
        key=-1, backing=backing, controllerKey=plan.controller_key, unitNumber=plan.unit_number
    )
    return vim.vm.device.VirtualDeviceSpec(operation=vim.vm.device.VirtualDeviceSpec.Operation.add, device=disk)
