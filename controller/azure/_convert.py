"""SDK models → the adapter's frozen dataclasses. The only module that reads azure-mgmt-recoveryservicessiterecovery
and azure-mgmt-compute models; everything it returns is plain Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from azure.mgmt.compute import models as cm
from azure.mgmt.recoveryservicessiterecovery import models as m

from controller.azure._models import (
    Datastore,
    Fabric,
    HealthIssue,
    InMageAzureV2State,
    InMageRcmFailbackState,
    InMageRcmState,
    InMageState,
    ItemRef,
    Job,
    JobTask,
    MasterTarget,
    PlanGroup,
    ProcessServer,
    ProtectedDisk,
    ProtectedItem,
    ProtectionContainer,
    ProviderState,
    RecoveryPlan,
    RecoveryPoint,
    RetentionVolume,
    RunAsAccount,
    Scenario,
    VmPowerState,
    VmRef,
    _segments,
)

__all__ = [
    "container",
    "fabric",
    "job",
    "job_name",
    "power_state",
    "protected_item",
    "recovery_plan",
    "recovery_point",
]


def _s(value: Any) -> str | None:
    """Plain str for a field the SDK may hand back as one of its str enums (they must not leak out)."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _int(value: Any) -> int | None:
    """ASR sends some counts as strings ("3"); absent or unparsable values become None."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _tuple(values: Iterable[Any] | None) -> tuple[Any, ...]:
    return tuple(values or ())


def job_name(job_id: str | None) -> str | None:
    """The job name from a job id or URL; ASR writes ``…/replicationJobs/None`` when there is no job."""
    if not job_id:
        return None
    name = job_id.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    return None if name.lower() == "none" else name


def health(errors: Iterable[m.HealthError] | None) -> tuple[HealthIssue, ...]:
    return tuple(
        HealthIssue(
            code=e.error_code or "",
            message=e.error_message or e.summary_message or "",
            level=e.error_level,
            possible_causes=e.possible_causes or None,
            recommended_action=e.recommended_action or None,
        )
        for e in errors or ()
    )


def _scenario(details: m.CurrentScenarioDetails | None) -> Scenario:
    if details is None:
        return Scenario(None, None, None)
    name = details.scenario_name
    return Scenario(None if name == "None" else name, job_name(details.job_id), details.start_time)


# Fabrics


def fabric(model: m.Fabric) -> Fabric:
    props = model.properties or m.FabricProperties()
    details = props.custom_details
    vmware = details if isinstance(details, m.VMwareDetails) else None
    return Fabric(
        name=model.name or "",
        id=model.id or "",
        friendly_name=props.friendly_name,
        kind=details.instance_type if details is not None else None,
        health=_s(props.health),
        host_name=vmware.host_name if vmware else None,
        ip_address=vmware.ip_address if vmware else None,
        agent_version=vmware.agent_version if vmware else None,
        process_servers=tuple(_process_server(ps) for ps in (vmware.process_servers if vmware else None) or ()),
        master_targets=tuple(_master_target(mt) for mt in (vmware.master_target_servers if vmware else None) or ()),
        run_as_accounts=tuple(
            RunAsAccount(id=ra.account_id or "", name=ra.account_name)
            for ra in (vmware.run_as_accounts if vmware else None) or ()
        ),
    )


def _process_server(ps: m.ProcessServer) -> ProcessServer:
    return ProcessServer(
        id=ps.id or "",
        name=ps.friendly_name,
        ip_address=ps.ip_address,
        os_type=ps.os_type,
        agent_version=ps.agent_version,
        version_status=ps.version_status,
        last_heartbeat=ps.last_heartbeat,
        health=_s(ps.health),
        service_status=ps.ps_service_status,
        machine_count=_int(ps.machine_count),
        replication_pair_count=_int(ps.replication_pair_count),
        total_space_bytes=ps.total_space_in_bytes,
        available_space_bytes=ps.available_space_in_bytes,
    )


def _master_target(mt: m.MasterTargetServer) -> MasterTarget:
    return MasterTarget(
        id=mt.id or "",
        name=mt.name,
        ip_address=mt.ip_address,
        os_type=mt.os_type,
        agent_version=mt.agent_version,
        version_status=mt.version_status,
        last_heartbeat=mt.last_heartbeat,
        disk_count=mt.disk_count,
        retention_volumes=tuple(
            RetentionVolume(
                name=rv.volume_name or "",
                capacity_bytes=rv.capacity_in_bytes,
                free_bytes=rv.free_space_in_bytes,
                threshold_percent=rv.threshold_percentage,
            )
            for rv in mt.retention_volumes or ()
        ),
        datastores=tuple(
            Datastore(
                name=ds.symbolic_name or "",
                uuid=ds.uuid,
                capacity_gb=_float(ds.capacity),
                free_gb=_float(ds.free_space),
                type=_s(ds.type),
            )
            for ds in mt.data_stores or ()
        ),
        health_errors=health(mt.health_errors),
        validation_errors=health(mt.validation_errors),
    )


def container(model: m.ProtectionContainer) -> ProtectionContainer:
    props = model.properties or m.ProtectionContainerProperties()
    return ProtectionContainer(
        name=model.name or "",
        id=model.id or "",
        fabric=_segments(model.id or "").get("replicationfabrics", ""),
        friendly_name=props.friendly_name,
        fabric_type=props.fabric_type,
        role=props.role,
        pairing_status=props.pairing_status,
        protected_item_count=props.protected_item_count,
    )


# Protected items


def protected_item(model: m.ReplicationProtectedItem) -> ProtectedItem:
    props = model.properties or m.ReplicationProtectedItemProperties()
    details = props.provider_specific_details
    return ProtectedItem(
        ref=ItemRef.from_id(model.id or ""),
        id=model.id or "",
        friendly_name=props.friendly_name,
        item_type=props.protected_item_type,
        provider=details.instance_type if details is not None else None,
        protection_state=props.protection_state,
        protection_state_description=props.protection_state_description,
        active_location=props.active_location,
        replication_health=props.replication_health,
        failover_health=props.failover_health,
        allowed_operations=_tuple(props.allowed_operations),
        policy_id=props.policy_id,
        policy_name=props.policy_friendly_name,
        scenario=_scenario(props.current_scenario),
        failover_recovery_point_id=props.failover_recovery_point_id,
        last_failover_time=props.last_successful_failover_time,
        health_errors=health(props.health_errors),
        disks=_disks(details),
        details=_provider(details),
    )


def _disks(details: m.ReplicationProviderSpecificSettings | None) -> tuple[ProtectedDisk, ...]:
    if isinstance(details, (m.InMageAzureV2ReplicationDetails, m.InMageReplicationDetails)):
        return tuple(
            ProtectedDisk(d.disk_id or "", d.disk_name, d.disk_capacity_in_bytes) for d in details.protected_disks or ()
        )
    if isinstance(details, (m.InMageRcmReplicationDetails, m.InMageRcmFailbackReplicationDetails)):
        return tuple(
            ProtectedDisk(d.disk_id or "", d.disk_name, d.capacity_in_bytes) for d in details.protected_disks or ()
        )
    return ()


def _provider(d: m.ReplicationProviderSpecificSettings | None) -> ProviderState | None:
    if isinstance(d, m.InMageAzureV2ReplicationDetails):
        return InMageAzureV2State(
            process_server_id=d.process_server_id,
            master_target_id=d.master_target_id,
            azure_vm_id=d.target_vm_id,
            azure_vm_name=d.recovery_azure_vm_name,
            azure_resource_group_id=d.recovery_azure_resource_group_id,
            discovery_type=d.discovery_type,
            os_type=d.os_type,
            ip_address=d.ip_address,
            agent_version=d.agent_version,
            rpo_seconds=d.rpo_in_seconds,
            datastores=_tuple(d.datastores),
            last_recovery_point_time=d.last_recovery_point_received,
            source_cpu_count=d.source_vm_cpu_count,
            source_memory_mb=d.source_vm_ram_size_in_mb,
            firmware_type=d.firmware_type,
            nic_networks=tuple(n.v_m_network_name or "" for n in d.vm_nics or ()),
        )
    if isinstance(d, m.InMageReplicationDetails):
        return InMageState(
            process_server_id=d.process_server_id,
            master_target_id=d.master_target_id,
            discovery_type=d.discovery_type,
            os_type=d.os_details.os_type if d.os_details else None,
            ip_address=d.ip_address,
            agent_version=d.agent_details.agent_version if d.agent_details else None,
            protection_stage=d.protection_stage,
            rpo_seconds=d.rpo_in_seconds,
            datastores=_tuple(d.datastores),
            retention_window_start=d.retention_window_start,
            retention_window_end=d.retention_window_end,
        )
    if isinstance(d, m.InMageRcmReplicationDetails):
        return InMageRcmState(
            process_server_id=d.process_server_id,
            process_server_name=d.process_server_name,
            run_as_account_id=d.run_as_account_id,
            discovery_type=d.discovery_type,
            os_type=d.os_type,
            firmware_type=d.firmware_type,
            ip_address=d.primary_nic_ip_address,
            target_vm_name=d.target_vm_name,
            target_resource_group_id=d.target_resource_group_id,
            target_location=d.target_location,
            last_rpo_seconds=d.last_rpo_in_seconds,
            last_recovery_point_time=d.last_recovery_point_received,
        )
    if isinstance(d, m.InMageRcmFailbackReplicationDetails):
        return InMageRcmFailbackState(
            azure_vm_id=d.azure_virtual_machine_id,
            reprotect_agent_id=d.reprotect_agent_id,
            reprotect_agent_name=d.reprotect_agent_name,
            target_vcenter_id=d.targetv_center_id,
            target_datastore=d.target_data_store_name,
            target_vm_name=d.target_vm_name,
            os_type=d.os_type,
            resync_state=_s(d.resync_state),
        )
    return None


def recovery_point(model: m.RecoveryPoint) -> RecoveryPoint:
    props = model.properties or m.RecoveryPointProperties()
    return RecoveryPoint(
        name=model.name or "", id=model.id or "", time=props.recovery_point_time, type=_s(props.recovery_point_type)
    )


# Plans and jobs


def recovery_plan(model: m.RecoveryPlan) -> RecoveryPlan:
    props = model.properties or m.RecoveryPlanProperties()
    groups: list[PlanGroup] = []
    boot = 0
    for group in props.groups or ():
        # The SDK turns known values into its enum; str() of that would be "RecoveryPlanGroupType.BOOT".
        kind = _s(group.group_type) or ""
        if kind.lower() == "boot":
            boot += 1
        members = group.replication_protected_items or ()
        groups.append(
            PlanGroup(
                kind=kind,
                boot_order=boot if kind.lower() == "boot" else None,
                items=tuple(ItemRef.from_id(p.id) for p in members if p.id),
                item_ids=tuple(p.id for p in members if p.id),
                start_actions=tuple(a.action_name for a in group.start_group_actions or ()),
                end_actions=tuple(a.action_name for a in group.end_group_actions or ()),
            )
        )
    return RecoveryPlan(
        name=model.name or "",
        id=model.id or "",
        friendly_name=props.friendly_name,
        primary_fabric_id=props.primary_fabric_id,
        recovery_fabric_id=props.recovery_fabric_id,
        providers=_tuple(props.replication_providers),
        allowed_operations=_tuple(props.allowed_operations),
        scenario=_scenario(props.current_scenario),
        scenario_status=props.current_scenario_status,
        last_unplanned_failover_time=props.last_unplanned_failover_time,
        groups=tuple(groups),
    )


def job(model: m.Job) -> Job:
    props = model.properties or m.JobProperties()
    errors: list[HealthIssue] = []
    for e in props.errors or ():
        # ASR reports either its own service error or the on-premises provider's error for a failed task.
        service, provider = e.service_error_details, e.provider_error_details
        if service is not None:
            code, message = service.code, service.message
            causes, action = service.possible_causes, service.recommended_action
        elif provider is not None:
            code, message = str(provider.error_code or ""), provider.error_message
            causes, action = provider.possible_causes, provider.recommended_action
        else:
            continue
        errors.append(HealthIssue(code or "", message or "", e.error_level, causes or None, action or None))
    return Job(
        name=model.name or "",
        id=model.id or "",
        scenario=props.scenario_name,
        friendly_name=props.friendly_name,
        state=props.state,
        state_description=props.state_description,
        start_time=props.start_time,
        end_time=props.end_time,
        target_object_id=props.target_object_id,
        target_object_name=props.target_object_name,
        target_type=props.target_instance_type,
        tasks=tuple(JobTask(t.friendly_name or t.name, t.state) for t in props.tasks or ()),
        errors=tuple(errors),
    )


# Compute


def power_state(vm: VmRef, view: cm.VirtualMachineInstanceView) -> VmPowerState:
    power = provisioning = display = None
    for status in view.statuses or ():
        code = status.code or ""
        if code.startswith("PowerState/"):
            power, display = code.split("/", 1)[1], status.display_status
        elif code.startswith("ProvisioningState/"):
            provisioning = code.split("/", 1)[1]
    return VmPowerState(vm=vm, power_state=power, provisioning_state=provisioning, display_status=display)
