"""What the doctor knows about a failback before any change: plain values gathered by the collectors.

``None`` always means "could not be measured" (the check then warns and says how to find out), never "no".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = [
    "AgentFacts",
    "ControllerFacts",
    "DatastoreFacts",
    "DoctorFacts",
    "ItemFacts",
    "MasterTargetFacts",
    "RetentionFacts",
    "VCenterFacts",
]


@dataclass(frozen=True)
class DatastoreFacts:
    moid: str
    name: str
    type: str  # VMFS, vsan, NFS, NFS41, VVOL, OTHER
    free_bytes: int | None = None
    # Privileges the vCenter user lacks on it (empty: it has all of them).
    missing_privileges: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetentionFacts:
    path: str
    eligible: bool
    reasons: tuple[str, ...] = ()
    capacity_bytes: int | None = None
    free_bytes: int | None = None
    threshold_pct: float = 80.0


@dataclass(frozen=True)
class AgentFacts:
    """An agent as the controller sees it: its heartbeat, whether it answers, its certificate and version."""

    name: str
    role: str  # "master-target" | "process-server"
    registered: bool = True
    version: str | None = None
    answers: bool | None = None  # the controller reached its API on its address
    answer_error: str | None = None
    heartbeat_age_seconds: float | None = None
    certificate_not_after: dt.datetime | None = None


@dataclass(frozen=True)
class MasterTargetFacts:
    agent: AgentFacts
    vm_name: str | None = None
    vm_found: bool = True
    os_family: str | None = None  # "linux" | "windows"
    host: str | None = None
    host_license: str | None = None  # edition key: esxBasic is a free ESXi
    host_datastores: frozenset[str] = frozenset()  # moids the host mounts
    snapshots: tuple[str, ...] = ()
    enable_uuid: bool | None = None
    disk_ids: frozenset[str] = frozenset()  # normalised ids of the disks attached to it now
    attached_disks: int | None = None
    disk_limit: int = 60
    planned_disks: int = 0
    retention: RetentionFacts | None = None
    # Process server names whose pairs report a live connection to this master target (None: no pair yet).
    reached_by: frozenset[str] | None = None


@dataclass(frozen=True)
class ItemFacts:
    """One VM or physical server to fail back, with what vCenter and ASR say about it."""

    name: str
    master_target: str
    process_server: str
    physical: bool = False
    asr_state: str | None = None  # e.g. "UnplannedFailoverCommitted/Recovery"
    eligible_state: bool = True
    os_family: str | None = None
    onprem_vm: str | None = None  # name of the on-premises VM found by its disks, None when there is none
    snapshots: tuple[str, ...] = ()
    disk_ids: frozenset[str] = frozenset()
    disk_controllers: tuple[str, ...] = ()  # controller kind of each of its disks
    datastores: tuple[DatastoreFacts, ...] = ()  # where its disks are on-premises
    target_datastore: DatastoreFacts | None = None
    host_license: str | None = None  # the on-premises VM's host
    tools_running: bool | None = None
    static_ips: tuple[str, ...] = ()
    restore_static_ips: bool = False
    network_manager: bool | None = None


@dataclass(frozen=True)
class VCenterFacts:
    name: str
    user: str | None
    connected: bool = True
    error: str | None = None
    certificate_not_after: dt.datetime | None = None


@dataclass(frozen=True)
class ControllerFacts:
    version: str
    certificate_not_after: dt.datetime | None = None
    ca_not_after: dt.datetime | None = None


@dataclass(frozen=True)
class DoctorFacts:
    now: dt.datetime
    controller: ControllerFacts
    vcenter: VCenterFacts | None = None
    master_targets: tuple[MasterTargetFacts, ...] = ()
    process_servers: tuple[AgentFacts, ...] = ()
    items: tuple[ItemFacts, ...] = ()
    stale_after_seconds: float = 90.0
    problems: tuple[str, ...] = field(default_factory=tuple)  # what the collectors could not gather, and why

    def master_target(self, name: str) -> MasterTargetFacts | None:
        return next((mt for mt in self.master_targets if mt.agent.name == name), None)
