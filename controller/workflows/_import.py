"""What a vault import means for failback: protected items, a failback group per protection group, and plans.

Each protection group (ASR protection container) gets its failback group ``<group>_Failback``: its members form one
consistency group on the agents and fail back through one master target. Each ASR recovery plan is kept with its
ordered boot groups as ``<vault>.<plan>``, for plan files that name it. Items enter as ``failed-over-to-azure`` when
ASR shows them failed over to Azure and committed with a classic provider, ``not-eligible`` otherwise. Idempotent:
an import run again changes nothing a workflow is doing.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from controller.store import InventoryStore, ProtectionStore
from controller.workflows._deps import item_key
from controller.workflows._states import ItemState

__all__ = ["SETTLED", "failback_group_name", "import_vault"]

# States a vault import may overwrite: nothing runs on such an item.
SETTLED = frozenset({ItemState.FAILED_OVER_TO_AZURE, ItemState.NOT_ELIGIBLE, ItemState.PROTECTED_TO_AZURE})
_FAILED_OVER_PROVIDERS = frozenset({"InMageAzureV2"})


def failback_group_name(protection_group: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", protection_group)[:110] + "_Failback"


def _state(details: dict[str, Any]) -> ItemState:
    if (
        details.get("protection_state") == "UnplannedFailoverCommitted"
        and details.get("active_location") == "Recovery"
        and details.get("provider") in _FAILED_OVER_PROVIDERS
    ):
        return ItemState.FAILED_OVER_TO_AZURE
    return ItemState.NOT_ELIGIBLE


def _hardware(provider: dict[str, Any]) -> dict[str, Any]:
    """The source machine as ASR recorded it (classic providers): what a failback to a new VM recreates."""
    return {
        "cpus": provider.get("source_cpu_count"),
        "memory_mb": provider.get("source_memory_mb"),
        "firmware": provider.get("firmware_type"),
        "nics": list(provider.get("nic_networks") or ()),
    }


def import_vault(
    vault: str, inventory: InventoryStore, protection: ProtectionStore, *, now: dt.datetime
) -> dict[str, int]:
    """Read the vault's newest snapshot and record items, failback groups and plans; returns counts."""
    objects = inventory.items(
        ["protection-container", "protected-item", "recovery-plan"], source_kind="azure", source_name=vault
    )
    containers = {o.item.key.lower(): o.item for o in objects if o.item.kind == "protection-container"}
    groups: dict[str, str] = {}
    for key, found in containers.items():
        name = failback_group_name(found.name)
        protection.save_group(name, vault, found.key, found.name, now)
        groups[key] = name
    rows = []
    for sourced in (o for o in objects if o.item.kind == "protected-item"):
        item = sourced.item
        details = item.details or {}
        parent = item.key.lower().split("/replicationprotecteditems/")[0]
        asr = {
            "id": item.key,
            "name": item.name,
            "provider": details.get("provider"),
            "protection_state": details.get("protection_state"),
            "active_location": details.get("active_location"),
            "physical": bool(details.get("is_physical")),
            "azure_vm_id": details.get("azure_vm_id"),
            "disks": details.get("disks", []),
            "os_type": (details.get("details") or {}).get("os_type"),
            "ip_address": (details.get("details") or {}).get("ip_address"),
            "policy_id": details.get("policy_id"),
            "hardware": _hardware(details.get("details") or {}),
        }
        rows.append((item_key(vault, item.key), item.name, groups.get(parent), _state(details), asr))
    inserted = protection.import_items(vault, rows, settled=SETTLED, now=now)
    plans = 0
    for sourced in (o for o in objects if o.item.kind == "recovery-plan"):
        details = sourced.item.details or {}
        boot = [
            list(group.get("item_ids", ()))
            for group in details.get("groups", ())
            if group.get("kind", "").lower() == "boot" and group.get("item_ids")
        ]
        protection.save_plan(
            f"{vault}.{details.get('name') or sourced.item.name}",
            source="vault",
            vault=vault,
            document={"asr_id": sourced.item.key, "name": sourced.item.name, "groups": boot},
            now=now,
        )
        plans += 1
    return {"items": len(rows), "new_items": inserted, "groups": len(groups), "plans": plans}
