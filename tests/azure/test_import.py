"""Importing a vault: every field the adapter returns equals what the estate behind the endpoint holds."""

from __future__ import annotations

import datetime

import pytest

from controller.azure import (
    Datastore,
    Fabric,
    FailoverDirection,
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
    RecoveryPlan,
    RecoveryPoint,
    RetentionVolume,
    RunAsAccount,
    Scenario,
    SiteRecovery,
    same_id,
)
from lab import azure as lab
from lab.azure import LocalAzure


def vault_id(e: lab.Estate) -> str:
    return (
        f"/Subscriptions/{e.subscription_id}/resourceGroups/{e.resource_group}"
        f"/providers/Microsoft.RecoveryServices/vaults/{e.vault}"
    )


def item_id(e: lab.Estate, i: lab.Item) -> str:
    return (
        f"{vault_id(e)}/replicationFabrics/{i.fabric}/replicationProtectionContainers/{i.container}"
        f"/replicationProtectedItems/{i.name}"
    )


def issue(h: lab.HealthIssue) -> HealthIssue:
    return HealthIssue(h.code, h.message, h.level, h.possible_causes or None, h.recommended_action or None)


def expected_fabric(e: lab.Estate, f: lab.Fabric) -> Fabric:
    vmware = f.kind == "VMware"
    return Fabric(
        name=f.name,
        id=f"{vault_id(e)}/replicationFabrics/{f.name}",
        friendly_name=f.friendly_name,
        kind=f.kind,
        health=f.health,
        host_name=f.host_name if vmware else None,
        ip_address=f.ip_address if vmware else None,
        agent_version=f.agent_version if vmware else None,
        process_servers=tuple(
            ProcessServer(
                id=ps.id,
                name=ps.friendly_name,
                ip_address=ps.ip_address,
                os_type=ps.os_type,
                agent_version=ps.agent_version,
                version_status=ps.version_status,
                last_heartbeat=ps.last_heartbeat,
                health=ps.health,
                service_status=ps.ps_service_status,
                machine_count=int(ps.machine_count),
                replication_pair_count=int(ps.replication_pair_count),
                total_space_bytes=ps.total_space_bytes,
                available_space_bytes=ps.available_space_bytes,
            )
            for ps in f.process_servers
        ),
        master_targets=tuple(
            MasterTarget(
                id=mt.id,
                name=mt.name,
                ip_address=mt.ip_address,
                os_type=mt.os_type,
                agent_version=mt.agent_version,
                version_status=mt.version_status,
                last_heartbeat=mt.last_heartbeat,
                disk_count=mt.disk_count,
                retention_volumes=tuple(
                    RetentionVolume(v.volume_name, v.capacity_bytes, v.free_bytes, v.threshold_percent)
                    for v in mt.retention_volumes
                ),
                datastores=tuple(
                    Datastore(d.symbolic_name, d.uuid, float(d.capacity_gb), float(d.free_gb), d.type)
                    for d in mt.datastores
                ),
                health_errors=tuple(issue(h) for h in mt.health_errors),
                validation_errors=tuple(issue(h) for h in mt.validation_errors),
            )
            for mt in f.master_targets
        ),
        run_as_accounts=tuple(RunAsAccount(a.account_id, a.account_name) for a in f.run_as_accounts),
    )


def expected_details(e: lab.Estate, i: lab.Item) -> object:
    vm = e.vm(i.azure_vm) if i.azure_vm else None
    vm_id = (
        f"/subscriptions/{e.subscription_id}/resourceGroups/{vm.resource_group}"
        f"/providers/Microsoft.Compute/virtualMachines/{vm.name}"
        if vm
        else None
    )
    rg_id = f"/subscriptions/{e.subscription_id}/resourceGroups/{vm.resource_group}" if vm else None
    times = sorted(p.time for p in i.recovery_points)
    discovery = "Physical" if i.physical else "vCenter"
    if i.provider == "InMageAzureV2":
        return InMageAzureV2State(
            process_server_id=i.process_server_id,
            master_target_id=i.master_target_id or i.process_server_id,
            azure_vm_id=vm_id,
            azure_vm_name=vm.name if vm else None,
            azure_resource_group_id=rg_id,
            discovery_type=discovery,
            os_type=i.os_type,
            ip_address=i.ip_address,
            agent_version=i.agent_version,
            rpo_seconds=i.rpo_seconds,
            datastores=tuple(sorted({d.disk_name.split("]")[0].strip("[") for d in i.disks if "]" in d.disk_name})),
            last_recovery_point_time=times[-1] if times else None,
            source_cpu_count=i.cpu_count,
            source_memory_mb=i.memory_mb,
            firmware_type=i.firmware_type,
            nic_networks=tuple(i.nic_networks),
        )
    if i.provider == "InMage":
        return InMageState(
            process_server_id=i.process_server_id,
            master_target_id=i.master_target_id,
            discovery_type=discovery,
            os_type=i.os_type,
            ip_address=i.ip_address,
            agent_version=i.agent_version,
            protection_stage=i.protection_stage,
            rpo_seconds=i.rpo_seconds,
            datastores=(i.datastore_name,) if i.datastore_name else (),
            retention_window_start=times[0] if times else None,
            retention_window_end=times[-1] if times else None,
        )
    fabric = e.fabric(i.fabric)
    if i.provider == "InMageRcm":
        return InMageRcmState(
            process_server_id=i.process_server_id,
            process_server_name=fabric.friendly_name,
            run_as_account_id=i.run_as_account_id or None,
            discovery_type="Physical" if i.physical else "VCenter",
            os_type=i.os_type,
            firmware_type=i.firmware_type,
            ip_address=i.ip_address,
            target_vm_name=vm.name if vm else None,
            target_resource_group_id=rg_id,
            target_location=e.location,
            last_rpo_seconds=i.rpo_seconds,
            last_recovery_point_time=times[-1] if times else None,
        )
    return InMageRcmFailbackState(
        azure_vm_id=vm_id,
        reprotect_agent_id=i.process_server_id,
        reprotect_agent_name=fabric.friendly_name,
        target_vcenter_id=i.vcenter_id,
        target_datastore=i.datastore_name,
        target_vm_name=i.friendly_name,
        os_type=i.os_type,
        resync_state="None",
    )


def expected_item(e: lab.Estate, i: lab.Item) -> ProtectedItem:
    policy = next(p for p in e.policies if p.name == i.policy)
    disk_sizes = [(d.disk_id, d.disk_name, d.capacity_bytes) for d in i.disks]
    return ProtectedItem(
        ref=ItemRef(i.fabric, i.container, i.name),
        id=item_id(e, i),
        friendly_name=i.friendly_name,
        item_type="PhysicalMachine" if i.physical else "VMwareVirtualMachine",
        provider=i.provider,
        protection_state=i.protection_state,
        protection_state_description={"Protected": "Protected", "UnplannedFailoverCommitted": "Failover committed"}[
            i.protection_state
        ],
        active_location=i.active_location,
        replication_health=i.replication_health,
        failover_health=i.failover_health,
        allowed_operations=("ReProtect", "DisableProtection")
        if i.protection_state == "UnplannedFailoverCommitted"
        else ("UnplannedFailover", "DisableProtection"),
        policy_id=f"{vault_id(e)}/replicationPolicies/{policy.name}",
        policy_name=policy.friendly_name,
        scenario=Scenario(None, None, i.scenario_start),
        failover_recovery_point_id=f"{item_id(e, i)}/recoveryPoints/{i.failover_recovery_point}"
        if i.failover_recovery_point
        else None,
        last_failover_time=i.last_failover,
        health_errors=tuple(issue(h) for h in i.health_errors),
        disks=tuple(ProtectedDisk(*d) for d in disk_sizes),
        details=expected_details(e, i),  # type: ignore[arg-type]
    )


def test_import_returns_every_fabric_with_its_servers_accounts_volumes_and_datastores(
    asr: SiteRecovery, endpoint: LocalAzure
) -> None:
    estate = asr.import_vault()
    e = endpoint.estate
    assert estate.fabrics == tuple(expected_fabric(e, f) for f in e.fabrics)


def test_import_returns_every_protection_container(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    e = endpoint.estate
    expected = tuple(
        ProtectionContainer(
            name=c,
            id=f"{vault_id(e)}/replicationFabrics/{f.name}/replicationProtectionContainers/{c}",
            fabric=f.name,
            friendly_name=f.friendly_name,
            fabric_type=f.kind,
            role="Primary",
            pairing_status="Paired",
            protected_item_count=sum(1 for i in e.items if i.container == c),
        )
        for f in e.fabrics
        for c in f.containers
    )
    assert asr.import_vault().containers == expected


def test_import_returns_every_protected_item_with_its_state_and_provider_details(
    asr: SiteRecovery, endpoint: LocalAzure
) -> None:
    e = endpoint.estate
    items = asr.import_vault().items
    assert items == tuple(expected_item(e, i) for i in e.items)
    assert {type(i.details).__name__ for i in items} == {
        "InMageAzureV2State",
        "InMageState",
        "InMageRcmState",
        "InMageRcmFailbackState",
    }


def test_import_derives_direction_physical_and_azure_vm_from_the_item_state(
    asr: SiteRecovery, endpoint: LocalAzure
) -> None:
    by_name = {i.friendly_name: i for i in asr.import_vault().items}
    assert by_name["db01"].replication_direction is FailoverDirection.RECOVERY_TO_PRIMARY
    assert by_name["web01"].replication_direction is None  # failed over and committed: nothing replicates
    assert by_name["file01"].is_physical
    assert not by_name["web01"].is_physical
    e = endpoint.estate
    for name in ("web01", "crm01"):  # classic details name the VM; modernized ones its group and name
        vm = e.vm(name)
        expected = (
            f"/subscriptions/{e.subscription_id}/resourceGroups/{vm.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{vm.name}"
        )
        assert same_id(by_name[name].azure_vm_id, expected)
    assert by_name["db01"].azure_vm_id is None  # InMage details do not name the Azure VM


def test_import_returns_recovery_points_of_every_item_oldest_first(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    e = endpoint.estate
    points = asr.import_vault().recovery_points
    assert set(points) == {ItemRef(i.fabric, i.container, i.name) for i in e.items}
    for i in e.items:
        expected = tuple(
            RecoveryPoint(p.name, f"{item_id(e, i)}/recoveryPoints/{p.name}", p.time, p.type)
            for p in sorted(i.recovery_points, key=lambda p: p.time)
        )
        assert points[ItemRef(i.fabric, i.container, i.name)] == expected


def test_import_returns_recovery_plans_with_groups_in_boot_order(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    e = endpoint.estate
    plans = asr.import_vault().plans
    expected = []
    for p in e.plans:
        groups = []
        boot = 0
        for g in p.groups:
            boot += g.group_type == "Boot"
            members = [e.item(n) for n in g.items]
            groups.append(
                PlanGroup(
                    kind=g.group_type,
                    boot_order=boot if g.group_type == "Boot" else None,
                    items=tuple(ItemRef(i.fabric, i.container, i.name) for i in members),
                    item_ids=tuple(item_id(e, i) for i in members),
                    start_actions=(),
                    end_actions=(),
                )
            )
        expected.append(
            RecoveryPlan(
                name=p.name,
                id=f"{vault_id(e)}/replicationRecoveryPlans/{p.name}",
                friendly_name=p.friendly_name,
                primary_fabric_id=f"{vault_id(e)}/replicationFabrics/{p.primary_fabric}",
                recovery_fabric_id="Microsoft Azure",
                providers=tuple(p.providers),
                allowed_operations=("ReProtect",),
                scenario=Scenario(None, None, None),
                scenario_status=None,
                last_unplanned_failover_time=p.last_unplanned_failover,
                groups=tuple(groups),
            )
        )
    assert plans == tuple(expected)
    assert [g.items[0].name for g in plans[0].groups if g.kind == "Boot"] == [
        e.plan("rp-3tier").groups[i].items[0] for i in (2, 3, 4)
    ]


def test_import_returns_jobs_newest_first_with_tasks_and_errors(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    e = endpoint.estate
    expected = tuple(
        Job(
            name=j.name,
            id=f"{vault_id(e)}/replicationJobs/{j.name}",
            scenario=j.scenario,
            friendly_name=j.friendly_name,
            state=j.state,
            state_description="Completed" if j.state == "Succeeded" else j.state,
            start_time=j.start_time,
            end_time=j.end_time,
            target_object_id=j.target_object_id,
            target_object_name=j.target_object_name,
            target_type=j.target_instance_type,
            tasks=tuple(JobTask(name, state) for name, state in j.tasks),
            errors=tuple(issue(h) for h in j.errors),
        )
        for j in sorted(e.jobs, key=lambda j: j.start_time, reverse=True)
    )
    jobs = asr.import_vault().jobs
    assert jobs == expected
    failed = next(j for j in jobs if j.state == "Failed")
    assert failed.finished
    assert not failed.succeeded
    assert failed.errors[0].recommended_action == "Choose a datastore the master target's host can access."


def test_import_follows_next_links_across_pages(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    endpoint.estate.page_size = 2
    asr.import_vault()
    item_pages = [
        r
        for r in endpoint.requests
        if r.method == "GET" and r.path.endswith("/vaults/vault-failback/replicationProtectedItems")
    ]
    assert [r.param("$skiptoken") for r in item_pages] == [None, "2", "4"]
    assert all(r.param("api-version") == "2025-08-01" for r in endpoint.requests)


def test_import_reads_timestamps_as_aware_utc(asr: SiteRecovery) -> None:
    estate = asr.import_vault()
    heartbeat = estate.fabrics[0].process_servers[0].last_heartbeat
    assert heartbeat is not None
    assert heartbeat.utcoffset() == datetime.timedelta(0)


def test_no_sdk_model_leaves_the_adapter(asr: SiteRecovery) -> None:
    import dataclasses
    from collections.abc import Mapping

    def walk(value: object) -> None:
        assert not type(value).__module__.startswith("azure."), f"{type(value)} leaked out of the adapter"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name))
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, tuple):
            for v in value:
                walk(v)
        else:
            assert isinstance(value, (str, int, float, bool, type(None), datetime.datetime)), type(value)

    estate = asr.import_vault()
    walk(estate)
    with pytest.raises(dataclasses.FrozenInstanceError):
        estate.items[0].protection_state = "changed"  # type: ignore[misc]
