"""Where each replication pair lives, from what the workflows recorded: reprotect writes on every protected item its
master target, generation, consistency group and, per disk, the pair id; the applied plan files say at which address
each agent listens. Read-only; never asks an agent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.points.errors import AddressUnknown, InvalidRequest, UnknownPair
from controller.store import ItemRow, ProtectionStore

__all__ = ["PairDirectory", "PairLocation"]


@dataclass(frozen=True)
class PairLocation:
    """One disk of a protected VM and the pair that replicates it, as recorded on the item."""

    pair_id: str
    item_key: str
    vm: str
    item_state: str
    disk_index: int
    source_disk_id: str
    target_disk_id: str
    disk_size: int
    master_target: str
    generation: int
    group: str


def _locations(row: ItemRow) -> list[PairLocation]:
    record = row.record
    generation = int(record.get("generation") or 0)
    master_target = record.get("master_target")
    # generation 0: reprotect decided where the disks go but made no pair yet.
    if generation < 1 or not master_target:
        return []
    return [
        PairLocation(
            pair_id=str(disk["pair_id"]),
            item_key=row.key,
            vm=row.name,
            item_state=row.state,
            disk_index=index,
            source_disk_id=str(disk.get("source_id") or ""),
            target_disk_id=str(disk.get("disk_id") or ""),
            disk_size=int(disk.get("capacity_bytes") or 0),
            master_target=str(master_target),
            generation=generation,
            group=str(record.get("group") or ""),
        )
        for index, disk in enumerate(record.get("disks", ()))
        if disk.get("pair_id")
    ]


class PairDirectory:
    def __init__(self, protection: ProtectionStore) -> None:
        self._protection = protection

    def pairs(self) -> list[PairLocation]:
        """Every pair recorded on any item, by VM then disk."""
        return [location for row in self._protection.items() for location in _locations(row)]

    def pair(self, pair_id: str) -> PairLocation:
        if not pair_id:
            raise InvalidRequest("name a pair (--pair ID)", remedy="'failbackctl points list --vm NAME' shows its ids")
        for location in self.pairs():
            if location.pair_id == pair_id:
                return location
        raise UnknownPair(
            f"no protected VM has a replication pair {pair_id!r}",
            remedy="'failbackctl points list --vm NAME' or 'failbackctl retention' shows the pairs",
        )

    def vm(self, name: str) -> list[PairLocation]:
        """The pairs of the VM named ``name`` (an item's name, or its key)."""
        if not name:
            raise InvalidRequest("name a VM (--vm NAME) or a pair (--pair ID)")
        rows = [row for row in self._protection.items() if name in (row.key, row.name)]
        if not rows:
            raise UnknownPair(f"failback knows no VM named {name!r}", remedy="'failbackctl items' lists them")
        if len(rows) > 1:
            raise InvalidRequest(
                f"{len(rows)} protected items are named {name!r} (in vaults {', '.join(r.vault for r in rows)})",
                remedy="name the VM by its key, as 'failbackctl items --output json' shows it",
            )
        found = _locations(rows[0])
        if not found:
            raise UnknownPair(
                f"{rows[0].name} has no replication pairs (it is {rows[0].state})",
                remedy="reprotect it first (failbackctl reprotect --plan PLAN --item NAME)",
            )
        return found

    def item_pairs(self, item_key: str) -> list[PairLocation]:
        """Every pair of the item, read fresh (its state may have moved)."""
        return [location for row in self._protection.items(keys=[item_key]) for location in _locations(row)]

    def addresses(self) -> dict[str, str]:
        """Master target name -> address, from the applied plan files (the most recently applied plan wins)."""
        found: dict[str, str] = {}
        for plan in sorted(self._protection.plans(), key=lambda p: p.updated_at):
            if plan.source != "file":
                continue
            for agent in _agents(plan.document):
                if agent.get("role") == "master-target" and agent.get("name") and agent.get("address"):
                    found[str(agent["name"])] = str(agent["address"])
        return found

    def address(self, master_target: str) -> str:
        address = self.addresses().get(master_target)
        if address is None:
            raise AddressUnknown(
                f"no applied plan gives the address of master target {master_target}",
                remedy="apply a plan file whose [[agents]] names it with its address (failbackctl plan apply)",
            )
        return address


def _agents(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    agents = document.get("agents", ())
    return [agent for agent in agents if isinstance(agent, Mapping)]
