"""What the doctor knows about a failback before any change: plain values gathered by the collectors.

``None`` always means "could not be measured" (the check then warns and says how to find out), never "no"; where a
fact can be unmeasured for several reasons, a ``*_note`` field says which, so the evidence can.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from controller.agents import AzurePermissions

__all__ = [
    "AgentFacts",
    "AsrServerFacts",
    "ControllerFacts",
    "DatastoreFacts",
    "DoctorFacts",
    "ItemFacts",
    "MasterTargetFacts",
    "RetentionFacts",
    "VCenterFacts",
    "VaultFacts",
]


@dataclass(frozen=True)
class DatastoreFacts:
    moid: str
    name: str
    type: str  # VMFS, vsan, NFS, NFS41, VVOL, OTHER
    free_bytes: int | None = None
    # Privileges the vCenter user lacks on it (empty: it has all of them; None: they could not be read).
    missing_privileges: tuple[str, ...] | None = ()


@dataclass(frozen=True)
class RetentionFacts:
    path: str
    # Whether the agent judged the volume fit for journals (ext4/xfs, not the OS volume...); None: not judged.
    eligible: bool | None
    reasons: tuple[str, ...] = ()
    capacity_bytes: int | None = None
    free_bytes: int | None = None
    threshold_pct: float = 80.0
    source: str = "the master target's agent"
    # The agent is configured ([replication] check_retention_volume = false) to use the volume although it is not
    # eligible: the operator's explicit choice, reported as a warning instead of a failure.
    eligibility_waived: bool = False


@dataclass(frozen=True)
class AgentFacts:
    """An agent as the controller sees it: its heartbeat, whether it answers, its certificate and version."""

    name: str
    role: str  # "master-target" | "process-server"
    registered: bool = True
    version: str | None = None
    answers: bool | None = None  # the controller reached its API on its address; None: not probed
    answer_error: str | None = None
    probe_note: str | None = None  # why it was not probed
    heartbeat_age_seconds: float | None = None
    certificate_not_after: dt.datetime | None = None
    # Process servers: what its Azure identity lacks for the VMs it replicates agentlessly, as it asked Azure;
    # None: not asked or not answered (azure_note says why).
    azure_permissions: AzurePermissions | None = None
    azure_note: str = "its agent was not asked"


@dataclass(frozen=True)
class MasterTargetFacts:
    agent: AgentFacts
    vm_name: str | None = None
    vm_uuid: str | None = None  # the VM the plan names for it; None: no plan names one
    vm_found: bool | None = True  # None: vCenter's inventory is not known
    os_family: str | None = None  # "linux" | "windows"
    host: str | None = None
    host_license: str | None = None  # edition key: esxBasic is a free ESXi
    host_datastores: frozenset[str] = frozenset()  # moids the host mounts
    snapshots: tuple[str, ...] = ()
    enable_uuid: bool | None = None
    disk_ids: frozenset[str] = frozenset()  # normalised ids of its own disks (not those failback attached)
    attached_disks: int | None = None
    attached_source: str = "its agent's Disks API"
    disk_limit: int = 60
    planned_disks: int = 0
    placement_problem: str | None = None  # the placement the workflow would make fails, and why
    retention: RetentionFacts | None = None
    retention_note: str = "its retention volumes could not be read"
    # Process server names whose pairs report a live connection to this master target (None: no pair yet).
    reached_by: frozenset[str] | None = None
    reach_note: str = "not measurable before the first pair connects"


@dataclass(frozen=True)
class ItemFacts:
    """One VM or physical server to fail back, with what vCenter and ASR say about it."""

    name: str
    master_target: str
    process_server: str
    plan: str | None = None
    phase: str = "failed-over-to-azure"  # the item's failback state in the controller
    physical: bool = False
    asr_state: str | None = None  # e.g. "UnplannedFailoverCommitted/Recovery (InMageAzureV2)"
    eligible_state: bool = True
    os_family: str | None = None
    onprem_vm: str | None = None  # name of the on-premises VM found by its disks, None when there is none
    host: str | None = None  # the on-premises VM's host
    host_license: str | None = None
    snapshots: tuple[str, ...] = ()
    disk_ids: frozenset[str] = frozenset()
    disk_controllers: tuple[str, ...] = ()  # controller kind of each of its disks
    datastores: tuple[DatastoreFacts, ...] = ()  # where its disks are on-premises
    target_datastore: DatastoreFacts | None = None
    target_datastore_missing: str | None = None  # the plan's datastore, which vCenter does not have
    tools_installed: bool | None = None
    tools_running: bool | None = None
    powered_on: bool = False
    static_ips: tuple[str, ...] = ()  # IPv4 addresses known for it (plan, VMware Tools, ASR)
    restorable_ips: tuple[str, ...] = ()  # those the failover can restore (with prefix and NIC)
    restore_static_ips: bool = False
    network_manager: bool | None = None
    network_manager_note: str = "cannot tell whether NetworkManager is installed in the guest"


@dataclass(frozen=True)
class VCenterFacts:
    name: str
    user: str | None
    connected: bool | None = True  # None: not tried (offline)
    error: str | None = None
    note: str | None = None  # where the facts about it come from when not from a live session
    certificate_not_after: dt.datetime | None = None
    privileges_note: str | None = None  # why privileges were not read


@dataclass(frozen=True)
class VaultFacts:
    name: str
    connected: bool | None = True  # None: not tried (offline)
    error: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class AsrServerFacts:
    """Whether the vault lists the server ASR's reprotect must name for an agent of the plan."""

    agent: str
    role: str
    vault: str
    asr_id: str | None  # the plan's asr_id for it, when given (else matched by name)
    found: bool | None  # None: the vault's servers are not known
    listed: tuple[str, ...] = ()  # names of the servers of that role the vault lists


@dataclass(frozen=True)
class ControllerFacts:
    version: str
    certificate_not_after: dt.datetime | None = None
    ca_not_after: dt.datetime | None = None
    # When this controller process began to serve agents; None: unknown. Agents it has heard nothing from since are
    # not blamed for the time it was down itself (a restart, an upgrade, a crash).
    started_at: dt.datetime | None = None


@dataclass(frozen=True)
class DoctorFacts:
    now: dt.datetime
    controller: ControllerFacts
    vcenter: VCenterFacts | None = None
    vaults: tuple[VaultFacts, ...] = ()
    master_targets: tuple[MasterTargetFacts, ...] = ()
    process_servers: tuple[AgentFacts, ...] = ()
    items: tuple[ItemFacts, ...] = ()
    asr_servers: tuple[AsrServerFacts, ...] = ()
    stale_after_seconds: float = 90.0
    # An agent's certificate this close to its end is overdue for renewal (agents renew at a third of their
    # lifetime left; a quarter leaves room for a renewal that is merely late).
    agent_certificate_warning: dt.timedelta = dt.timedelta(days=7) / 4
    problems: tuple[str, ...] = field(default_factory=tuple)  # what the collectors could not gather, and why

    def master_target(self, name: str) -> MasterTargetFacts | None:
        return next((mt for mt in self.master_targets if mt.agent.name == name), None)
