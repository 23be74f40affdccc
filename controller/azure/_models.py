"""Typed, frozen results of the Azure adapter and the references used to name things in a vault.

No Azure SDK model ever leaves the adapter: these dataclasses are what the controller stores and plans with. Fields
that Azure may omit are ``None``. Resource ids are kept as Azure returns them (ASR spells ``/Subscriptions/``);
compare them with :func:`same_id`.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping
from dataclasses import dataclass

from controller.azure.errors import InvalidRequest

__all__ = [
    "Datastore",
    "Fabric",
    "FailoverDirection",
    "HealthIssue",
    "InMageAzureV2State",
    "InMageRcmFailbackState",
    "InMageRcmState",
    "InMageState",
    "ItemOperation",
    "ItemRef",
    "Job",
    "JobTask",
    "MasterTarget",
    "PlanGroup",
    "PlanOperation",
    "ProcessServer",
    "ProtectedDisk",
    "ProtectedItem",
    "ProtectionContainer",
    "ProviderState",
    "RecoveryPlan",
    "RecoveryPoint",
    "RecoveryPointType",
    "RetentionVolume",
    "RunAsAccount",
    "Scenario",
    "VaultEstate",
    "VaultRef",
    "VmPowerState",
    "VmRef",
    "same_id",
]


class FailoverDirection(enum.StrEnum):
    """ASR's direction: primary is the on-premises VMware site, recovery is Azure."""

    PRIMARY_TO_RECOVERY = "PrimaryToRecovery"
    RECOVERY_TO_PRIMARY = "RecoveryToPrimary"


class RecoveryPointType(enum.StrEnum):
    """InMage failover points: the latest processed time, the latest application-consistent tag, or a chosen one."""

    LATEST_TIME = "LatestTime"
    LATEST_TAG = "LatestTag"
    CUSTOM = "Custom"


def same_id(a: str | None, b: str | None) -> bool:
    """ARM ids compare case-insensitively (ASR returns ``/Subscriptions/``, callers write ``/subscriptions/``)."""
    return a is not None and b is not None and a.rstrip("/").lower() == b.rstrip("/").lower()


def _segments(arm_id: str) -> dict[str, str]:
    parts = [p for p in arm_id.strip().split("/") if p]
    return {parts[i].lower(): parts[i + 1] for i in range(0, len(parts) - 1, 2)}


def _need(value: str, what: str) -> str:
    if not value or not value.strip() or "/" in value:
        raise InvalidRequest(f"{what} must be a non-empty name without '/', not {value!r}")
    return value


@dataclass(frozen=True)
class VaultRef:
    """A Recovery Services vault: the subscription, resource group and vault name every call needs."""

    subscription_id: str
    resource_group: str
    name: str

    def __post_init__(self) -> None:
        _need(self.subscription_id, "the subscription id")
        _need(self.resource_group, "the vault's resource group")
        _need(self.name, "the vault name")


@dataclass(frozen=True)
class ItemRef:
    """A replication protected item by fabric, protection container and item name (the three path parts)."""

    fabric: str
    container: str
    name: str

    def __post_init__(self) -> None:
        _need(self.fabric, "the fabric name")
        _need(self.container, "the protection container name")
        _need(self.name, "the protected item name")

    @classmethod
    def from_id(cls, arm_id: str) -> ItemRef:
        parts = _segments(arm_id)
        try:
            return cls(
                parts["replicationfabrics"],
                parts["replicationprotectioncontainers"],
                parts["replicationprotecteditems"],
            )
        except KeyError:
            raise InvalidRequest(
                f"{arm_id!r} is not a replication protected item id",
                remedy="pass the item's id as listed by the vault (…/replicationProtectedItems/NAME)",
            ) from None


@dataclass(frozen=True)
class VmRef:
    """An Azure VM by subscription, resource group and name."""

    subscription_id: str
    resource_group: str
    name: str

    def __post_init__(self) -> None:
        _need(self.subscription_id, "the VM's subscription id")
        _need(self.resource_group, "the VM's resource group")
        _need(self.name, "the VM name")

    @classmethod
    def from_id(cls, arm_id: str) -> VmRef:
        parts = _segments(arm_id)
        if parts.get("providers", "").lower() != "microsoft.compute" or "virtualmachines" not in parts:
            raise InvalidRequest(
                f"{arm_id!r} is not an Azure VM id",
                remedy="use /subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/NAME",
            )
        try:
            return cls(parts["subscriptions"], parts["resourcegroups"], parts["virtualmachines"])
        except KeyError:
            raise InvalidRequest(f"{arm_id!r} is not an Azure VM id") from None


@dataclass(frozen=True)
class HealthIssue:
    """A health or job error as ASR reports it, with its possible causes and recommended action."""

    code: str
    message: str
    level: str | None = None
    possible_causes: str | None = None
    recommended_action: str | None = None


@dataclass(frozen=True)
class RetentionVolume:
    name: str
    capacity_bytes: int | None
    free_bytes: int | None
    threshold_percent: int | None


@dataclass(frozen=True)
class Datastore:
    """A datastore a master target's host can see; ASR reports capacity and free space in GB."""

    name: str
    uuid: str | None
    capacity_gb: float | None
    free_gb: float | None
    type: str | None


@dataclass(frozen=True)
class ProcessServer:
    id: str
    name: str | None
    ip_address: str | None
    os_type: str | None
    agent_version: str | None
    version_status: str | None
    last_heartbeat: datetime.datetime | None
    health: str | None
    service_status: str | None
    machine_count: int | None
    replication_pair_count: int | None
    total_space_bytes: int | None
    available_space_bytes: int | None


@dataclass(frozen=True)
class MasterTarget:
    id: str
    name: str | None
    ip_address: str | None
    os_type: str | None
    agent_version: str | None
    version_status: str | None
    last_heartbeat: datetime.datetime | None
    disk_count: int | None
    retention_volumes: tuple[RetentionVolume, ...]
    datastores: tuple[Datastore, ...]
    health_errors: tuple[HealthIssue, ...]
    validation_errors: tuple[HealthIssue, ...]


@dataclass(frozen=True)
class RunAsAccount:
    id: str
    name: str | None


@dataclass(frozen=True)
class Fabric:
    """A fabric; ``kind`` is ASR's ``customDetails.instanceType``. Only ``VMware`` fabrics list servers."""

    name: str
    id: str
    friendly_name: str | None
    kind: str | None
    health: str | None
    host_name: str | None
    ip_address: str | None
    agent_version: str | None
    process_servers: tuple[ProcessServer, ...]
    master_targets: tuple[MasterTarget, ...]
    run_as_accounts: tuple[RunAsAccount, ...]


@dataclass(frozen=True)
class ProtectionContainer:
    name: str
    id: str
    fabric: str
    friendly_name: str | None
    fabric_type: str | None
    role: str | None
    pairing_status: str | None
    protected_item_count: int | None


@dataclass(frozen=True)
class Scenario:
    """The operation running on an item or plan; ``job_id`` is None when ASR reports none (``None``)."""

    name: str | None
    job_id: str | None
    start_time: datetime.datetime | None


@dataclass(frozen=True)
class ProtectedDisk:
    id: str
    name: str | None
    capacity_bytes: int | None


@dataclass(frozen=True)
class InMageAzureV2State:
    """Classic VMware/physical → Azure replication (the state right after a failover to Azure)."""

    process_server_id: str | None
    master_target_id: str | None
    azure_vm_id: str | None
    azure_vm_name: str | None
    azure_resource_group_id: str | None
    discovery_type: str | None
    os_type: str | None
    ip_address: str | None
    agent_version: str | None
    rpo_seconds: int | None
    datastores: tuple[str, ...]
    last_recovery_point_time: datetime.datetime | None
    # The source machine as ASR recorded it: what a failback to a new VM recreates.
    source_cpu_count: int | None = None
    source_memory_mb: int | None = None
    firmware_type: str | None = None  # "BIOS" | "UEFI"
    nic_networks: tuple[str, ...] = ()  # each source NIC's network name, in order


@dataclass(frozen=True)
class InMageState:
    """Classic Azure → VMware replication through a master target (the failback direction)."""

    process_server_id: str | None
    master_target_id: str | None
    discovery_type: str | None
    os_type: str | None
    ip_address: str | None
    agent_version: str | None
    protection_stage: str | None
    rpo_seconds: int | None
    datastores: tuple[str, ...]
    retention_window_start: datetime.datetime | None
    retention_window_end: datetime.datetime | None


@dataclass(frozen=True)
class InMageRcmState:
    """Modernized VMware → Azure replication through the appliance."""

    process_server_id: str | None
    process_server_name: str | None
    run_as_account_id: str | None
    discovery_type: str | None
    os_type: str | None
    firmware_type: str | None
    ip_address: str | None
    target_vm_name: str | None
    target_resource_group_id: str | None
    target_location: str | None
    last_rpo_seconds: int | None
    last_recovery_point_time: datetime.datetime | None


@dataclass(frozen=True)
class InMageRcmFailbackState:
    """Modernized Azure → VMware replication through the reprotect agent."""

    azure_vm_id: str | None
    reprotect_agent_id: str | None
    reprotect_agent_name: str | None
    target_vcenter_id: str | None
    target_datastore: str | None
    target_vm_name: str | None
    os_type: str | None
    resync_state: str | None


ProviderState = InMageAzureV2State | InMageState | InMageRcmState | InMageRcmFailbackState


@dataclass(frozen=True)
class ProtectedItem:
    """A replication protected item and its state. ``provider`` is ASR's ``providerSpecificDetails.instanceType``;
    ``details`` holds the fields of the four VMware providers (None for any other provider)."""

    ref: ItemRef
    id: str
    friendly_name: str | None
    item_type: str | None
    provider: str | None
    protection_state: str | None
    protection_state_description: str | None
    active_location: str | None
    replication_health: str | None
    failover_health: str | None
    allowed_operations: tuple[str, ...]
    policy_id: str | None
    policy_name: str | None
    scenario: Scenario
    failover_recovery_point_id: str | None
    last_failover_time: datetime.datetime | None
    health_errors: tuple[HealthIssue, ...]
    disks: tuple[ProtectedDisk, ...]
    details: ProviderState | None

    @property
    def replication_direction(self) -> FailoverDirection | None:
        """Which way data flows now: from the active location to the other site, while the item is protected.

        ASR has no direction field on an item; a protected item replicates away from where it runs.
        """
        if self.protection_state != "Protected":
            return None
        if self.active_location == "Recovery":
            return FailoverDirection.RECOVERY_TO_PRIMARY
        if self.active_location == "Primary":
            return FailoverDirection.PRIMARY_TO_RECOVERY
        return None

    @property
    def is_physical(self) -> bool:
        discovery = getattr(self.details, "discovery_type", None)
        return (discovery or "").lower() == "physical" or (self.item_type or "").lower() == "physicalmachine"

    @property
    def azure_vm_id(self) -> str | None:
        """The failed-over Azure VM, when the provider's details name it (InMage details do not)."""
        if isinstance(self.details, InMageRcmState):
            group, name = self.details.target_resource_group_id, self.details.target_vm_name
            return f"{group}/providers/Microsoft.Compute/virtualMachines/{name}" if group and name else None
        return getattr(self.details, "azure_vm_id", None)


@dataclass(frozen=True)
class RecoveryPoint:
    name: str
    id: str
    time: datetime.datetime | None
    type: str | None


@dataclass(frozen=True)
class PlanGroup:
    """One group of a recovery plan, in plan order; ``boot_order`` numbers the Boot groups from 1."""

    kind: str
    boot_order: int | None
    items: tuple[ItemRef, ...]
    item_ids: tuple[str, ...]
    start_actions: tuple[str, ...]
    end_actions: tuple[str, ...]


@dataclass(frozen=True)
class RecoveryPlan:
    name: str
    id: str
    friendly_name: str | None
    primary_fabric_id: str | None
    recovery_fabric_id: str | None
    providers: tuple[str, ...]
    allowed_operations: tuple[str, ...]
    scenario: Scenario
    scenario_status: str | None
    last_unplanned_failover_time: datetime.datetime | None
    groups: tuple[PlanGroup, ...]


@dataclass(frozen=True)
class JobTask:
    name: str | None
    state: str | None


_TERMINAL = frozenset({"succeeded", "failed", "cancelled", "completedwithinformation", "skipped"})
_SUCCESS = frozenset({"succeeded", "completedwithinformation"})


@dataclass(frozen=True)
class Job:
    """An ASR job. ``name`` is the job id used by :meth:`SiteRecovery.get_job`."""

    name: str
    id: str
    scenario: str | None
    friendly_name: str | None
    state: str | None
    state_description: str | None
    start_time: datetime.datetime | None
    end_time: datetime.datetime | None
    target_object_id: str | None
    target_object_name: str | None
    target_type: str | None
    tasks: tuple[JobTask, ...]
    errors: tuple[HealthIssue, ...]

    @property
    def finished(self) -> bool:
        return (self.state or "").lower() in _TERMINAL

    @property
    def succeeded(self) -> bool:
        return (self.state or "").lower() in _SUCCESS


@dataclass(frozen=True)
class VaultEstate:
    """Everything imported from one vault; ``recovery_points`` is keyed by item."""

    vault: VaultRef
    fabrics: tuple[Fabric, ...]
    containers: tuple[ProtectionContainer, ...]
    items: tuple[ProtectedItem, ...]
    plans: tuple[RecoveryPlan, ...]
    recovery_points: Mapping[ItemRef, tuple[RecoveryPoint, ...]]
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class ItemOperation:
    """The outcome of an item action: the ASR job that ran it and the item afterwards."""

    job_id: str | None
    item: ProtectedItem


@dataclass(frozen=True)
class PlanOperation:
    job_id: str | None
    plan: RecoveryPlan


@dataclass(frozen=True)
class VmPowerState:
    """``power_state`` is the suffix of the ``PowerState/...`` status: running, stopped, deallocated, starting…"""

    vm: VmRef
    power_state: str | None
    provisioning_state: str | None
    display_status: str | None
