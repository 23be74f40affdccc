"""From gathered data to the facts the checks read, one section (plan) at a time.

This is where the doctor decides what each check can honestly know:

* the on-premises VM of an item is the one the workflow recorded, else the VM holding its protected disks' UUIDs
  (master targets excluded: they hold those disks while replicating), as the workflow finds it;
* the master target of an item is the one it was placed on, else the placement the workflow would make now
  (``controller.workflows.place`` over the free slots the agents report);
* disks failback itself attached to a master target are not a UUID clash;
* static IPs: the plan's, those VMware Tools reported for the on-premises VM, and the one ASR recorded; the failover
  can restore the plan's, or Tools' addresses with their prefix and network adapter, in Linux guests only;
* NetworkManager in the guest: no source can show it (VMware Tools report no packages or services, and the guest
  runs in Azure now), so it is always unknown.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.azure import same_id
from controller.doctor._azure_checks import asr_expectation
from controller.doctor._facts import (
    AgentFacts,
    AsrServerFacts,
    ControllerFacts,
    DatastoreFacts,
    DoctorFacts,
    ItemFacts,
    MasterTargetFacts,
    RetentionFacts,
    VaultFacts,
    VCenterFacts,
)
from controller.doctor._gather import AgentData, AsrItem, RetentionReport, VaultData, VCenterData
from controller.doctor._selection import Section
from controller.doctor._views import DatastoreView, InventoryView, VmView, disk_key
from controller.fleet import MASTER_TARGET_DISK_LIMIT, MasterTargetCapacity, capacity_from_json
from controller.store import ItemRow
from controller.workflows import MasterTargetRoom, PlacementFailed, PlacementUnit, PlanSpec, VmSpec, place

__all__ = ["Gathered", "assemble"]

NETWORK_MANAGER_NOTE = (
    "cannot tell whether NetworkManager is installed in the guest: VMware Tools report no packages or services, "
    "and the guest runs in Azure now"
)
# Items whose disks a reprotect has still to attach to a master target.
_TO_ATTACH = frozenset({"failed-over-to-azure", "reprotecting"})


@dataclass(frozen=True)
class Gathered:
    vcenters: Mapping[str, VCenterData]
    vaults: Mapping[str, VaultData]
    agents: Mapping[str, AgentData]
    attached_ids: frozenset[str]  # disk ids failback attached to master targets, from every item's record


@dataclass(frozen=True)
class _Context:
    now: dt.datetime
    controller: ControllerFacts
    stale_after: float
    gathered: Gathered
    agent_certificate_warning: dt.timedelta


def assemble(
    section: Section,
    gathered: Gathered,
    *,
    now: dt.datetime,
    controller: ControllerFacts,
    stale_after: dt.timedelta,
    agent_lifetime: dt.timedelta = dt.timedelta(days=7),
) -> list[DoctorFacts]:
    """The facts of one section: one set for a plan or the VMs in no plan; one per source or agent group for the
    rest of ``all``. ``agent_lifetime`` is how long the controller issues agents' certificates for."""
    ctx = _Context(now, controller, stale_after.total_seconds(), gathered, agent_lifetime / 4)
    facts: list[DoctorFacts] = []
    if section.plan is not None:
        facts.append(_plan_facts(ctx, section.plan, section.items))
    elif section.items:
        facts.append(_loose_facts(ctx, section.items))
    for name in section.vcenters:
        facts.append(_base(ctx, vcenter=_vcenter_facts(gathered.vcenters[name])))
    if section.vaults:
        facts.append(_base(ctx, vaults=tuple(_vault_facts(gathered.vaults[name]) for name in section.vaults)))
    if section.agents:
        agents = [gathered.agents[name] for name in section.agents]
        facts.append(
            _base(
                ctx,
                master_targets=tuple(
                    _unplanned_master_target(ctx, data) for data in agents if data.role == "master-target"
                ),
                process_servers=tuple(_agent_facts(ctx, data) for data in agents if data.role != "master-target"),
            )
        )
    return facts


def _base(ctx: _Context, **fields: object) -> DoctorFacts:
    facts = DoctorFacts(
        now=ctx.now,
        controller=ctx.controller,
        stale_after_seconds=ctx.stale_after,
        agent_certificate_warning=ctx.agent_certificate_warning,
    )
    return dataclasses.replace(facts, **fields)  # type: ignore[arg-type]


# -- sources ----------------------------------------------------------------------------------------------------------


def _vcenter_facts(data: VCenterData) -> VCenterFacts:
    return VCenterFacts(
        data.name,
        data.user,
        connected=data.connected,
        error=data.error,
        note=data.note,
        certificate_not_after=data.certificate_not_after,
        privileges_note=data.privileges_note,
    )


def _vault_facts(data: VaultData) -> VaultFacts:
    return VaultFacts(data.name, connected=data.connected, error=data.error, note=data.note)


def _datastore(vc: VCenterData, ds: DatastoreView) -> DatastoreFacts:
    missing = vc.missing_privileges.get(ds.moid, ()) if vc.missing_privileges is not None else None
    return DatastoreFacts(ds.moid, ds.name, ds.type, free_bytes=ds.free_bytes, missing_privileges=missing)


# -- agents -----------------------------------------------------------------------------------------------------------


def _agent_facts(ctx: _Context, data: AgentData) -> AgentFacts:
    row, info, beat = data.row, data.info, data.heartbeat
    return AgentFacts(
        data.name,
        data.role,
        registered=data.registered,
        version=info.version if info else (row.version if row else None),
        answers=data.answers,
        answer_error=data.error if data.answers is False else None,
        probe_note=data.probe_note,
        heartbeat_age_seconds=(ctx.now - beat.received_at).total_seconds() if beat else None,
        certificate_not_after=(info.certificate_not_after if info and info.certificate_not_after else None)
        or (row.certificate_not_after if row else None),
        azure_permissions=data.azure,
        azure_note=data.azure_note,
    )


def _attached(data: AgentData) -> tuple[int | None, int, str]:
    """Disks attached to the master target now, its limit, and who said so."""
    if data.disks is not None:
        return data.disks.attached, data.disks.limit or MASTER_TARGET_DISK_LIMIT, "its agent's Disks API"
    capacity = capacity_from_json(data.heartbeat.capacity) if data.heartbeat else None
    if isinstance(capacity, MasterTargetCapacity) and capacity.attached_disks is not None:
        return capacity.attached_disks, capacity.disk_limit, "its last heartbeat"
    return None, MASTER_TARGET_DISK_LIMIT, "neither its agent's Disks API nor its heartbeats said"


def _retention(data: AgentData, path: str) -> RetentionFacts | None:
    """The report of the volume holding ``path``: the longest mount point that contains it."""
    best: RetentionReport | None = None
    for report in data.retention or ():
        mount = report.path.rstrip("/") or "/"
        if (path == mount or path.startswith(mount.rstrip("/") + "/")) and (
            best is None or len(mount) > len(best.path)
        ):
            best = report
    if best is None:
        return None
    return RetentionFacts(
        path,
        best.eligible,
        best.reasons,
        best.capacity_bytes,
        best.free_bytes,
        best.threshold_pct,
        source=data.retention_source,
        eligibility_waived=best.eligibility_waived,
    )


def _unplanned_master_target(ctx: _Context, data: AgentData) -> MasterTargetFacts:
    attached, limit, said = _attached(data)
    return MasterTargetFacts(
        _agent_facts(ctx, data), vm_uuid=None, attached_disks=attached, disk_limit=limit, attached_source=said
    )


# -- plans ------------------------------------------------------------------------------------------------------------


def _item_disks(row: ItemRow) -> list[dict[str, object]]:
    return [d for d in row.asr.get("disks", ()) if isinstance(d, dict)]


def _attaching(row: ItemRow) -> int:
    """Disks of the item a reprotect would still attach to a master target."""
    if row.state not in _TO_ATTACH:
        return 0
    recorded = row.record.get("disks") or []
    if recorded:
        return sum(1 for d in recorded if d.get("attached_to") != "master-target")
    return len(_item_disks(row))


def _placement(
    ctx: _Context, plan: PlanSpec, items: Sequence[tuple[ItemRow, VmSpec | None]]
) -> tuple[dict[str, str], dict[str, int], str | None]:
    """Item key -> master target, planned disks per master target, and why placement fails (None: it fits)."""
    assigned: dict[str, str] = {}
    units: dict[str, PlacementUnit] = {}
    for row, vm in items:
        decided = row.record.get("master_target")
        if isinstance(decided, str) and decided:
            assigned[row.key] = decided
            continue
        name = row.group_name or row.name
        unit = units.get(name)
        disks = _attaching(row)
        size = sum(int(str(d.get("capacity_bytes") or 0)) for d in _item_disks(row))
        pinned = (vm.master_target if vm else None) or (unit.pinned if unit else None)
        units[name] = PlacementUnit(
            name,
            (*(unit.items if unit else ()), row.key),
            (unit.disks if unit else 0) + disks,
            (unit.bytes if unit else 0) + size,
            plan.master_targets,
            pinned,
        )
    planned: dict[str, int] = {}
    for row, _vm in items:
        if row.key in assigned:
            planned[assigned[row.key]] = planned.get(assigned[row.key], 0) + _attaching(row)
    rooms: list[MasterTargetRoom] = []
    for name in plan.master_targets:
        data = ctx.gathered.agents.get(name)
        attached, limit, _said = _attached(data) if data else (None, MASTER_TARGET_DISK_LIMIT, "")
        if attached is None:
            rooms = []
            break
        # Retention room is not known before the agents report it; the retention check judges it separately.
        rooms.append(MasterTargetRoom(name, max(limit - attached - planned.get(name, 0), 0), 2**50))
    problem = None
    placed: dict[str, str] = {}
    if rooms:
        try:
            placed = place(list(units.values()), rooms)
        except PlacementFailed as exc:
            problem = exc.message
    for unit in units.values():
        target = placed.get(unit.name) or unit.pinned or plan.master_targets[0]
        for key in unit.items:
            assigned[key] = target
        if problem is None:
            planned[target] = planned.get(target, 0) + unit.disks
    return assigned, planned, problem


def _plan_facts(ctx: _Context, plan: PlanSpec, items: Sequence[tuple[ItemRow, VmSpec | None]]) -> DoctorFacts:
    vc = ctx.gathered.vcenters[plan.vcenter]
    vault = ctx.gathered.vaults[plan.vault]
    view = vc.view
    mt_uuids = [a.vm for a in plan.agents if a.role == "master-target" and a.vm]
    assigned, planned, problem = _placement(ctx, plan, items)
    item_facts = []
    for row, vm in items:
        spec = vm or VmSpec(item=row.name)
        item_facts.append(
            _item_facts(
                ctx,
                row,
                spec,
                plan=plan,
                vc=vc,
                view=view,
                vault=vault,
                master_target=assigned.get(row.key, ""),
                process_server=str(row.record.get("process_server") or spec.process_server or plan.process_server),
                exclude=mt_uuids,
            )
        )
    mt_names = list(dict.fromkeys([*plan.master_targets, *(f.master_target for f in item_facts if f.master_target)]))
    ps_names = list(dict.fromkeys([f.process_server for f in item_facts] or [plan.process_server]))
    master_targets = tuple(
        _master_target(ctx, plan, name, view, items, planned.get(name, 0), problem) for name in mt_names
    )
    asr = tuple(
        _asr_server(plan, vault, name, role)
        for role, names in (("master-target", mt_names), ("process-server", ps_names))
        for name in names
    )
    return _base(
        ctx,
        vcenter=_vcenter_facts(vc),
        vaults=(_vault_facts(vault),),
        master_targets=master_targets,
        process_servers=tuple(_agent_facts(ctx, ctx.gathered.agents[name]) for name in ps_names),
        items=tuple(item_facts),
        asr_servers=asr,
    )


def _loose_facts(ctx: _Context, items: Sequence[tuple[ItemRow, VmSpec | None]]) -> DoctorFacts:
    """VMs in no plan: their vault state and their on-premises VM, wherever a registered vCenter has it."""
    facts = []
    vaults = {}
    for row, _vm in items:
        vault = ctx.gathered.vaults[row.vault]
        vaults[row.vault] = vault
        ids = _protected_ids(row)
        found = [
            (vc, vc.view)
            for vc in ctx.gathered.vcenters.values()
            if vc.view is not None and vc.view.vm_by_disks(ids) is not None
        ]
        vc, view = found[0] if found else (None, None)
        facts.append(
            _item_facts(
                ctx,
                row,
                VmSpec(item=row.name),
                plan=None,
                vc=vc,
                view=view,
                vault=vault,
                master_target="",
                process_server="",
                exclude=(),
            )
        )
    return _base(ctx, vaults=tuple(_vault_facts(v) for v in vaults.values()), items=tuple(facts))


def _protected_ids(row: ItemRow) -> set[str]:
    return {key for d in _item_disks(row) if (key := disk_key(str(d.get("id") or "")))}


def _asr(row: ItemRow, vault: VaultData) -> AsrItem:
    arm_id = str(row.asr.get("id", "")).rstrip("/").lower()
    found = vault.items.get(arm_id)
    if found is not None:
        return found
    return AsrItem(
        row.asr.get("protection_state"),
        row.asr.get("active_location"),
        row.asr.get("provider"),
        row.asr.get("os_type"),
        row.asr.get("ip_address"),
    )


def _onprem(row: ItemRow, vm: VmSpec, view: InventoryView | None, exclude: Sequence[str]) -> VmView | None:
    if view is None or vm.location == "alternate" or row.asr.get("physical"):
        return None
    record = row.record
    if record.get("location") == "alternate":
        return None
    if record.get("location") == "original" and record.get("vm"):
        return view.vm(str(record["vm"]))
    return view.vm_by_disks(_protected_ids(row), exclude=exclude)


def _ipv4(value: object) -> str | None:
    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        return None
    usable = address.version == 4 and not (address.is_link_local or address.is_loopback or address.is_unspecified)
    return str(address) if usable else None


def _item_facts(
    ctx: _Context,
    row: ItemRow,
    vm: VmSpec,
    *,
    plan: PlanSpec | None,
    vc: VCenterData | None,
    view: InventoryView | None,
    vault: VaultData,
    master_target: str,
    process_server: str,
    exclude: Sequence[str],
) -> ItemFacts:
    asr = _asr(row, vault)
    expectation = asr_expectation(row.state)
    ids = _protected_ids(row)
    onprem = _onprem(row, vm, view, exclude)
    host = view.host(onprem.host) if view and onprem else None
    datastores: list[DatastoreFacts] = []
    controllers: list[str] = []
    if onprem is not None and vc is not None and view is not None:
        for disk in onprem.disks:
            if disk.id not in ids:
                continue
            controllers.append(disk.controller)
            ds = view.datastore(disk.datastore)
            if ds is not None and all(d.moid != ds.moid for d in datastores):
                datastores.append(_datastore(vc, ds))
    target, missing = None, None
    if plan is not None and vc is not None and view is not None:
        wanted = vm.datastore or plan.datastore
        found = view.datastore(wanted)
        target, missing = (_datastore(vc, found), None) if found else (None, wanted)
    os_type = (asr.os_type or "").lower()
    planned_ips = [ip.address for ip in vm.ips]
    tools_ips = onprem.ipv4() if onprem else []
    known = [a for a in [*planned_ips, *(ip.address for ip in tools_ips), _ipv4(asr.ip_address)] if a]
    restorable = planned_ips or [ip.address for ip in tools_ips if ip.prefix and ip.mac]
    return ItemFacts(
        name=row.name,
        master_target=master_target,
        process_server=process_server,
        plan=plan.name if plan else None,
        phase=row.state,
        physical=bool(row.asr.get("physical")),
        asr_state=asr.shown,
        eligible_state=expectation.accepts(asr.protection_state, asr.active_location, asr.provider)
        if expectation
        else True,
        os_family=os_type if os_type in ("linux", "windows") else (onprem.os_family if onprem else None),
        onprem_vm=onprem.name if onprem else None,
        host=host.name if host else None,
        host_license=host.license_edition if host else None,
        snapshots=onprem.snapshots if onprem else (),
        disk_ids=frozenset(ids - ctx.gathered.attached_ids),
        disk_controllers=tuple(controllers),
        datastores=tuple(datastores),
        target_datastore=target,
        target_datastore_missing=missing,
        tools_installed=onprem.tools_installed if onprem else None,
        tools_running=onprem.tools_running if onprem else None,
        powered_on=onprem.powered_on if onprem else False,
        static_ips=tuple(dict.fromkeys(known)),
        restorable_ips=tuple(dict.fromkeys(restorable)),
        restore_static_ips=plan.network.restore_static_ips if plan else False,
        network_manager=None,
        network_manager_note=NETWORK_MANAGER_NOTE,
    )


def _master_target(
    ctx: _Context,
    plan: PlanSpec,
    name: str,
    view: InventoryView | None,
    items: Sequence[tuple[ItemRow, VmSpec | None]],
    planned: int,
    problem: str | None,
) -> MasterTargetFacts:
    data = ctx.gathered.agents[name]
    spec = next((a for a in plan.agents if a.name == name), None)
    uuid = spec.vm if spec else None
    vm = view.vm(uuid) if view is not None else None
    host = view.host(vm.host) if view is not None and vm is not None else None
    attached, limit, said = _attached(data)
    paths = {vm_spec.retention_volume for _row, vm_spec in items if vm_spec and vm_spec.retention_volume}
    path = sorted(paths)[0] if paths else plan.retention_volume
    pairs = [
        (str(disk.get("pair_id")), str(row.record.get("process_server")))
        for row, _vm in items
        if row.record.get("master_target") == name
        for disk in row.record.get("disks") or ()
        if disk.get("pair_id")
    ]
    reached_by = None
    reach_note = data.pairs_note
    if data.pairs is not None and pairs:
        reached_by = frozenset(ps for pair_id, ps in pairs if data.pairs.get(pair_id))
    elif not pairs:
        reach_note = "not measurable before the first pair connects"
    return MasterTargetFacts(
        agent=_agent_facts(ctx, data),
        vm_name=vm.name if vm else None,
        vm_uuid=uuid,
        vm_found=None if view is None else vm is not None,
        os_family=vm.os_family if vm else None,
        host=host.name if host else None,
        host_license=host.license_edition if host else None,
        host_datastores=host.datastores if host else frozenset(),
        snapshots=vm.snapshots if vm else (),
        enable_uuid=vm.enable_uuid if vm else None,
        disk_ids=frozenset(d.id for d in vm.disks if d.id and d.id not in ctx.gathered.attached_ids)
        if vm
        else frozenset(),
        attached_disks=attached,
        attached_source=said,
        disk_limit=limit,
        planned_disks=planned,
        placement_problem=problem,
        retention=_retention(data, path),
        retention_note=data.retention_note,
        reached_by=reached_by,
        reach_note=reach_note,
    )


def _asr_server(plan: PlanSpec, vault: VaultData, name: str, role: str) -> AsrServerFacts:
    spec = next((a for a in plan.agents if a.name == name), None)
    asr_id = spec.asr_id if spec else None
    if vault.servers is None:
        return AsrServerFacts(name, role, vault.name, asr_id, None)
    listed = [s for s in vault.servers if s.role == role]
    found = any((same_id(s.id, asr_id) if asr_id else s.name == name) for s in listed)
    return AsrServerFacts(name, role, vault.name, asr_id, found, tuple(sorted(s.name for s in listed)))
