"""``failback.cancel``, ``failback.commit`` and ``failback.reprotect-back``: what follows a failover.

Cancel returns the disks to their pre-failover state (revert to the rollback snapshot), gives them back to the master
target, returns each pair to latest so that replication resumes, and powers the Azure VM on again. Commit ends the
rollback window (drops the snapshot and the master target's history) and deletes nothing in Azure. Reprotect-back
hands the on-premises VMs to ASR for protection to Azure and releases the master targets' and process servers' pairs.
"""

from __future__ import annotations

import contextlib
from typing import Any

from controller.agents import PairState
from controller.azure import FailoverDirection, InMageAzureV2Reprotect, ItemRef
from controller.jobs import JobType, Step, StepContext
from controller.vsphere import PowerState
from controller.workflows._common import claim_step, finish_step, records, save, startable, subject
from controller.workflows._deps import Deps
from controller.workflows._failover import ROLLBACK_SNAPSHOT
from controller.workflows._reprotect import policy_id
from controller.workflows.errors import NotEligible

__all__ = ["CANCEL", "COMMIT", "REPROTECT_BACK", "finish_job_types"]

CANCEL, COMMIT, REPROTECT_BACK = "failback.cancel", "failback.commit", "failback.reprotect-back"


def _power_off_onprem(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    with deps.vcenter(scope.plan.vcenter) as vc:
        for row, _vm in scope.items:
            record = current[row.key]
            if record.get("vm") and vc.vm(record["vm"]).power_state is not PowerState.OFF:
                vc.power_off(record["vm"])
    return {"powered_off": len(scope.items)}


def _revert(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    reverted = 0
    with deps.vcenter(scope.plan.vcenter) as vc:
        for row, _vm in scope.items:
            record = current[row.key]
            vm = vc.vm(record["vm"])
            snap = next((s for s in vm.snapshots if s.name == ROLLBACK_SNAPSHOT), None)
            if snap is not None:
                vc.revert_snapshot(vm.instance_uuid, snap.moid)
                vc.remove_snapshot(vm.instance_uuid, snap.moid)
                reverted += 1
    return {"reverted": reverted}


def _detach_from_vm(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    with deps.vcenter(scope.plan.vcenter) as vc:
        for row, _vm in scope.items:
            record = dict(current[row.key])
            on_vm = {d.file_name for d in vc.vm(record["vm"]).disks}
            for disk in record["disks"]:
                if disk.get("file") in on_vm:
                    vc.detach_disk(record["vm"], disk["disk_id"].removeprefix("naa."))
                disk["attached_to"] = None
            save(deps, ctx, row, record)
    return {"detached": len(scope.items)}


def _return_to_master_target(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    with deps.vcenter(scope.plan.vcenter) as vc:
        for row, _vm in scope.items:
            record = dict(current[row.key])
            mt_uuid = scope.plan.agent(record["master_target"]).vm or ""
            on_mt = {d.file_name for d in vc.vm(mt_uuid).disks}
            agent = deps.master_target(scope.plan, record["master_target"])
            for disk in record["disks"]:
                if disk["file"] not in on_mt:
                    vc.attach_disk(mt_uuid, disk["file"], independent=True)
                disk["attached_to"] = "master-target"
            agent.rescan([d["disk_id"] for d in record["disks"]])
            for disk in record["disks"]:
                agent.resolve(disk["disk_id"])
                agent.prepare(disk["disk_id"])
                status = agent.pair(disk["pair_id"])
                if status is not None and status.state is PairState.AT_POINT:
                    agent.cancel_point(disk["pair_id"], record["generation"])
            for key in ("point", "point_choice", "attestation"):
                record.pop(key, None)
            save(deps, ctx, row, record)
    return {"resumed": len(scope.items)}


def _asr_cancel(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    with deps.vault(scope.plan.vault) as asr:
        for row, _vm in scope.items:
            ref = ItemRef.from_id(row.asr["id"])
            if asr.get_protected_item(ref).protection_state == "UnplannedFailoverCommitPendingStatesBegin":
                asr.cancel_failover(ref)
    return {"cancelled": len(scope.items)}


def _power_on_azure(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    started = 0
    with deps.azure_vms(scope.plan.vault) as vms:
        for row, _vm in scope.items:
            vm_id = row.asr.get("azure_vm_id")
            if vm_id and vms.power_state(vm_id).power_state != "running":
                vms.start(vm_id)
                started += 1
    return {"started": started}


def _commit_vmware(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    with deps.vcenter(scope.plan.vcenter) as vc:
        for row, _vm in scope.items:
            vm = vc.vm(current[row.key]["vm"])
            snap = next((s for s in vm.snapshots if s.name == ROLLBACK_SNAPSHOT), None)
            if snap is not None:
                vc.remove_snapshot(vm.instance_uuid, snap.moid)
    for row, _vm in scope.items:
        record = current[row.key]
        agent = deps.master_target(scope.plan, record["master_target"])
        for disk in record["disks"]:
            status = agent.pair(disk["pair_id"])
            if status is not None and status.state is not PairState.COMMITTED:
                agent.commit_point(disk["pair_id"], record["generation"])
    return {"committed": len(scope.items)}


def _asr_commit(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    with deps.vault(scope.plan.vault) as asr:
        for row, _vm in scope.items:
            ref = ItemRef.from_id(row.asr["id"])
            if asr.get_protected_item(ref).protection_state == "UnplannedFailoverCommitPendingStatesBegin":
                asr.commit_failover(ref)
    return {"committed": len(scope.items)}


def _asr_reprotect_back(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    plan = scope.plan
    server = ctx.params.get("asr_process_server")
    if not server:
        raise NotEligible(
            "reprotect-back needs 'asr_process_server': the on-premises process server ASR replicates through"
        )
    jobs = {}
    with deps.vault(plan.vault) as asr:
        for row, _vm in scope.items:
            ref = ItemRef.from_id(row.asr["id"])
            item = asr.get_protected_item(ref)
            if item.protection_state == "Protected" and item.active_location == "Primary":
                continue
            spec = InMageAzureV2Reprotect(
                process_server_id=server, policy_id=policy_id(asr, ctx.params.get("asr_policy") or plan.policy)
            )
            jobs[row.name] = asr.reprotect(ref, spec, direction=FailoverDirection.PRIMARY_TO_RECOVERY).job_id
    return {"asr_jobs": jobs}


def _release_pairs(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    from controller.agents import AgentNotFound

    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    for row, _vm in scope.items:
        record = current[row.key]
        mt = deps.master_target(scope.plan, record["master_target"])
        ps = deps.process_server(scope.plan, record["process_server"])
        for disk in record["disks"]:
            for agent in (ps, mt):
                # NOT_FOUND: deleted by an earlier run of this step.
                with contextlib.suppress(AgentNotFound):
                    agent.delete_pair(disk["pair_id"])
    return {"released": len(scope.items)}


def finish_job_types(deps: Deps) -> list[JobType]:
    return [
        JobType(
            CANCEL,
            "Cancel a failover before commit",
            (
                Step("claim", claim_step(deps, "cancel"), title="Claim the items"),
                Step("power-off", lambda ctx: _power_off_onprem(deps, ctx), title="Power off the on-premises VMs"),
                Step("revert", lambda ctx: _revert(deps, ctx), title="Return the disks to their pre-failover state"),
                Step("detach", lambda ctx: _detach_from_vm(deps, ctx), title="Detach the disks from the VMs"),
                Step("resume", lambda ctx: _return_to_master_target(deps, ctx), title="Resume replication"),
                Step("asr-cancel", lambda ctx: _asr_cancel(deps, ctx), title="Cancel the failover in ASR"),
                Step("power-on-azure", lambda ctx: _power_on_azure(deps, ctx), title="Power the Azure VMs on"),
                Step("finish", finish_step(deps, "cancel"), title="Items replicate again"),
            ),
            subject=subject,
            validate=startable(deps, "cancel"),
        ),
        JobType(
            COMMIT,
            "Commit a failover",
            (
                Step("claim", claim_step(deps, "commit"), title="Claim the items"),
                Step(
                    "commit", lambda ctx: _commit_vmware(deps, ctx), title="End the rollback window", cancellable=False
                ),
                Step("asr-commit", lambda ctx: _asr_commit(deps, ctx), title="Commit in ASR"),
                Step("finish", finish_step(deps, "commit"), title="Committed"),
            ),
            subject=subject,
            validate=startable(deps, "commit"),
        ),
        JobType(
            REPROTECT_BACK,
            "Reprotect the on-premises VMs back to Azure",
            (
                Step("claim", claim_step(deps, "reprotect-back"), title="Claim the items"),
                Step("asr-reprotect", lambda ctx: _asr_reprotect_back(deps, ctx), title="Hand the VMs back to ASR"),
                Step("release", lambda ctx: _release_pairs(deps, ctx), title="Release master-target resources"),
                Step("finish", finish_step(deps, "reprotect-back"), title="Protected to Azure"),
            ),
            subject=subject,
            validate=startable(deps, "reprotect-back"),
        ),
    ]
