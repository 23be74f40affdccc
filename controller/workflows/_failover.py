"""``failback.failover``: fail over to the on-premises site, planned or unplanned, to a chosen point.

Planned: the Azure VMs are shut down, everything they wrote is drained to the master targets, and the disks are cut
over at the source's last state (no data loss, proved by the attestation). Unplanned: the disks are cut over at the
chosen point (latest, latest-app, latest-group, or a point id or time) whatever the source can still say.

Steps: claim; check direction and health; power the Azure VMs off; drain (planned); bring each disk to the point
(the choice is recorded before any agent moves, so a re-run after a crash uses the same one); attest it - the master
target's digest of each disk at the point against the process server's digest of the source at the same bookmark (or
at the end of its change log for latest), recorded on the item and the job; record the failover in ASR; release the
devices on the master target and detach them; attach them to the on-premises VM at their recorded positions; queue the
guest customisation restoring recorded static IPs; take the rollback snapshot; power on in boot order, waiting for
VMware Tools per group (the point of no return); finish in ``failed-over`` with a rollback window.

Within a step the items are independent, so the agent and vSphere work of each runs side by side (``each``, a few at
a time; boot groups still boot one after the other), and each master target detaches its disks in one reconfigure:
a 100-VM plan does not pay hundreds of round trips in a row.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from typing import Any

from controller.agents import AgentError, MemberPoint, PairState, PointSelector
from controller.azure import FailoverDirection, ItemRef, RecoveryPointChoice
from controller.azure.errors import AzureAdapterError
from controller.jobs import InvalidParameters, JobType, Step, StepContext
from controller.vsphere import DiskPosition, StaticIp, VSphere
from controller.vsphere.errors import InvalidRequest
from controller.workflows._common import claim_step, each, finish_step, needs_plan, records, save, startable, subject
from controller.workflows._deps import Deps, Scope
from controller.workflows._points import choose_point
from controller.workflows.errors import AttestationFailed, NotEligible, WorkflowWaiting
from failback.retry import Policy

__all__ = ["FAILOVER", "POINTS", "ROLLBACK_SNAPSHOT", "failover_job_type"]

FAILOVER = "failback.failover"
POINTS = frozenset({"latest", "latest-app", "latest-group", "custom"})
ROLLBACK_SNAPSHOT = "failback-rollback"
_DRAIN_RETRY = Policy(deadline=6 * 3600.0, initial=0.5, maximum=10.0, jitter=0.25)


def _check_failover(params: Mapping[str, Any]) -> None:
    needs_plan(params)
    kind = params.get("kind", "planned")
    if kind not in ("planned", "unplanned"):
        raise InvalidParameters("'kind' is planned or unplanned")
    point = params.get("point", "latest")
    if point not in POINTS:
        raise InvalidParameters(f"'point' is one of {sorted(POINTS)}")
    if point == "custom" and not (params.get("point_id") or params.get("point_time") is not None):
        raise InvalidParameters("a custom point needs 'point_id' or 'point_time'")
    if kind == "planned" and point == "custom":
        raise InvalidParameters(
            "a planned failover cuts over at what the source last wrote: use latest, latest-app or latest-group "
            "(or an unplanned failover to a custom point)"
        )


def _planned(params: Mapping[str, Any]) -> bool:
    return bool(params.get("kind", "planned") == "planned")


# -- failover ------------------------------------------------------------------------------------------------------


def _check(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)

    def check(row: Any) -> list[str]:
        record = current[row.key]
        mt = deps.master_target(scope.plan, record["master_target"])
        found = []
        for disk in record["disks"]:
            status = mt.pair(disk["pair_id"])
            if status is None or status.pair.generation != record["generation"]:
                found.append(f"{row.name}: pair {disk['pair_id']} is not at generation {record['generation']}")
            elif status.state not in (PairState.REPLICATING, PairState.AT_POINT):
                found.append(f"{row.name}: pair {disk['pair_id']} is {status.state.value} ({status.reason})")
        return found

    problems = [problem for found in each([row for row, _vm in scope.items], check) for problem in found]
    if problems:
        raise NotEligible("; ".join(problems), remedy="wait for replication to be healthy, or reprotect again")
    return {"checked": len(scope.items), "kind": ctx.params.get("kind", "planned")}


def _power_off_azure(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    """Shut the Azure VMs down: a planned failover needs them stopped; an unplanned one tries (so the source stops
    diverging) but goes on when Azure cannot be reached - that is what unplanned is for."""
    scope = deps.scope(ctx.params)

    def stop(vms: Any, row: Any) -> tuple[str | None, AzureAdapterError | None]:
        vm_id = row.asr.get("azure_vm_id")
        if not vm_id:
            return None, None
        try:
            if (vms.power_state(vm_id).power_state or "") not in ("stopped", "deallocated"):
                vms.power_off(vm_id)
                return str(row.name), None
        except AzureAdapterError as exc:
            return None, exc
        return None, None

    try:
        with deps.azure_vms(scope.plan.vault) as vms:
            outcomes = each([row for row, _vm in scope.items], lambda row: stop(vms, row))
    except AzureAdapterError as exc:
        if _planned(ctx.params):
            raise
        return {"stopped": [], "not_stopped": str(exc)}
    stopped = [name for name, _ in outcomes if name]
    failures = [error for _, error in outcomes if error is not None]
    if failures:
        if _planned(ctx.params):
            raise failures[0]
        return {"stopped": stopped, "not_stopped": str(failures[0])}
    return {"stopped": stopped}


def _drain(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    """Planned: wait until every source is quiescent (its tracker closed) and acknowledged to the end of its log."""
    if not _planned(ctx.params):
        return {"drained": False}
    scope = deps.scope(ctx.params)
    current = records(deps, scope)

    def undrained(row: Any) -> tuple[int, list[str]]:
        record = current[row.key]
        ps = deps.process_server(scope.plan, record["process_server"])
        left, waiting = 0, []
        for disk in record["disks"]:
            status = ps.pair(disk["pair_id"])
            if status is None:
                raise NotEligible(f"{row.name}: process server {ps.name} has no pair {disk['pair_id']}")
            if status.state is PairState.FAILED:
                raise NotEligible(
                    f"{row.name}: pair {disk['pair_id']} failed on {ps.name}: {status.reason}",
                    remedy="reprotect the item again (a new generation resyncs it), then fail over",
                )
            if not status.drained:
                left += max(status.log_durable_position - status.log_acknowledged_position, 0)
                left += status.backlog_bytes
                why = "the source VM still writes" if status.source_writing else status.state.value
                waiting.append(f"{row.name} disk {disk['source_id']} ({why})")
        return left, waiting

    found = each([row for row, _vm in scope.items], undrained)
    left = sum(bytes_left for bytes_left, _ in found)
    waiting = [entry for _, entries in found for entry in entries]
    ctx.report(message=f"{left} bytes still to drain" if waiting else "drained")
    if waiting:
        raise WorkflowWaiting(f"{len(waiting)} disks not drained yet: {', '.join(waiting[:3])}")
    return {"drained": True}


def _bring_to_point(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    """Choose each VM's point (recorded before any disk moves), then bring its disks there."""
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    kind = ctx.params.get("point", "latest")
    chosen: dict[str, Any] = {}
    if kind == "latest-group":
        _bring_groups(deps, ctx, scope, current)
        current = records(deps, scope)

    def bring(row: Any) -> None:
        record = dict(current[row.key])
        mt = deps.master_target(scope.plan, record["master_target"])
        ids = [d["pair_id"] for d in record["disks"]]
        if "point_choice" not in record:
            choice = choose_point(
                row.name,
                {pair: mt.points(pair) for pair in ids},
                kind=kind,
                planned=_planned(ctx.params),
                point_id=ctx.params.get("point_id"),
                point_time=ctx.params.get("point_time"),
            )
            record["point_choice"] = {"id": choice.point.id if choice.point else None, "why": choice.why}
            save(deps, ctx, row, record)
        if "point" not in record:
            point_id = record["point_choice"]["id"]
            selector = PointSelector("point", point_id=point_id) if point_id else PointSelector("latest")
            record["point"] = _members(mt.bring_to_point(ids, "", selector))
            save(deps, ctx, row, record)
        chosen[row.name] = record["point"]

    each([row for row, _vm in scope.items], bring)
    ctx.report(message=f"{len(chosen)} VMs at their points")
    return {"points": {row.name: chosen[row.name] for row, _vm in scope.items}}


def _bring_groups(deps: Deps, ctx: StepContext, scope: Scope, current: dict[str, dict[str, Any]]) -> None:
    """latest-group: each failback group's master target moves every member to the group's newest common point."""
    groups: dict[str, list[str]] = {}
    for row, _vm in scope.items:
        groups.setdefault(current[row.key]["group"], []).append(row.key)
    for group, keys in sorted(groups.items()):
        members = {row.key for row in deps.protection.items(vault=scope.plan.vault) if _group_of(row) == group}
        missing = members - set(keys)
        if missing:
            names = sorted(deps.protection.item(key).name for key in missing)
            raise NotEligible(
                f"latest-group fails over the whole failback group {group}; the job leaves out {', '.join(names)}",
                remedy="fail over the plan (or every item of the group), or choose another point",
            )
        if all("point" in current[key] for key in keys):
            continue
        mt = deps.master_target(scope.plan, current[keys[0]]["master_target"])
        moved = _members(mt.bring_to_point([], group, PointSelector("latest")))
        for key in keys:
            item = dict(current[key])
            mine = {d["pair_id"] for d in item["disks"]}
            point = {pair: where for pair, where in moved.items() if pair in mine}
            item["point_choice"] = {
                "id": next(iter(point.values()))["id"] if point else None,
                "why": f"the newest point of consistency group {group} that every member holds",
            }
            item["point"] = point
            save(deps, ctx, key, item)


def _group_of(row: Any) -> str:
    return str(row.record.get("group") or row.group_name or row.name)


def _members(members: list[MemberPoint]) -> dict[str, Any]:
    return {m.pair_id: {"id": m.point_id, "time": m.time, "kind": m.kind, "tag": m.tag} for m in members}


def _attest(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    """Each disk's digest at the point on the master target against the source's at the same bookmark, computed by
    the process server from the source disk. A planned failover must prove it: anything but a match fails the job
    before any disk is detached. An unplanned one records what could be proved, and why not the rest."""
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    planned = _planned(ctx.params)
    results: dict[str, Any] = {}

    def attest(row: Any) -> None:
        record = dict(current[row.key])
        if "attestation" in record:
            results[row.name] = record["attestation"]
            return
        mt = deps.master_target(scope.plan, record["master_target"])
        ps = deps.process_server(scope.plan, record["process_server"])
        attestation = {}
        for disk in record["disks"]:
            point_id = record["point"].get(disk["pair_id"], {}).get("id")
            entry = _attest_disk(mt, ps, disk["pair_id"], record["generation"], point_id)
            attestation[disk["pair_id"]] = entry
            if entry["verdict"] == "mismatch" or (planned and entry["verdict"] != "match"):
                raise AttestationFailed(
                    f"{row.name}: disk {disk['source_id']} at {point_id or 'latest'}: {entry['verdict']} "
                    f"(master target {entry['target_digest'][:16]}…, source {(entry['source_digest'] or '-')[:16]}…)"
                    + (f": {entry['reason']}" if entry.get("reason") else ""),
                    remedy="cancel the failover (failbackctl cancel-failover); nothing was detached",
                )
        record["attestation"] = attestation
        save(deps, ctx, row, record)
        results[row.name] = attestation

    each([row for row, _vm in scope.items], attest)
    return {"attestation": {row.name: results[row.name] for row, _vm in scope.items}}


def _attest_disk(mt: Any, ps: Any, pair: str, generation: int, point_id: str | None) -> dict[str, Any]:
    target = mt.digest(pair, generation)
    entry: dict[str, Any] = {
        "point": target.point_id,
        "target_digest": target.digest.hex(),
        "applied_seq": target.applied_seq,
    }
    try:
        source = ps.source_digest(pair, generation, point_id, at_end=point_id is None)
    except AgentError as exc:
        entry.update(source_digest=None, verdict="unverified", reason=exc.message)
        return entry
    entry.update(
        source_digest=source.digest.hex(),
        source_bookmark=source.bookmark_id,
        source_log_position=source.log_position,
        verdict="match" if source.digest == target.digest else "mismatch",
    )
    return entry


def _asr_failover(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    choice = (
        RecoveryPointChoice.latest_tag()
        if ctx.params.get("point") in ("latest-app", "latest-group")
        else RecoveryPointChoice.latest_time()
    )
    with deps.vault(scope.plan.vault) as asr:

        def fail_over(row: Any) -> str | None:
            ref = ItemRef.from_id(row.asr["id"])
            if asr.get_protected_item(ref).active_location == "Primary":
                return None
            return asr.unplanned_failover(ref, choice, direction=FailoverDirection.RECOVERY_TO_PRIMARY).job_id

        rows = [row for row, _vm in scope.items]
        started = each(rows, fail_over)
    return {"asr_jobs": {row.name: job for row, job in zip(rows, started, strict=True) if job is not None}}


def _release_disks(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    """Each master target lets go of its disks (the agent releases and removes each device), then vSphere detaches
    them: one read and one reconfigure per master target, however many disks it holds. Master targets are separate
    machines: they do this side by side."""
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    by_mt: dict[str, list[Any]] = {}
    for row, _vm in scope.items:
        by_mt.setdefault(current[row.key]["master_target"], []).append(row)
    with deps.vcenter(scope.plan.vcenter) as vc:

        def release_all(name: str) -> int:
            rows = by_mt[name]
            mt_uuid = scope.plan.agent(name).vm or ""
            on_mt = {d.uuid.replace("-", "").lower() for d in vc.vm(mt_uuid).disks if d.uuid}
            agent = deps.master_target(scope.plan, name)
            held = [
                disk["disk_id"]
                for row in rows
                for disk in current[row.key]["disks"]
                if disk["disk_id"].removeprefix("naa.") in on_mt
            ]

            def release(disk_id: str) -> None:
                agent.release(disk_id)
                agent.remove(disk_id)

            each(held, release)
            vc.detach_disks(mt_uuid, [disk_id.removeprefix("naa.") for disk_id in held])
            for row in rows:
                record = dict(current[row.key])
                for disk in record["disks"]:
                    disk["attached_to"] = None
                save(deps, ctx, row, record)
            return len(held)

        detached = sum(each(sorted(by_mt), release_all))
    return {"detached": detached}


def _attach_to_vm(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    with deps.vcenter(scope.plan.vcenter) as vc:

        def attach(row: Any) -> int:
            record = dict(current[row.key])
            files = {d.file_name for d in vc.vm(record["vm"]).disks}
            attached = 0
            for disk in record["disks"]:
                if disk["file"] not in files:
                    position = DiskPosition(*disk["position"]) if disk.get("position") else None
                    vc.attach_disk(record["vm"], disk["file"], position=position)
                    attached += 1
                disk["attached_to"] = "vm"
            save(deps, ctx, row, record)
            return attached

        attached = sum(each([row for row, _vm in scope.items], attach))
    return {"attached": attached}


def _customize(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    if not scope.plan.network.restore_static_ips:
        return {"customized": []}
    with deps.vcenter(scope.plan.vcenter) as vc:

        def customize(row: Any) -> str | None:
            record = current[row.key]
            if record.get("os") != "linux" or not record.get("static_ips"):
                return None
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
            if not settings:
                return None
            _queue_customization(vc, vm.instance_uuid, settings, _hostname(row.name), scope.plan.network.domain)
            return str(row.name)

        done = [name for name in each([row for row, _vm in scope.items], customize) if name]
    return {"customized": done}


def _queue_customization(vc: VSphere, uuid: str, settings: list[StaticIp], hostname: str, domain: str) -> None:
    """vCenter refuses a second customisation while one is pending (CustomizationPending). This step runs again
    after a crash that came between queueing and recording it; the VM was powered off and prepared by this job and
    cannot have been powered on since (that is a later step), so the pending one is the one queued here."""
    try:
        vc.customize_guest(uuid, settings, hostname=hostname, domain=domain)
    except InvalidRequest as exc:
        if exc.fault != "vim.fault.CustomizationPending":
            raise


def _hostname(name: str) -> str:
    label = "".join(c if c.isalnum() or c == "-" else "-" for c in name)[:63].strip("-")
    return label or "failback"


def _snapshot(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    with deps.vcenter(scope.plan.vcenter) as vc:

        def snapshot(row: Any) -> int:
            record = dict(current[row.key])
            vm = vc.vm(record["vm"])
            existing = next((s for s in vm.snapshots if s.name == ROLLBACK_SNAPSHOT), None)
            taken = 0
            if existing is None:
                existing = vc.create_snapshot(
                    vm.instance_uuid, ROLLBACK_SNAPSHOT, description=f"failback job {ctx.job_id}: state before power-on"
                )
                taken = 1
            record["rollback_snapshot"] = existing.moid
            save(deps, ctx, row, record)
            return taken

        taken = sum(each([row for row, _vm in scope.items], snapshot))
    return {"taken": taken}


def _power_on(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    """Boot groups one after the other; within a group every VM is powered on and awaited side by side."""
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    order: dict[int, list[str]] = {}
    for row, vm in scope.items:
        order.setdefault(vm.boot_group or 1, []).append(row.key)
    booted = []
    tools = Policy(deadline=deps.tools_deadline, initial=1.0, maximum=10.0, jitter=0.5)
    context = threading.Lock()  # the step's context is not for concurrent use
    with deps.vcenter(scope.plan.vcenter) as vc:
        for group in sorted(order):

            def boot(uuid: str) -> None:
                vc.power_on(uuid)

                def tools_running() -> bool | None:
                    with context:
                        ctx.checkpoint()
                    return True if vc.vm(uuid).tools_running_status == "guestToolsRunning" else None

                tools.wait_for(tools_running, what=f"VMware Tools in VM {uuid}")

            each([current[key]["vm"] for key in order[group]], boot)
            booted.append(group)
    return {"boot_groups": booted}


def failover_job_type(deps: Deps) -> JobType:
    def window(scope: Scope) -> dt.timedelta:
        return scope.plan.rollback_window

    return JobType(
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
        validate=startable(deps, "failover", _check_failover),
    )
