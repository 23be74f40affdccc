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
    "RecoveryPoint",
    "RetentionVolume",
    "SourceDigest",
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
    device: str = ""
    fstype: str = ""
    used_pct: float = 0.0
    # The agent is configured to place journals here although the volume is not eligible.
    eligibility_waived: bool = False


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
    """``change_log_dir`` empty: one resync pass of ``source_path`` and nothing after (a source without a change
    tracker); otherwise reprotect: the resync pass, then the change log from where it was when the pair was made."""

    pair_id: str
    generation: int
    source_path: str
    change_log_dir: str
    master_target_address: str
    master_target_name: str
    bandwidth_bytes_per_second: int = 0


@dataclass(frozen=True)
class TargetStatus:
    pair: TargetPair
    state: PairState
    reason: str
    durable_seq: int
    bytes_received: int
    sender_connected: bool
    points: int
    applied_seq: int = 0
    latest_point_time: float = 0.0
    health: str = "ok"
    last_error: str = ""
    health_reasons: tuple[str, ...] = ()
    # The pair's policy: health warns when the newest point is older than this (seconds).
    rpo_threshold: float = 0.0


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
    phase: str = "scan"  # scan | change-log
    plain_bytes_acknowledged: int = 0
    connects: int = 0
    log_durable_position: int = 0
    log_acknowledged_position: int = 0
    source_writing: bool = False
    last_error: str = ""

    @property
    def drained(self) -> bool:
        """Everything the source wrote is on the master target, and nothing more can be written: the tracker is
        closed, the change log is acknowledged to its end and no batch is in flight."""
        return (
            not self.source_writing
            and self.phase == "change-log"
            and self.log_acknowledged_position >= self.log_durable_position
            and self.last_sent_seq == self.acknowledged_seq
            and self.backlog_bytes == 0
        )


@dataclass(frozen=True)
class RecoveryPoint:
    """A point a master target holds for a pair. ``kind``: crash | app | resync-complete."""

    id: str
    kind: str
    time: float
    seq: int
    tag: str | None
    group: str | None
    history_bytes: int
    pending: bool


@dataclass(frozen=True)
class SourceDigest:
    """The source disk's digest at a bookmark (None: at the end of its change log), computed by the process server
    from the disk itself."""

    digest: bytes
    disk_size: int
    bookmark_id: str | None
    kind: str | None
    tag: str | None
    time: float
    log_position: int


@dataclass(frozen=True)
class PointSelector:
    """latest | latest-app | point id | time (seconds since the epoch)."""

    kind: str
    point_id: str | None = None
    at_time: float | None = None


@dataclass(frozen=True)
class MemberPoint:
    """Where a pair's disk is held: ``point_id`` None at latest (everything acknowledged)."""

    pair_id: str
    point_id: str | None
    time: float | None
    kind: str | None = None
    tag: str | None = None


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
    def points(self, pair_id: str) -> list[RecoveryPoint]: ...
    def bring_to_point(self, pair_ids: Sequence[str], group: str, selector: PointSelector) -> list[MemberPoint]:
        """Each pair (or, with ``group``, every member of that consistency group at once) to the point chosen by
        ``selector``; a pair already held at a point is returned to latest first."""
        ...

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
    def source_digest(
        self, pair_id: str, generation: int, bookmark_id: str | None = None, *, at_end: bool = False
    ) -> SourceDigest:
        """The source disk's digest at a bookmark (the newest if None), or at the end of its change log.

        AgentRefused (FAILED_PRECONDITION) when the source is not quiescent there (its VM may still write, or writes
        follow the bookmark); AgentNotFound when the retained change log does not hold the bookmark."""
        ...

    def azure_permissions(self) -> AzurePermissions:
        """What its Azure identity lacks for the VMs it replicates agentlessly (asked of Azure by the agent)."""
        ...


class Agents(Protocol):
    """Opens clients by agent name and address (from the plan); a client is cheap and holds one channel."""

    def master_target(self, name: str, address: str) -> MasterTarget: ...
    def process_server(self, name: str, address: str) -> ProcessServer: ...
