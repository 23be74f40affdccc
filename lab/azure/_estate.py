"""The declarative estate behind the local Azure endpoint: a vault, its fabrics, items, plans, jobs and Azure VMs.

These dataclasses are the endpoint's whole state. Tests build one (or take :func:`demo_estate`), hand it to
:class:`lab.azure.LocalAzure`, and compare what the adapter returns against the same objects. The endpoint mutates
them as Azure Site Recovery would (reprotect, failover, commit, cancel), so tests can also assert the state after an
action. Names of fields follow the ARM model fields they end up in.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Literal, TypeVar

__all__ = [
    "AzureVm",
    "Datastore",
    "Disk",
    "Estate",
    "Fabric",
    "HealthIssue",
    "Item",
    "Job",
    "MasterTarget",
    "Plan",
    "PlanGroup",
    "Policy",
    "ProcessServer",
    "RecoveryPoint",
    "RetentionVolume",
    "RunAsAccount",
    "demo_estate",
]

Provider = Literal["InMageAzureV2", "InMage", "InMageRcm", "InMageRcmFailback"]
PowerState = Literal["running", "stopped", "deallocated", "starting", "stopping", "deallocating"]

_T = TypeVar("_T")
_T0 = datetime.datetime(2026, 3, 14, 9, 0, tzinfo=datetime.UTC)


@dataclass
class RetentionVolume:
    volume_name: str
    capacity_bytes: int
    free_bytes: int
    threshold_percent: int = 80


@dataclass
class Datastore:
    symbolic_name: str
    uuid: str
    capacity_gb: str
    free_gb: str
    type: str = "vmfs"


@dataclass
class HealthIssue:
    code: str
    message: str
    level: str = "Warning"
    possible_causes: str = ""
    recommended_action: str = ""


@dataclass
class ProcessServer:
    id: str
    friendly_name: str
    ip_address: str
    os_type: str = "Windows"
    agent_version: str = "9.62.7172.1"
    version_status: str = "Supported"
    host_id: str = ""
    machine_count: str = "3"
    replication_pair_count: str = "5"
    total_space_bytes: int = 1_099_511_627_776
    available_space_bytes: int = 824_633_720_832
    ps_service_status: str = "Running"
    health: str = "Normal"
    last_heartbeat: datetime.datetime = _T0


@dataclass
class MasterTarget:
    id: str
    name: str
    ip_address: str
    os_type: str
    retention_volumes: list[RetentionVolume]
    datastores: list[Datastore]
    agent_version: str = "9.62.7172.1"
    version_status: str = "Supported"
    disk_count: int = 4
    health_errors: list[HealthIssue] = field(default_factory=list)
    validation_errors: list[HealthIssue] = field(default_factory=list)
    last_heartbeat: datetime.datetime = _T0


@dataclass
class RunAsAccount:
    account_id: str
    account_name: str


@dataclass
class Fabric:
    """A fabric; ``kind`` is the ``customDetails.instanceType`` (``VMware`` carries the VMware details below)."""

    name: str
    friendly_name: str
    kind: str = "VMware"
    host_name: str = ""
    ip_address: str = ""
    agent_version: str = "9.62.7172.1"
    process_servers: list[ProcessServer] = field(default_factory=list)
    master_targets: list[MasterTarget] = field(default_factory=list)
    run_as_accounts: list[RunAsAccount] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    health: str = "Normal"


@dataclass
class Policy:
    name: str
    friendly_name: str


@dataclass
class Disk:
    disk_id: str
    disk_name: str
    capacity_bytes: int


@dataclass
class RecoveryPoint:
    name: str
    time: datetime.datetime
    type: str  # "ApplicationConsistent" (a tag) or "CrashConsistent"


@dataclass
class Item:
    """A replication protected item and the Azure VM it was failed over to.

    ``protection_state``, ``active_location`` and ``provider`` move as Azure Site Recovery moves them; the endpoint's
    action handlers are the only writers after construction.
    """

    name: str
    fabric: str
    container: str
    friendly_name: str
    provider: Provider
    policy: str
    protection_state: str = "UnplannedFailoverCommitted"
    active_location: str = "Recovery"
    replication_health: str = "Normal"
    failover_health: str = "Normal"
    physical: bool = False
    os_type: str = "Windows"
    ip_address: str = ""
    disks: list[Disk] = field(default_factory=list)
    azure_vm: str = ""  # name of an AzureVm in the estate; empty when none
    process_server_id: str = ""
    master_target_id: str = ""
    datastore_name: str = ""
    retention_drive: str = ""
    run_as_account_id: str = ""
    agent_version: str = "9.62.7172.1"
    rpo_seconds: int = 0
    protection_stage: str = "Protected"
    firmware_type: str = "BIOS"
    vcenter_id: str = "vcenter-01"
    recovery_points: list[RecoveryPoint] = field(default_factory=list)
    health_errors: list[HealthIssue] = field(default_factory=list)
    failover_recovery_point: str = ""
    last_failover: datetime.datetime | None = _T0
    scenario: str = "None"
    scenario_job: str = "None"
    scenario_start: datetime.datetime = datetime.datetime(1753, 1, 1, 1, 1, 1, tzinfo=datetime.UTC)


@dataclass
class PlanGroup:
    group_type: Literal["Shutdown", "Failover", "Boot"]
    items: list[str] = field(default_factory=list)  # item names, in boot order


@dataclass
class Plan:
    name: str
    friendly_name: str
    primary_fabric: str
    groups: list[PlanGroup]
    providers: list[str] = field(default_factory=lambda: ["InMageAzureV2"])
    scenario: str = "None"
    scenario_job: str = "None"
    scenario_status: str = ""
    last_unplanned_failover: datetime.datetime | None = _T0


@dataclass
class Job:
    name: str
    scenario: str
    friendly_name: str
    state: str
    target_object_id: str
    target_object_name: str
    target_instance_type: str = "ProtectionEntity"
    start_time: datetime.datetime = _T0
    end_time: datetime.datetime | None = _T0
    errors: list[HealthIssue] = field(default_factory=list)
    tasks: list[tuple[str, str]] = field(default_factory=list)  # (task name, state)


@dataclass
class AzureVm:
    resource_group: str
    name: str
    power_state: PowerState = "running"
    location: str = "westeurope"
    vm_id: str = "00000000-0000-0000-0000-000000000000"
    computer_name: str = ""
    os_name: str = "Windows Server 2022 Datacenter"


@dataclass
class Estate:
    """Everything one vault holds, plus the Azure VMs of its failed-over items. ``page_size`` splits every list."""

    subscription_id: str
    resource_group: str
    vault: str
    fabrics: list[Fabric]
    policies: list[Policy]
    items: list[Item]
    plans: list[Plan] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    vms: list[AzureVm] = field(default_factory=list)
    location: str = "westeurope"
    page_size: int = 2

    def item(self, name: str) -> Item:
        return _one(self.items, name, "protected item")

    def plan(self, name: str) -> Plan:
        return _one(self.plans, name, "recovery plan")

    def vm(self, name: str) -> AzureVm:
        return _one(self.vms, name, "Azure VM")

    def fabric(self, name: str) -> Fabric:
        return _one(self.fabrics, name, "fabric")


def _one(things: list[_T], name: str, what: str) -> _T:
    for thing in things:
        if getattr(thing, "name", None) == name:
            return thing
    raise KeyError(f"the estate has no {what} named {name!r}")


def _rps(*specs: tuple[int, str]) -> list[RecoveryPoint]:
    """Recovery points ``minutes`` after T0, named after their time so names stay unique and readable."""
    return [
        RecoveryPoint(name=f"rp-{minutes:04d}", time=_T0 + datetime.timedelta(minutes=minutes), type=kind)
        for minutes, kind in specs
    ]


def demo_estate() -> Estate:
    """A small failed-over estate: a classic VMware fabric and a modernized one, six items, one 3-tier plan."""
    sub = "3f2e1d0c-aaaa-4bbb-8ccc-0123456789ab"
    cs = "config-server-01"
    mt_win = MasterTarget(
        id="7c2a1f06-5d7e-4bb1-9f5e-1d1d0f9b1a01",
        name="cs-01",
        ip_address="10.10.1.10",
        os_type="Windows",
        retention_volumes=[
            RetentionVolume("E:\\", 536_870_912_000, 402_653_184_000),
            RetentionVolume("F:\\", 268_435_456_000, 21_474_836_480, threshold_percent=90),
        ],
        datastores=[
            Datastore("datastore-ssd-01", "5a4b3c2d-0001-4e5f-8a9b-000000000001", "2047.75", "1320.5"),
            Datastore("nfs-archive", "5a4b3c2d-0002-4e5f-8a9b-000000000002", "8191.0", "512.0", type="nfs"),
        ],
    )
    mt_lin = MasterTarget(
        id="8d3b2a17-6e8f-4cc2-8a6f-2e2e1a0c2b02",
        name="mt-linux-01",
        ip_address="10.10.1.21",
        os_type="Linux",
        retention_volumes=[RetentionVolume("/mnt/retention", 1_099_511_627_776, 879_609_302_220)],
        datastores=[Datastore("datastore-ssd-01", "5a4b3c2d-0001-4e5f-8a9b-000000000001", "2047.75", "1320.5")],
        health_errors=[
            HealthIssue(
                code="78052",
                message="The master target has 58 of 60 SCSI disks attached.",
                possible_causes="Many protected disks are replicating to this master target.",
                recommended_action="Add another master target or spread the failback across master targets.",
            )
        ],
    )
    classic = Fabric(
        name="4c5a0ab0d1a2f6e1c8b7d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2",
        friendly_name=cs,
        host_name="cs-01.corp.example",
        ip_address="10.10.1.10",
        process_servers=[
            ProcessServer(id="7c2a1f06-5d7e-4bb1-9f5e-1d1d0f9b1a01", friendly_name="cs-01", ip_address="10.10.1.10"),
            ProcessServer(
                id="9e4c3b28-7f90-4dd3-9b70-3f3f2b1d3c03",
                friendly_name="ps-azure-01",
                ip_address="10.200.0.4",
                host_id="9e4c3b28-7f90-4dd3-9b70-3f3f2b1d3c03",
                machine_count="6",
                replication_pair_count="11",
            ),
        ],
        master_targets=[mt_win, mt_lin],
        run_as_accounts=[
            RunAsAccount("1", "vcenter-readonly"),
            RunAsAccount("2", "linux-root"),
            RunAsAccount("3", "windows-admin"),
        ],
        containers=["cloud_6d224fc6-f326-5d35-96de-fbf51efb3179"],
    )
    rcm = Fabric(
        name="vmware-appliance-fabric",
        friendly_name="appliance-01",
        kind="InMageRcm",
        containers=["replication-container-rcm"],
    )
    c1, c2 = classic.containers[0], rcm.containers[0]
    disks = [
        Disk("6000C29a-1b2c-3d4e-5f60-718293a4b5c6", "[datastore-ssd-01] web01/web01.vmdk", 64 * 2**30),
        Disk("6000C29b-2c3d-4e5f-6071-8293a4b5c6d7", "[datastore-ssd-01] web01/web01_1.vmdk", 128 * 2**30),
    ]
    items = [
        Item(
            name="a1f0e7c4-0001-4a6b-9c1d-100000000001",
            fabric=classic.name,
            container=c1,
            friendly_name="web01",
            provider="InMageAzureV2",
            policy="v2a-24h",
            ip_address="10.10.5.11",
            disks=disks,
            azure_vm="web01",
            process_server_id=classic.process_servers[1].id,
            recovery_points=_rps((0, "CrashConsistent"), (5, "ApplicationConsistent"), (10, "CrashConsistent")),
            failover_recovery_point="rp-0010",
        ),
        Item(
            name="a1f0e7c4-0002-4a6b-9c1d-100000000002",
            fabric=classic.name,
            container=c1,
            friendly_name="app01",
            provider="InMageAzureV2",
            policy="v2a-24h",
            os_type="Linux",
            ip_address="10.10.5.12",
            disks=[Disk("6000C29c-3d4e-5f60-7182-93a4b5c6d7e8", "[datastore-ssd-01] app01/app01.vmdk", 32 * 2**30)],
            azure_vm="app01",
            process_server_id=classic.process_servers[1].id,
            recovery_points=_rps((0, "ApplicationConsistent"), (15, "CrashConsistent")),
        ),
        Item(
            name="a1f0e7c4-0003-4a6b-9c1d-100000000003",
            fabric=classic.name,
            container=c1,
            friendly_name="db01",
            provider="InMage",
            policy="failback-24h",
            protection_state="Protected",
            protection_stage="Differential Sync",
            rpo_seconds=37,
            ip_address="10.10.5.13",
            disks=[Disk("6000C29d-4e5f-6071-8293-a4b5c6d7e8f9", "[datastore-ssd-01] db01/db01.vmdk", 256 * 2**30)],
            azure_vm="db01",
            process_server_id=classic.process_servers[1].id,
            master_target_id=mt_win.id,
            datastore_name="datastore-ssd-01",
            retention_drive="E:\\",
            run_as_account_id="3",
            recovery_points=_rps((20, "ApplicationConsistent"), (25, "CrashConsistent"), (30, "CrashConsistent")),
        ),
        Item(
            name="b2e1d8f5-0004-4b7c-8d2e-200000000004",
            fabric=classic.name,
            container=c1,
            friendly_name="file01",
            provider="InMageAzureV2",
            policy="v2a-24h",
            physical=True,
            ip_address="10.10.6.40",
            disks=[Disk("disk0", "\\\\.\\PHYSICALDRIVE0", 500 * 2**30)],
            azure_vm="file01",
            process_server_id=classic.process_servers[1].id,
            replication_health="Warning",
            health_errors=[
                HealthIssue(
                    code="78144",
                    message="No app-consistent recovery point in the last 4 hours.",
                    recommended_action="Check the VSS writers on the source server.",
                )
            ],
            recovery_points=_rps((3, "CrashConsistent")),
        ),
        Item(
            name="c3f2e9a6-0005-4c8d-9e3f-300000000005",
            fabric=rcm.name,
            container=c2,
            friendly_name="crm01",
            provider="InMageRcm",
            policy="rcm-24h",
            process_server_id="d4e5f6a7-0001-4e8f-9a0b-appliance001",
            run_as_account_id="vmware-site/runasaccounts/linux-root",
            firmware_type="UEFI",
            rpo_seconds=60,
            ip_address="10.10.7.50",
            azure_vm="crm01",
            recovery_points=_rps((40, "CrashConsistent")),
        ),
        Item(
            name="c3f2e9a6-0006-4c8d-9e3f-300000000006",
            fabric=rcm.name,
            container=c2,
            friendly_name="erp01",
            provider="InMageRcmFailback",
            process_server_id="e5f6a7b8-0002-4f90-8b1c-reprotectag1",
            policy="rcm-failback",
            protection_state="Protected",
            ip_address="10.10.7.51",
            azure_vm="erp01",
            datastore_name="datastore-ssd-01",
            recovery_points=_rps((45, "ApplicationConsistent"), (50, "CrashConsistent")),
        ),
    ]
    vms = [
        AzureVm("rg-dr", item.friendly_name, vm_id=f"0f0e0d0c-0b0a-4009-8008-{i:012d}", computer_name=item.name[:15])
        for i, item in enumerate(items, start=1)
    ]
    plans = [
        Plan(
            name="rp-3tier",
            friendly_name="3-tier application",
            primary_fabric=classic.name,
            groups=[
                PlanGroup("Shutdown"),
                PlanGroup("Failover"),
                PlanGroup("Boot", [items[2].name]),
                PlanGroup("Boot", [items[1].name]),
                PlanGroup("Boot", [items[0].name]),
            ],
            providers=["InMageAzureV2", "InMage"],
        )
    ]
    jobs = [
        Job(
            name="5e0a6b1c-1111-4d2e-8f3a-000000000001",
            scenario="UnplannedFailover",
            friendly_name="Unplanned failover",
            state="Succeeded",
            target_object_id=items[0].name,
            target_object_name="web01",
            tasks=[("UnplannedFailoverPreflightTask", "Succeeded"), ("StartVmTask", "Succeeded")],
        ),
        Job(
            name="5e0a6b1c-2222-4d2e-8f3a-000000000002",
            scenario="Commit",
            friendly_name="Commit",
            state="Succeeded",
            target_object_id=items[0].name,
            target_object_name="web01",
            start_time=_T0 + datetime.timedelta(minutes=30),
            end_time=_T0 + datetime.timedelta(minutes=31),
        ),
        Job(
            name="5e0a6b1c-3333-4d2e-8f3a-000000000003",
            scenario="Reprotect",
            friendly_name="Reprotect",
            state="Failed",
            target_object_id=items[3].name,
            target_object_name="file01",
            start_time=_T0 + datetime.timedelta(minutes=40),
            end_time=_T0 + datetime.timedelta(minutes=55),
            errors=[
                HealthIssue(
                    code="95117",
                    message="The master target cannot reach the selected datastore.",
                    level="Error",
                    possible_causes="The ESXi host of the master target does not see the datastore.",
                    recommended_action="Choose a datastore the master target's host can access.",
                )
            ],
        ),
    ]
    return Estate(
        subscription_id=sub,
        resource_group="rg-asr",
        vault="vault-failback",
        fabrics=[classic, rcm],
        policies=[
            Policy("v2a-24h", "24-hour-retention-policy"),
            Policy("failback-24h", "24-hour-retention-policy-failback"),
            Policy("rcm-24h", "rcm-24h"),
            Policy("rcm-failback", "rcm-failback"),
        ],
        items=items,
        plans=plans,
        jobs=jobs,
        vms=vms,
    )
