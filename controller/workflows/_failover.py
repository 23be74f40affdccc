"""``failback.failover`` (to on-premises), ``failback.cancel``, ``failback.commit`` and ``failback.reprotect-back``.

Failover, planned (drain pending changes, then cut over at what the source last wrote: no data loss) or unplanned
(from the chosen point: latest, latest-app, latest-group, or a point id or time). Steps: claim; check direction and
health and fix the point (recorded, so a re-run after a crash uses the same one); power the Azure VMs off; drain
(planned); bring each disk to the point; attest it (the target's digest against the source's, recorded on the job and
the item); record the failover in ASR; release the devices on the master target and detach them; attach them to the
on-premises VM at their recorded positions; queue the guest customisation restoring recorded static IPs; take the
rollback snapshot; power on in boot order, waiting for VMware Tools per group (the point of no return); finish in
``failed-over`` with a rollback window.

Cancel returns the disks to their pre-failover state (revert to the rollback snapshot), gives them back to the master
target, resumes replication and powers the Azure VM on. Commit ends the rollback window (drops the snapshot and the
history) and may delete nothing in Azure unless asked with a confirmation. Reprotect-back hands the on-premises VMs
to ASR for forward protection and releases the master targets' pairs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from typing import Any

from controller.agents import PairState, PointSelector
from controller.azure import FailoverDirection, InMageAzureV2Reprotect, ItemRef, RecoveryPointChoice
from controller.jobs import InvalidParameters, JobType, Step, StepContext
from controller.vsphere import DiskPosition, PowerState, StaticIp
from controller.workflows._common import claim_step, finish_step, needs_plan, records, save, subject
from controller.workflows._deps import Deps, Scope
from controller.workflows.errors import AttestationFailed, NotEligible, WorkflowWaiting
from failback.retry import Policy

__all__ = ["CANCEL", "COMMIT", "FAILOVER", "POINTS", "REPROTECT_BACK", "finish_job_types"]

FAILOVER, CANCEL, COMMIT, REPROTECT_BACK = (
    "failback.failover",
    "failback.cancel",
    "failback.commit",
    "failback.reprotect-back",
)
POINTS = frozenset({"latest", "latest-app", "latest-group", "custom"})
ROLLBACK_SNAPSHOT = "failback-rollback"
_DRAIN_RETRY = Policy(deadline=6 * 3600.0, initial=1.0, maximum=15.0, jitter=0.5)


def _check_failover(params: Mapping[str, Any]) -> None:
    needs_plan(params)
    if params.get("kind", "planned") not in ("planned", "unplanned"):
        raise InvalidParameters("'kind' is planned or unplanned")
    point = params.get("point", "latest")
    if point not in POINTS:
        raise InvalidParameters(f"'point' is one of {sorted(POINTS)}")
    if point == "custom" and not (params.get("point_id") or params.get("point_time")):
        raise InvalidParameters("a custom point needs 'point_id' or 'point_time'")
    if params.get("kind", "planned") == "planned" and point != "latest":
        raise InvalidParameters("a planned failover cuts over at what the source last wrote: use point 'latest'")


def _selector(params: Mapping[str, Any]) -> PointSelector:
    point = params.get("point", "latest")
    if point == "custom":
        return PointSelector("point", point_id=params.get("point_id"), at_time=params.get("point_time"))
    return PointSelector({"latest-group": "latest"}.get(point, point))


# -- failover ------------------------------------------------------------------------------------------------------


def _check(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    problems = []
    for row, _vm in scope.items:
        record = current[row.key]
        mt = deps.master_target(scope.plan, record["master_target"])
        for disk in record["disks"]:
            status = mt.pair(disk["pair_id"])
            if status is None or status.pair.generation != record["generation"]:
                problems.append(f"{row.name}: pair {disk['pair_id']} is not at generation {record['generation']}")
            elif status.state not in (PairState.REPLICATING, PairState.AT_POINT):
                problems.append(f"{row.name}: pair {disk['pair_id']} is {status.state.value} ({status.reason})")
    if problems:
        raise NotEligible("; ".join(problems), remedy="wait for replication to be healthy, or reprotect again")
    return {"checked": len(scope.items), "kind": ctx.params.get("kind", "planned")}


def _power_off_azure(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    stopped = 0
    with deps.azure_vms(scope.plan.vault) as vms:
        for row, _vm in scope.items:
            vm_id = row.asr.get("azure_vm_id")
            if not vm_id:
                continue
            if (vms.power_state(vm_id).power_state or "") not in ("stopped", "deallocated"):
                vms.power_off(vm_id)
                stopped += 1
    return {"stopped": stopped}


def _drain(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    if ctx.params.get("kind", "planned") != "planned":
        return {"drained": False}
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    backlog, seqs = 0, {}
    for row, _vm in scope.items:
        record = current[row.key]
        ps = deps.process_server(scope.plan, record["process_server"])
        for disk in record["disks"]:
            status = ps.pair(disk["pair_id"])
            if status is None:
                raise NotEligible(f"{row.name}: process server {ps.name} has no pair {disk['pair_id']}")
            backlog += status.backlog_bytes
            seqs[disk["pair_id"]] = status.acknowledged_seq
            if status.last_sent_seq != status.acknowledged_seq:
                backlog += 1
    ctx.report(message=f"{backlog} bytes still to drain")
    if backlog:
        raise WorkflowWaiting(f"{backlog} bytes written in Azure are not yet on the master targets")
    return {"drained": True, "acknowledged_seq": seqs}


def _bring_to_point(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    selector = _selector(ctx.params)
    group_point = ctx.params.get("point") == "latest-group"
    chosen: dict[str, Any] = {}
    for row, _vm in scope.items:
        record = dict(current[row.key])
        if record.get("point"):
            chosen[row.name] = record["point"]
            continue
        mt = deps.master_target(scope.plan, record["master_target"])
        ids = [d["pair_id"] for d in record["disks"]]
        members = mt.bring_to_point(ids, record["group"] if group_point else "", selector)
        record["point"] = {m.pair_id: {"id": m.point_id, "time": m.time} for m in members}
        save(deps, ctx, row, record)
        chosen[row.name] = record["point"]
    return {"points": chosen}


def _attest(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    results: dict[str, Any] = {}
    for row, _vm in scope.items:
        record = dict(current[row.key])
        mt = deps.master_target(scope.plan, record["master_target"])
        ps = deps.process_server(scope.plan, record["process_server"])
        attestation = {}
        for disk in record["disks"]:
            target = mt.digest(disk["pair_id"], record["generation"])
            # The source's digest is comparable only when the failover is at what the source holds now.
            source = (
                ps.source_digest(disk["pair_id"], record["generation"])
                if ctx.params.get("kind", "planned") == "planned"
                else None
            )
            verdict = "unverified" if source is None else ("match" if source == target.digest else "mismatch")
            attestation[disk["pair_id"]] = {
                "target_digest": target.digest.hex(),
                "source_digest": source.hex() if source else None,
                "point": target.point_id,
                "applied_seq": target.applied_seq,
                "verdict": verdict,
            }
            if verdict == "mismatch":
                raise AttestationFailed(
                    f"{row.name}: disk {disk['source_id']} at the point differs from the source "
                    f"({target.digest.hex()[:16]}… against {source.hex()[:16] if source else ''}…)",
                    remedy="cancel the failover and resync the pair (reprotect again); nothing was attached",
                )
        record["attestation"] = attestation
        save(deps, ctx, row, record)
        results[row.name] = attestation
    return {"attestation": results}


def _asr_failover(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    choice = (
        RecoveryPointChoice.latest_tag()
        if ctx.params.get("point") == "latest-app"
        else RecoveryPointChoice.latest_time()
    )
    jobs = {}
    with deps.vault(scope.plan.vault) as asr:
        for row, _vm in scope.items:
            ref = ItemRef.from_id(row.asr["id"])
            item = asr.get_protected_item(ref)
            if item.active_location == "Primary":
                continue
            jobs[row.name] = asr.unplanned_failover(ref, choice, direction=FailoverDirection.RECOVERY_TO_PRIMARY).job_id
    return {"asr_jobs": jobs}


def _release_disks(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    detached = 0
    with deps.vcenter(scope.plan.vcenter) as vc:
        for row, _vm in scope.items:
            record = dict(current[row.key])
            mt_uuid = scope.plan.agent(record["master_target"]).vm or ""
            on_mt = {d.uuid and d.uuid.replace("-", "").lower() for d in vc.vm(mt_uuid).disks}
            agent = deps.master_target(scope.plan, record["master_target"])
            for disk in record["disks"]:
                hexid = disk["disk_id"].removeprefix("naa.")
                if hexid in on_mt:
                    agent.release(disk["disk_id"])
                    agent.remove(disk["disk_id"])
                    vc.detach_disk(mt_uuid, hexid)
                    detached += 1
                disk["attached_to"] = None
            save(deps, ctx, row, record)
    return {"detached": detached}


def _attach_to_vm(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    attached = 0
    with deps.vcenter(scope.plan.vcenter) as vc:
        for row, _vm in scope.items:
            record = dict(current[row.key])
            files = {d.file_name for d in vc.vm(record["vm"]).disks}
            for disk in record["disks"]:
                if disk["file"] not in files:
                    position = DiskPosition(*disk["position"]) if disk.get("position") else None
                    vc.attach_disk(record["vm"], disk["file"], position=position)
                    attached += 1
                disk["attached_to"] = "vm"
            save(deps, ctx, row, record)
    return {"attached": attached}


def _customize(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    if not scope.plan.network.restore_static_ips:
        return {"customized": []}
    done = []
    with deps.vcenter(scope.plan.vcenter) as vc:
        for row, _vm in scope.items:
            record = current[row.key]
            if record.get("os") != "linux" or not record.get("static_ips"):
                continue
            vm = vc.vm(record["vm"])
            macs = [nic.mac for nic in vm.nics if nic.mac]
            settings = [
                StaticIp(
                    ip.get("mac") or macs[i],
                    ip["address"],
                    ip["prefix"],
                    tuple(ip.get("gateways", ())),
                    tuple(ip.get("dns", ())),
                )
                for i, ip in enumerate(record["static_ips"])
                if ip.get("mac") or i < len(macs)
            ]
            if settings:
                vc.customize_guest(
                    vm.instance_uuid, settings, hostname=_hostname(row.name), domain=scope.plan.network.domain
                )
                done.append(row.name)
    return {"customized": done}


def _hostname(name: str) -> str:
    label = "".join(c if c.isalnum() or c == "-" else "-" for c in name)[:63].strip("-")
    return label or "failback"


def _snapshot(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    taken = 0
    with deps.vcenter(scope.plan.vcenter) as vc:
        for row, _vm in scope.items:
            record = dict(current[row.key])
            vm = vc.vm(record["vm"])
            existing = next((s for s in vm.snapshots if s.name == ROLLBACK_SNAPSHOT), None)
            if existing is None:
                existing = vc.create_snapshot(
                    vm.instance_uuid, ROLLBACK_SNAPSHOT, description=f"failback job {ctx.job_id}: state before power-on"
                )
                taken += 1
            record["rollback_snapshot"] = existing.moid
            save(deps, ctx, row, record)
    return {"taken": taken}


def _power_on(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    order: dict[int, list[str]] = {}
    for row, vm in scope.items:
        order.setdefault(vm.boot_group or 1, []).append(row.key)
    booted = []
    tools = Policy(deadline=deps.tools_deadline, initial=1.0, maximum=10.0, jitter=0.5)
    with deps.vcenter(scope.plan.vcenter) as vc:
        for group in sorted(order):
            uuids = [current[key]["vm"] for key in order[group]]
            for uuid in uuids:
                vc.power_on(uuid)
            for uuid in uuids:

                def tools_running(u: str = uuid) -> bool | None:
                    ctx.checkpoint()
                    return True if vc.vm(u).tools_running_status == "guestToolsRunning" else None

                tools.wait_for(tools_running, what=f"VMware Tools in VM {uuid}")
            booted.append(group)
    return {"boot_groups": booted}


# -- cancel, commit, reprotect back ----------------------------------------------------------------------------


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
            record.pop("point", None)
            record.pop("attestation", None)
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
                process_server_id=server, policy_id=ctx.params.get("asr_policy") or plan.policy
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
    def window(scope: Scope) -> dt.timedelta:
        return scope.plan.rollback_window

    return [
        JobType(
            FAILOVER,
            "Fail over to the on-premises site",
            (
                Step("claim", claim_step(deps, "failover"), title="Claim the items"),
                Step("check", lambda ctx: _check(deps, ctx), title="Check direction and health"),
                Step("power-off-azure", lambda ctx: _power_off_azure(deps, ctx), title="Power off the Azure VMs"),
                Step("drain", lambda ctx: _drain(deps, ctx), title="Drain pending changes", retry=_DRAIN_RETRY),
                Step("bring-to-point", lambda ctx: _bring_to_point(deps, ctx), title="Bring disks to the point"),
                Step("attest", lambda ctx: _attest(deps, ctx), title="Attest disk digests"),
                Step("asr-failover", lambda ctx: _asr_failover(deps, ctx), title="Record the failover in ASR"),
                Step("release-disks", lambda ctx: _release_disks(deps, ctx), title="Detach disks from master targets"),
                Step("attach-to-vm", lambda ctx: _attach_to_vm(deps, ctx), title="Attach disks to the VMs"),
                Step("customize", lambda ctx: _customize(deps, ctx), title="Restore static IPs"),
                Step("snapshot", lambda ctx: _snapshot(deps, ctx), title="Take the rollback snapshot"),
                Step("power-on", lambda ctx: _power_on(deps, ctx), title="Power on in boot order", cancellable=False),
                Step("finish", finish_step(deps, "failover", rollback=window), title="Failed over, not committed"),
            ),
            subject=subject,
            validate=_check_failover,
        ),
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
            validate=needs_plan,
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
            validate=needs_plan,
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
            validate=needs_plan,
        ),
    ]
