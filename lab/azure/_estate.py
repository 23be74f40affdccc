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
]

Provider = Literal["InMageAzureV2", "InMage", "InMageRcm", "InMageRcmFailback"]
PowerState = Literal["running", "stopped", "deallocated", "starting", "stopping", "deallocating"]

_T = TypeVar("_T")
T0 = datetime.datetime(2026, 3, 14, 9, 0, tzinfo=datetime.UTC)


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
    last_heartbeat: datetime.datetime = T0


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
    last_heartbeat: datetime.datetime = T0


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
    container_names: dict[str, str] = field(default_factory=dict)
    """Friendly names of protection groups (container id -> name); a container not named here is the
    configuration server's own and carries the fabric's friendly name, as ASR names it."""


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
    # The source machine's hardware as ASR recorded it (what a failback to a new VM recreates).
    cpu_count: int = 4
    memory_mb: int = 16384
    nic_networks: list[str] = field(default_factory=list)  # each source NIC's network name, in order
    vcenter_id: str = "vcenter-01"
    recovery_points: list[RecoveryPoint] = field(default_factory=list)
    health_errors: list[HealthIssue] = field(default_factory=list)
    failover_recovery_point: str = ""
    last_failover: datetime.datetime | None = T0
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
    last_unplanned_failover: datetime.datetime | None = T0


@dataclass
class Job:
    name: str
    scenario: str
    friendly_name: str
    state: str
    target_object_id: str
    target_object_name: str
    target_instance_type: str = "ProtectionEntity"
    start_time: datetime.datetime = T0
    end_time: datetime.datetime | None = T0
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
