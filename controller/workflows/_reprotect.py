"""``failback.reprotect``: make the Azure VMs replicate to the on-premises site, per VM or per plan.

Steps (each checks the world or the item's record before acting, so a re-run after a crash does nothing twice):

1. ``claim``        the items move to ``reprotecting``, held by this job, or the job fails before any work;
2. ``decide``       per item, original or alternate location and why; the master target for each failback group
                    (placement by free slots, retention space and load); the static IPs to restore later. Recorded
                    once: a re-run keeps the first decision;
3. ``prepare-vms``  power the on-premises VM off and record where its disks sit, or create the new VM (alternate);
4. ``attach-disks`` attach the VM's own disks (original) or new replica disks (alternate) to the master target,
                    independent so that no master-target snapshot ever holds them;
5. ``resolve-disks`` the master target rescans and finds each disk by its SCSI id, then prepares it;
6. ``create-pairs`` a new generation per pair, on the master target then on the process server;
7. ``asr-reprotect`` the vault records the reverse direction (InMage reprotect, RecoveryToPrimary);
8. ``sync``         initial sync or delta resync until every pair replicates: bytes, ETA and an RPO forecast;
9. ``finish``       the items are ``replicating``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from controller import vsphere
from controller.azure import FailoverDirection, InMageReprotect, ItemRef, same_id
from controller.jobs import JobType, Step, StepContext
from controller.vsphere import REPLICA_FOLDER, Controller, Inventory, Nic, PowerState, VirtualMachine, static_ips
from controller.workflows._common import (
    claim_step,
    finish_step,
    records,
    save,
    startable,
    subject,
    vm_by_disks,
)
from controller.workflows._deps import Deps, Scope, pair_id
from controller.workflows._forecast import forecast
from controller.workflows._location import OnPremVm, decide_location
from controller.workflows._placement import MasterTargetRoom, PlacementUnit, place
from controller.workflows.errors import NotEligible, WorkflowWaiting
from failback.diskid import InvalidDiskId, normalize_disk_id
from failback.retry import Policy

__all__ = ["REPROTECT", "policy_id", "reprotect_job_type"]

REPROTECT = "failback.reprotect"
_SYNC_RETRY = Policy(deadline=7 * 86400.0, initial=2.0, maximum=30.0, jitter=1.0)
_DEFAULT_CPUS, _DEFAULT_MEMORY_MB = 2, 4096
_FIRMWARE = {"BIOS": "bios", "UEFI": "efi"}  # ASR's firmwareType -> vSphere's firmware


def _normal(value: str) -> str | None:
    try:
        return normalize_disk_id(value)
    except InvalidDiskId:
        return None


def _master_target_vm(inventory: Inventory, deps: Deps, scope: Scope, name: str) -> VirtualMachine:
    uuid = scope.plan.agent(name).vm or ""
    vm = inventory.vm(uuid)
    if vm is None:
        raise NotEligible(
            f"master target {name}: vCenter {scope.plan.vcenter} has no VM with instance UUID {uuid}",
            remedy="fix 'vm' of the agent in the plan file, or refresh the vCenter",
        )
    return vm


# -- decide ----------------------------------------------------------------------------------------------------------


def _decide(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    pending = [(row, vm) for row, vm in scope.items if "location" not in current[row.key]]
    if not pending:
        return {"decided": 0}
    plan = scope.plan
    with deps.vcenter(plan.vcenter) as vc:
        inventory = vc.inventory()
    rooms, hosts = [], {}
    for name in plan.master_targets:
        mt_vm = _master_target_vm(inventory, deps, scope, name)
        host = inventory.host(mt_vm.host or "")
        hosts[name] = host
        slots = deps.master_target(plan, name).disks()
        used = sum(len(r.get("disks", ())) for r in current.values() if r.get("master_target") == name)
        rooms.append(MasterTargetRoom(name, max(slots.free - used, 0), 2**50, load_bytes=0))
    units: dict[str, PlacementUnit] = {}
    decisions: dict[str, dict[str, Any]] = {}
    for row, vm in pending:
        disks = list(row.asr.get("disks", ()))
        ids = [_normal(d.get("id", "")) for d in disks]
        candidate_vm = vm_by_disks(inventory, {i for i in ids if i})
        candidate = None
        if candidate_vm is not None:
            candidate = OnPremVm(
                candidate_vm.instance_uuid,
                candidate_vm.name,
                {i: d.datastore for d in candidate_vm.disks if (i := _normal(d.uuid or ""))},
                {ds.moid: ds.name for ds in inventory.datastores},
            )
        unit_name = row.group_name or row.name
        pinned = vm.master_target
        first_mt = pinned or plan.master_targets[0]
        host = hosts.get(first_mt)
        decision = decide_location(
            item=row.name,
            requested=vm.location,
            physical=bool(row.asr.get("physical")) or any(i is None for i in ids),
            protected_disks=[i for i in ids if i],
            candidate=candidate,
            master_target_datastores=frozenset(host.datastores if host else ()),
            master_target_host=host.name if host else "(unknown)",
        )
        size = sum(int(d.get("capacity_bytes") or 0) for d in disks)
        unit = units.get(unit_name)
        units[unit_name] = PlacementUnit(
            unit_name,
            (*(unit.items if unit else ()), row.key),
            (unit.disks if unit else 0) + len(disks),
            (unit.bytes if unit else 0) + size,
            plan.master_targets,
            pinned or (unit.pinned if unit else None),
        )
        original = inventory.vm(decision.vm) if decision.vm else None
        datastore = _chosen_datastore(inventory, plan, vm)
        decisions[row.key] = {
            "location": decision.location,
            "reasons": list(decision.reasons),
            "vm": decision.vm,
            "vm_name": original.name if original else (vm.name or f"{row.name}-failback"),
            "datastore": (original.datastores[0] if original and original.datastores else datastore.moid),
            "group": unit_name,
            "generation": int(current[row.key].get("generation", 0)),
            "static_ips": _static_ips(vm, original, row.asr),
            "os": (row.asr.get("os_type") or "").lower() or None,
            "hardware": dict(row.asr.get("hardware") or {}),
            "disks": [
                {
                    "source_id": d.get("id"),
                    "capacity_bytes": int(d.get("capacity_bytes") or 0),
                    "disk_id": ids[index] if decision.location == "original" else None,
                    "pair_id": pair_id(row.key, index),
                    "source": _source(vm, d, index),
                    "change_log": _change_log(vm, d, index),
                }
                for index, d in enumerate(disks)
            ],
        }
    placed = place(list(units.values()), rooms)
    for key, decided in decisions.items():
        decided["master_target"] = placed[decided["group"]]
        decided["process_server"] = scope.vm(key).process_server or plan.process_server
        decided["retention_dir"] = f"{scope.vm(key).retention_volume or plan.retention_volume}/failback"
        save(deps, ctx, key, {**current[key], **decided})
    ctx.report(1.0, message=f"{len(decisions)} items decided")
    return {
        "decided": len(decisions),
        "locations": {deps.protection.item(k).name: d["location"] for k, d in decisions.items()},
        "placement": placed,
    }


def _chosen_datastore(inventory: Inventory, plan: Any, vm: Any) -> vsphere.Datastore:
    """The VM's datastore from the plan (its own, else the plan's), where a new VM and its replica disks go."""
    name = vm.datastore or plan.datastore
    found = inventory.datastore(name) or inventory.datastore_named(name)
    if found is None:
        raise NotEligible(
            f"{vm.item}: vCenter {plan.vcenter} has no datastore {name}",
            remedy="name a datastore of the vCenter (by name or moid) in the plan file",
        )
    return found


def _static_ips(vm: Any, original: VirtualMachine | None, asr: dict[str, Any]) -> list[dict[str, Any]]:
    if vm.ips:
        return [
            {
                "mac": ip.mac,
                "address": ip.address,
                "prefix": ip.prefix,
                "gateways": list(ip.gateways),
                "dns": list(ip.dns),
            }
            for ip in vm.ips
        ]
    if original is not None:
        return [
            {
                "mac": s.mac,
                "address": s.address,
                "prefix": s.prefix_length,
                "gateways": list(s.gateways),
                "dns": list(s.dns_servers),
            }
            for s in static_ips(original)
        ]
    return []


def _source(vm: Any, disk: dict[str, Any], index: int) -> str | None:
    found = next((d for d in vm.disks if d.id == disk.get("id")), None)
    return found.source if found else None


def _change_log(vm: Any, disk: dict[str, Any], index: int) -> str | None:
    found = next((d for d in vm.disks if d.id == disk.get("id")), None)
    return found.change_log if found else None


# -- prepare the on-premises VMs ------------------------------------------------------------------------------------


def _new_vm_record(name: str, record: dict[str, Any], networks: Sequence[str]) -> VirtualMachine:
    """The hardware of a new VM for an item without an on-premises VM: what ASR recorded of the source machine
    (CPUs, memory, firmware, one NIC per source NIC on ``networks``), with safe defaults where it recorded nothing."""
    hardware = record.get("hardware") or {}
    nics = tuple(
        Nic(-1 - index, f"Network adapter {index + 1}", "vmxnet3", None, False, network, None, True, True, ())
        for index, network in enumerate(networks)
    )
    return VirtualMachine(
        instance_uuid="",
        bios_uuid=None,
        moid="",
        name=name,
        datacenter=None,
        host=None,
        resource_pool=None,
        power_state=PowerState.OFF,
        template=False,
        guest_id="otherLinux64Guest" if record.get("os") == "linux" else "windows9Server64Guest",
        guest_full_name=None,
        tools_running_status=None,
        tools_version_status=None,
        firmware=_FIRMWARE.get(str(hardware.get("firmware") or "").upper(), "efi"),
        num_cpus=int(hardware.get("cpus") or _DEFAULT_CPUS),
        cores_per_socket=1,
        memory_mb=int(hardware.get("memory_mb") or _DEFAULT_MEMORY_MB),
        vmx_path=None,
        nics=nics,
        controllers=(Controller(-100, "pvscsi", 0, None),),
        disks=(),
        snapshots=(),
        disk_enable_uuid=True,
        change_tracking=None,
        datastores=(),
        gateways=(),
        dns_servers=(),
    )


def _prepare_vms(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    plan = scope.plan
    created, powered_off = 0, 0
    with deps.vcenter(plan.vcenter) as vc:
        inventory = vc.inventory()
        for row, _vm in scope.items:
            record = dict(current[row.key])
            if record["location"] == "original":
                vm = inventory.vm(record["vm"])
                if vm is None:
                    raise NotEligible(f"{row.name}: VM {record['vm_name']} disappeared since the decision")
                if vm.power_state is not PowerState.OFF:
                    vc.power_off(vm.instance_uuid)
                    powered_off += 1
                for disk in record["disks"]:
                    on_vm = next((d for d in vm.disks if _normal(d.uuid or "") == disk["disk_id"]), None)
                    if on_vm is not None and "position" not in disk:
                        position = vm.position(on_vm)
                        disk["position"] = [position.bus_number, position.unit_number] if position else None
                        disk["file"] = on_vm.file_name
                save(deps, ctx, row, record)
            elif not record.get("vm"):
                existing = next((v for v in inventory.vms if v.name == record["vm_name"] and not v.disks), None)
                if existing is None:
                    mt_vm = _master_target_vm(inventory, deps, scope, record["master_target"])
                    networks = _nic_networks(inventory, plan.network.map, mt_vm, record)
                    existing = vc.create_vm(
                        _new_vm_record(record["vm_name"], record, networks),
                        name=record["vm_name"],
                        host=mt_vm.host or "",
                        datastore=record["datastore"],
                    )
                    created += 1
                record["vm"] = existing.instance_uuid
                for index, disk in enumerate(record["disks"]):
                    disk.setdefault("position", [0, index if index < 7 else index + 1])
                save(deps, ctx, row, record)
            ctx.report(bytes_done=None, message=f"{row.name} ready")
    return {"created": created, "powered_off": powered_off}


def _nic_networks(
    inventory: Inventory, mapping: Mapping[str, str], mt_vm: VirtualMachine, record: dict[str, Any]
) -> list[str]:
    """A network moid per NIC of the new VM: each source NIC's network (as ASR recorded it) through the plan's
    network map, else the network of that name on-premises, else the fallback; one NIC on the fallback when ASR
    recorded none."""
    fallback = _mapped_network(inventory, mapping, mt_vm)
    networks = []
    for source in (record.get("hardware") or {}).get("nics") or ():
        found = inventory.network_named(mapping.get(source, source))
        if found is not None:
            networks.append(found.moid)
        elif fallback is not None:
            networks.append(fallback)
    if not networks and fallback is not None:
        networks.append(fallback)
    return networks


def _mapped_network(inventory: Inventory, mapping: Mapping[str, str], mt_vm: VirtualMachine) -> str | None:
    """The network for a NIC with no source network to follow: the first mapped target network, else the master
    target's first."""
    for target in mapping.values():
        network = inventory.network_named(target)
        if network is not None:
            return network.moid
    return next((nic.network for nic in mt_vm.nics if nic.network), None)


# -- disks on the master target -------------------------------------------------------------------------------------


def _attach_disks(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    plan = scope.plan
    attached = 0
    with deps.vcenter(plan.vcenter) as vc:
        inventory = vc.inventory()
        for row, _vm in scope.items:
            record = dict(current[row.key])
            mt_vm = _master_target_vm(inventory, deps, scope, record["master_target"])
            on_mt = {d.file_name: d for d in (vc.vm(mt_vm.instance_uuid).disks)}
            for index, disk in enumerate(record["disks"]):
                if record["location"] == "original":
                    vm = vc.vm(record["vm"])
                    if any(_normal(d.uuid or "") == disk["disk_id"] for d in vm.disks):
                        vc.detach_disk(record["vm"], disk["disk_id"].removeprefix("naa."))
                else:
                    disk.setdefault("file", _replica_path(inventory, record, index))
                    if disk["file"] not in on_mt:
                        _create_replica(vc, inventory, record, index, disk)
                if disk["file"] not in on_mt:
                    placed = vc.attach_disk(mt_vm.instance_uuid, disk["file"], independent=True)
                    attached += 1
                else:
                    placed = on_mt[disk["file"]]
                disk["disk_id"] = _normal(placed.uuid or "")
                disk["attached_to"] = "master-target"
                save(deps, ctx, row, record)
    ctx.report(1.0)
    return {"attached": attached}


def _replica_path(inventory: Inventory, record: dict[str, Any], index: int) -> str:
    store = inventory.datastore(record["datastore"])
    return f"[{store.name if store else record['datastore']}] {REPLICA_FOLDER}/{record['vm_name']}/disk-{index}.vmdk"


def _create_replica(
    vc: vsphere.VSphere, inventory: Inventory, record: dict[str, Any], index: int, disk: dict[str, Any]
) -> None:
    # AlreadyExists: our own replica disk, from a run that stopped before recording it.
    with contextlib.suppress(vsphere.errors.AlreadyExists):
        vc.create_replica_disk(record["datastore"], record["vm_name"], f"disk-{index}", disk["capacity_bytes"])


def _resolve_disks(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    by_mt: dict[str, list[str]] = {}
    for record in current.values():
        by_mt.setdefault(record["master_target"], []).extend(d["disk_id"] for d in record["disks"])
    for name, ids in sorted(by_mt.items()):
        agent = deps.master_target(scope.plan, name)
        agent.rescan(ids)
        for disk_id in ids:
            agent.resolve(disk_id)
            agent.prepare(disk_id)
    return {"resolved": {name: len(ids) for name, ids in by_mt.items()}}


# -- pairs --------------------------------------------------------------------------------------------------------


def _create_pairs(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    from controller.agents import SourcePair, TargetPair

    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    created = 0
    for row, _vm in scope.items:
        record = dict(current[row.key])
        if "pair_generation" not in record:
            # Decided and recorded before any agent sees it: a re-run uses the same generation, never a third.
            record["pair_generation"] = int(record.get("generation", 0)) + 1
            save(deps, ctx, row, record)
        generation = record["pair_generation"]
        mt = deps.master_target(scope.plan, record["master_target"])
        ps = deps.process_server(scope.plan, record["process_server"])
        for disk in record["disks"]:
            status = mt.pair(disk["pair_id"])
            if status is None or status.pair.generation < generation:
                mt.put_pair(
                    TargetPair(
                        disk["pair_id"],
                        generation,
                        disk["disk_id"],
                        disk["capacity_bytes"],
                        record["process_server"],
                        record["retention_dir"],
                        record["group"],
                    )
                )
                created += 1
            source = ps.pair(disk["pair_id"])
            if source is None or source.pair.generation < generation:
                if not disk.get("source"):
                    raise NotEligible(
                        f"{row.name}: the plan does not say where process server {ps.name} reads disk "
                        f"{disk['source_id']}",
                        remedy="add it under [[vms]] disks = [{ id = ..., source = ..., change_log = ... }]",
                    )
                ps.put_pair(
                    SourcePair(
                        disk["pair_id"],
                        generation,
                        disk["source"],
                        disk.get("change_log") or "",
                        scope.plan.agent(record["master_target"]).address,
                        record["master_target"],
                    )
                )
        record["generation"] = generation
        save(deps, ctx, row, record)
    return {"pairs": created}


def _asr_reprotect(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    plan = scope.plan
    jobs: dict[str, str | None] = {}
    with deps.vault(plan.vault) as asr:
        fabrics = asr.list_fabrics()
        for row, _vm in scope.items:
            ref = ItemRef.from_id(row.asr["id"])
            item = asr.get_protected_item(ref)
            if (
                item.protection_state == "Protected"
                and item.active_location == "Recovery"
                and item.provider == "InMage"
            ):
                continue
            record = current[row.key]
            fabric = next(f for f in fabrics if f.name.lower() == ref.fabric.lower())
            mt_id = _asr_server(plan.agent(record["master_target"]), fabric.master_targets)
            ps_id = _asr_server(plan.agent(record["process_server"]), fabric.process_servers)
            account = (
                next((a.id for a in fabric.run_as_accounts if plan.run_as_account in (a.id, a.name)), None)
                if plan.run_as_account
                else None
            )
            datastore = record.get("datastore_name") or _datastore_name(deps, plan, record)
            spec = InMageReprotect(
                master_target_id=mt_id,
                process_server_id=ps_id,
                retention_drive=plan.retention_volume,
                policy_id=policy_id(asr, plan.policy),
                run_as_account_id=account,
                datastore_name=datastore,
            )
            result = asr.reprotect(ref, spec, direction=FailoverDirection.RECOVERY_TO_PRIMARY)
            jobs[row.name] = result.job_id
    return {"asr_jobs": jobs}


def _asr_server(agent: Any, servers: Any) -> str:
    for server in servers:
        if (agent.asr_id and same_id(server.id, agent.asr_id)) or (not agent.asr_id and server.name == agent.name):
            return str(server.id)
    raise NotEligible(
        f"the vault has no server for agent {agent.name}",
        remedy="set asr_id of the agent in the plan file to the server's id in the vault",
    )


def policy_id(asr: Any, policy: str) -> str:
    if policy.startswith("/"):
        return policy
    vault = asr.vault
    return (
        f"/Subscriptions/{vault.subscription_id}/resourceGroups/{vault.resource_group}/providers/"
        f"Microsoft.RecoveryServices/vaults/{vault.name}/replicationPolicies/{policy}"
    )


def _datastore_name(deps: Deps, plan: Any, record: dict[str, Any]) -> str | None:
    with deps.vcenter(plan.vcenter) as vc:
        store = vc.inventory().datastore(record["datastore"])
    return store.name if store else None


# -- sync ---------------------------------------------------------------------------------------------------------


def _sync(deps: Deps, ctx: StepContext) -> dict[str, Any]:
    from controller.agents import PairState

    scope = deps.scope(ctx.params)
    current = records(deps, scope)
    total = done = plain = wire = 0
    waiting: list[str] = []
    for row, _vm in scope.items:
        record = current[row.key]
        mt = deps.master_target(scope.plan, record["master_target"])
        ps = deps.process_server(scope.plan, record["process_server"])
        for disk in record["disks"]:
            target, source = mt.pair(disk["pair_id"]), ps.pair(disk["pair_id"])
            size = int(disk["capacity_bytes"])
            total += size
            if target is None or source is None:
                waiting.append(f"{row.name} disk {disk['source_id']} (no pair)")
                continue
            plain += source.plain_bytes_sent
            wire += source.wire_bytes_sent
            synced = target.state is PairState.REPLICATING and source.state is PairState.REPLICATING
            done += size if synced else int(size * (source.resync_percent or 0) / 100)
            if not synced:
                waiting.append(f"{row.name} disk {disk['source_id']} ({source.state.value})")
    started = dt.datetime.fromisoformat(ctx.params.get("submitted_at") or deps.clock().isoformat())
    elapsed = max((deps.clock() - started).total_seconds(), 0.001)
    outlook = forecast(
        bytes_done=done,
        bytes_total=total,
        elapsed_seconds=elapsed,
        plain_sent=plain,
        wire_sent=wire,
        churn_bytes_per_second=None,
    )
    ctx.report(bytes_done=done, bytes_total=total or None, message=outlook.note)
    if waiting:
        raise WorkflowWaiting(f"{len(waiting)} disks still syncing: {', '.join(waiting[:3])}")
    return {"bytes_total": total, "forecast": outlook.to_json()}


def reprotect_job_type(deps: Deps) -> JobType:
    return JobType(
        REPROTECT,
        "Reprotect: replicate from Azure to the on-premises site",
        (
            Step("claim", claim_step(deps, "reprotect"), title="Claim the items"),
            Step("decide", lambda ctx: _decide(deps, ctx), title="Decide locations and place disks"),
            Step("prepare-vms", lambda ctx: _prepare_vms(deps, ctx), title="Power off or create the on-premises VMs"),
            Step("attach-disks", lambda ctx: _attach_disks(deps, ctx), title="Attach disks to the master targets"),
            Step("resolve-disks", lambda ctx: _resolve_disks(deps, ctx), title="Find the disks by SCSI id"),
            Step("create-pairs", lambda ctx: _create_pairs(deps, ctx), title="Create the replication pairs"),
            Step("asr-reprotect", lambda ctx: _asr_reprotect(deps, ctx), title="Record the reverse direction in ASR"),
            Step(
                "sync", lambda ctx: _sync(deps, ctx), title="Initial sync or delta resync", retry=_SYNC_RETRY, weight=10
            ),
            Step("finish", finish_step(deps, "reprotect"), title="Items replicate"),
        ),
        subject=subject,
        validate=startable(deps, "reprotect"),
    )
