"""A vault's failed-over estate (``controller.azure.VaultEstate``) as inventory objects keyed by ARM id."""

from __future__ import annotations

from controller.azure import ProtectedItem, VaultEstate
from controller.inventory._plain import plain
from controller.store import InventoryItem

__all__ = ["azure_items"]


def azure_items(estate: VaultEstate) -> list[InventoryItem]:
    items: list[InventoryItem] = []
    for fabric in estate.fabrics:
        details = plain(fabric)
        for nested in ("process_servers", "master_targets"):
            details[nested] = [server["id"] for server in details[nested]]
        items.append(InventoryItem("fabric", fabric.id, fabric.friendly_name or fabric.name, None, details))
        items += [
            InventoryItem("process-server", ps.id, ps.name or ps.id, fabric.id, plain(ps))
            for ps in fabric.process_servers
        ]
        items += [
            InventoryItem("master-target", mt.id, mt.name or mt.id, fabric.id, plain(mt))
            for mt in fabric.master_targets
        ]
    items += [
        InventoryItem("protection-container", c.id, c.friendly_name or c.name, None, plain(c))
        for c in estate.containers
    ]
    by_ref = {item.ref: item for item in estate.items}
    for item in estate.items:
        items.append(_item(item))
    for ref, points in estate.recovery_points.items():
        parent = by_ref[ref].id if ref in by_ref else None
        items += [InventoryItem("recovery-point", p.id, p.name, parent, plain(p)) for p in points]
    items += [InventoryItem("recovery-plan", p.id, p.friendly_name or p.name, None, plain(p)) for p in estate.plans]
    items += [
        InventoryItem("asr-job", j.id, j.friendly_name or j.name, j.target_object_id, plain(j)) for j in estate.jobs
    ]
    return items


def _item(item: ProtectedItem) -> InventoryItem:
    details = plain(item)
    details["replication_direction"] = plain(item.replication_direction)
    details["is_physical"] = item.is_physical
    details["azure_vm_id"] = item.azure_vm_id
    fabric_id = item.id.split("/replicationProtectionContainers/")[0]
    return InventoryItem("protected-item", item.id, item.friendly_name or item.ref.name, fabric_id, details)
