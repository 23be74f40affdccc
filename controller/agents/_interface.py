"""What the workflows ask of the agents, as typed calls: the controller's thin client (architecture: "the
controller imports from the agent only its API stubs and a thin client").

Two roles. A master target finds attached disks by SCSI id (the Disks API), keeps one pair per target disk with its
generation, holds disks at recovery points and attests their content. A process server keeps the source side of
each pair. Every call takes a deadline; errors are :mod:`controller.agents.errors`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "AgentDisk",
    "AgentInfo",
    "Agents",
    "AzurePermissions",
    "AzureScopePermissions",
    "AzureVmPermissions",
    "DiskInventory",
    "MasterTarget",
    "MemberDigest",
    "MemberPoint",
    "PairState",
    "PointSelector",
    "ProcessServer",
    "RetentionVolume",
    "SourcePair",
    "SourceStatus",
    "TargetPair",
    "TargetStatus",
]


@dataclass(frozen=True)
class AgentInfo:
    name: str
    role: str
    version: str
    certificate_not_after: dt.datetime | None


@dataclass(frozen=True)
class AgentDisk:
    disk_id: str | None
    id_problem: str | None
    size_bytes: int
    roles: tuple[str, ...]
    in_use: bool
    needs_enable_uuid: bool


@dataclass(frozen=True)
class DiskInventory:
    disks: tuple[AgentDisk, ...]
    attached: int
    limit: int
    free: int
    problems: tuple[str, ...]


@dataclass(frozen=True)
class RetentionVolume:
    mountpoint: str
    eligible: bool
    reasons: tuple[str, ...]
    capacity_bytes: int
    free_bytes: int
    threshold_pct: float


class PairState(enum.StrEnum):
    DISCONNECTED = "disconnected"
    RESYNCING = "resyncing"
    REPLICATING = "replicating"
    SYNCED = "synced"
    BACKPRESSURE = "backpressure"
    AT_POINT = "at-point"
    COMMITTED = "committed"
    FAILED = "failed"


@dataclass(frozen=True)
class TargetPair:
    pair_id: str
    generation: int
    disk_id: str
    disk_size: int
    sender: str
    retention_dir: str
    group: str = ""


@dataclass(frozen=True)
class SourcePair:
    pair_id: str
    generation: int
    source_path: str
    change_log_dir: str
    master_target_address: str
    master_target_name: str


@dataclass(frozen=True)
class TargetStatus:
    pair: TargetPair
    state: PairState
    reason: str
    durable_seq: int
    bytes_received: int
    sender_connected: bool
    points: int


@dataclass(frozen=True)
class SourceStatus:
    pair: SourcePair
    state: PairState
    reason: str
    connected: bool
    plain_bytes_sent: int
    wire_bytes_sent: int
    backlog_bytes: int
    last_sent_seq: int
    acknowledged_seq: int
    resync_percent: float | None
    lag_seconds: float


@dataclass(frozen=True)
class PointSelector:
    """latest | latest-app | point id | time (seconds since the epoch)."""

    kind: str
    point_id: str | None = None
    at_time: float | None = None


@dataclass(frozen=True)
class MemberPoint:
    pair_id: str
    point_id: str | None
    time: float | None


@dataclass(frozen=True)
class MemberDigest:
    pair_id: str
    digest: bytes
    disk_size: int
    applied_seq: int
    point_id: str | None


class MasterTarget(Protocol):
    name: str

    def info(self) -> AgentInfo: ...
    def disks(self) -> DiskInventory: ...
    def rescan(self, expected_ids: Sequence[str]) -> DiskInventory: ...
    def resolve(self, disk_id: str) -> AgentDisk: ...
    def prepare(self, disk_id: str) -> AgentDisk: ...
    def release(self, disk_id: str) -> AgentDisk: ...
    def remove(self, disk_id: str) -> AgentDisk: ...
    def retention_volumes(self) -> tuple[RetentionVolume, ...]: ...
    def put_pair(self, pair: TargetPair) -> TargetStatus: ...
    def pair(self, pair_id: str) -> TargetStatus | None: ...
    def delete_pair(self, pair_id: str) -> None: ...
    def bring_to_point(self, pair_ids: Sequence[str], group: str, selector: PointSelector) -> list[MemberPoint]: ...
    def cancel_point(self, pair_id: str, generation: int) -> None: ...
    def commit_point(self, pair_id: str, generation: int) -> None: ...
    def digest(self, pair_id: str, generation: int) -> MemberDigest: ...


@dataclass(frozen=True)
class AzureScopePermissions:
    """A resource group a VM's agentless replication needs actions on: its ``roles`` ("vm", "disks", "snapshots"),
    the documented actions ``missing`` and ``granted`` there, or ``error`` when its permissions could not be read."""

    scope: str
    roles: tuple[str, ...]
    missing: tuple[str, ...] = ()
    granted: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class AzureVmPermissions:
    vm_resource_id: str
    consistency: str  # "incremental-snapshots" | "crash-restore-points" | "app-restore-points"
    scopes: tuple[AzureScopePermissions, ...]


@dataclass(frozen=True)
class AzurePermissions:
    """What a process server's Azure identity lacks; ``configured`` False: it has no ``[azure]`` (no VMs then)."""

    configured: bool
    vms: tuple[AzureVmPermissions, ...] = ()


class ProcessServer(Protocol):
    name: str

    def info(self) -> AgentInfo: ...
    def put_pair(self, pair: SourcePair) -> SourceStatus: ...
    def pair(self, pair_id: str) -> SourceStatus | None: ...
    def delete_pair(self, pair_id: str) -> None: ...
    def source_digest(self, pair_id: str, generation: int) -> bytes | None:
        """The source disk's digest now (the VM is stopped and drained), or None when the agent cannot tell."""
        ...

    def azure_permissions(self) -> AzurePermissions:
        """What its Azure identity lacks for the VMs it replicates agentlessly (asked of Azure by the agent)."""
        ...


class Agents(Protocol):
    """Opens clients by agent name and address (from the plan); a client is cheap and holds one channel."""

    def master_target(self, name: str, address: str) -> MasterTarget: ...
    def process_server(self, name: str, address: str) -> ProcessServer: ...
