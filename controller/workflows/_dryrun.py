"""``failbackctl plan apply --dry-run``: every step a plan's reprotect and failover would take, per item, without
touching anything. Pure: from the plan and the imported items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.store import ItemRow
from controller.workflows._deps import item_key
from controller.workflows._spec import PlanSpec, VmSpec

__all__ = ["PlannedStep", "describe"]


@dataclass(frozen=True)
class PlannedStep:
    workflow: str
    step: str
    item: str
    action: str


def _row(plan: PlanSpec, vm: VmSpec, items: Sequence[ItemRow]) -> ItemRow | None:
    return next((r for r in items if r.key == item_key(plan.vault, vm.item) or r.name == vm.item), None)


def describe(plan: PlanSpec, items: Sequence[ItemRow]) -> list[PlannedStep]:
    steps: list[PlannedStep] = []
    vms = sorted(plan.vms, key=lambda vm: (vm.boot_group or 1, vm.item))
    for vm in vms:
        row = _row(plan, vm, items)
        name = row.name if row else vm.item
        if row is None:
            steps.append(PlannedStep("reprotect", "claim", name, f"REFUSED: vault {plan.vault} has no item {vm.item}"))
            continue
        disks = row.asr.get("disks", ())
        physical = bool(row.asr.get("physical"))
        mts = (vm.master_target,) if vm.master_target else plan.master_targets
        where = (
            "alternate location (a physical server always fails back as a new VM)"
            if physical
            else {"alternate": "alternate location (the plan asks for it)"}.get(
                vm.location,
                "original location if the on-premises VM still exists with every disk and the master target's host "
                "sees its datastores, else alternate",
            )
        )
        ps = vm.process_server or plan.process_server
        datastore = vm.datastore or plan.datastore
        add = steps.append
        add(PlannedStep("reprotect", "claim", name, f"take {name} from state {row.state} to reprotecting"))
        add(PlannedStep("reprotect", "decide", name, f"{where}; master target among {', '.join(mts)} by free slots"))
        add(
            PlannedStep(
                "reprotect",
                "prepare-vms",
                name,
                "power off the on-premises VM, or create the new VM on "
                f"the master target's host and datastore {datastore}",
            )
        )
        for disk in disks:
            size = int(disk.get("capacity_bytes") or 0) // 2**30
            add(
                PlannedStep(
                    "reprotect",
                    "attach-disks",
                    name,
                    f"attach disk {disk.get('id')} ({size} GiB) to the "
                    "master target: the VM's own disk, or a new replica disk",
                )
            )
        add(
            PlannedStep(
                "reprotect", "resolve-disks", name, f"rescan, resolve and prepare {len(disks)} disks by SCSI id"
            )
        )
        add(
            PlannedStep(
                "reprotect",
                "create-pairs",
                name,
                f"{len(disks)} pairs, new generation, on the master target "
                f"and process server {ps}, journals under {vm.retention_volume or plan.retention_volume}",
            )
        )
        add(PlannedStep("reprotect", "asr-reprotect", name, f"ASR reprotect RecoveryToPrimary, policy {plan.policy}"))
        add(PlannedStep("reprotect", "sync", name, "initial sync or checksum resync, then continuous replication"))
        add(
            PlannedStep(
                "failover", "power-off-azure", name, f"power off {row.asr.get('azure_vm_id') or 'the Azure VM'}"
            )
        )
        add(PlannedStep("failover", "bring-to-point", name, "planned: drain, then latest; unplanned: the chosen point"))
        add(PlannedStep("failover", "attest", name, "compare the disks' digests with the source's"))
        add(
            PlannedStep("failover", "attach-to-vm", name, "detach from the master target, attach at recorded positions")
        )
        if plan.network.restore_static_ips and vm.ips:
            add(PlannedStep("failover", "customize", name, "restore " + ", ".join(ip.address for ip in vm.ips)))
        add(PlannedStep("failover", "power-on", name, f"boot group {vm.boot_group or 1}, wait for VMware Tools"))
    return steps
