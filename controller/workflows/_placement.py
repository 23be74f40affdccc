"""Which master target takes which disks. Pure.

A master target is a VM: at most 60 disks (4 SCSI controllers x 15) can be attached to it, and every replicated
disk needs room in its retention volume. Units are placed whole — a failback group is one consistency group, whose
pairs must share a master target so that a group point is one journal cut — largest first, each on the candidate
with the most free slots left after it (spreading the load), ties broken by retention space, then by load. A unit
pinned to a master target goes there or placement fails, naming the unit, what it needs and what is free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from controller.workflows.errors import PlacementFailed

__all__ = ["RETENTION_SHARE", "MasterTargetRoom", "PlacementUnit", "place"]

# Retention reserved per replicated byte when placing: a day of history at a 10% daily change rate. The agent's
# back-pressure and the doctor's retention check guard the real use; this only keeps placement from overfilling.
RETENTION_SHARE = 0.10


@dataclass(frozen=True)
class MasterTargetRoom:
    name: str
    free_slots: int
    retention_free_bytes: int
    load_bytes: int = 0  # bytes already replicating to it


@dataclass(frozen=True)
class PlacementUnit:
    """Disks that must go to one master target: ``items`` of one failback group (or one VM)."""

    name: str
    items: tuple[str, ...]
    disks: int
    bytes: int
    candidates: tuple[str, ...]
    pinned: str | None = None

    @property
    def retention_bytes(self) -> int:
        return int(self.bytes * RETENTION_SHARE)


@dataclass
class _Room:
    name: str
    free_slots: int
    retention: int
    load: int
    units: list[str] = field(default_factory=list)


def place(units: Sequence[PlacementUnit], rooms: Sequence[MasterTargetRoom]) -> dict[str, str]:
    """Unit name → master target name, or :class:`PlacementFailed` for the first unit that fits nowhere."""
    state = {room.name: _Room(room.name, room.free_slots, room.retention_free_bytes, room.load_bytes) for room in rooms}
    placed: dict[str, str] = {}
    for unit in sorted(units, key=lambda u: (u.pinned is None, -u.disks, -u.bytes, u.name)):
        names = (unit.pinned,) if unit.pinned else unit.candidates
        unknown = [name for name in names if name not in state]
        if unknown:
            raise PlacementFailed(
                f"{unit.name}: master target {unknown[0]} has not reported its capacity",
                remedy="check that its agent runs and reaches the controller (failbackctl servers)",
            )
        fitting = [
            state[n] for n in names if state[n].free_slots >= unit.disks and state[n].retention >= unit.retention_bytes
        ]
        if not fitting:
            raise PlacementFailed(_why(unit, [state[n] for n in names]), remedy=_remedy(unit))
        best = max(fitting, key=lambda r: (r.free_slots - unit.disks, r.retention, -r.load, r.name))
        best.free_slots -= unit.disks
        best.retention -= unit.retention_bytes
        best.load += unit.bytes
        best.units.append(unit.name)
        placed[unit.name] = best.name
    return placed


def _why(unit: PlacementUnit, rooms: Sequence[_Room]) -> str:
    free = ", ".join(f"{r.name}: {r.free_slots} slots, {r.retention // 2**30} GiB retention" for r in rooms)
    return (
        f"{unit.name} needs {unit.disks} disk slots and {unit.retention_bytes // 2**30} GiB of retention on one "
        f"master target; free: {free or 'no master target'}"
    )


def _remedy(unit: PlacementUnit) -> str:
    if unit.pinned:
        return f"unpin it from {unit.pinned}, or free slots there (a master target holds at most 60 disks)"
    if len(unit.items) > 1:
        return "add a master target, free slots, or split the failback group (its VMs share one master target)"
    return "add a master target or free slots and retention space (a master target holds at most 60 disks)"
