"""What an agent's heartbeat means: its health and capacity, judged against its limits. Pure.

Capacity is what the agent measures (later work fills the figures; absent figures are "not measured", not zero):

* master target: disks attached to the VM against VMware's 60-disk limit (4 SCSI controllers x 15 disks), and its
  retention volumes' free space;
* process server: backlog (bytes not yet acknowledged by the master target) and throughput.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MASTER_TARGET_DISK_LIMIT",
    "RETENTION_FREE_WARNING",
    "Health",
    "MasterTargetCapacity",
    "ProcessServerCapacity",
    "RetentionVolume",
    "ServerHealth",
    "assess",
    "capacity_from_json",
]

MASTER_TARGET_DISK_LIMIT = 60
# Below this share of free retention space the master target is reported degraded (ASR warns at 80% used too).
RETENTION_FREE_WARNING = 0.2


class Health:
    OK = "ok"
    DEGRADED = "degraded"  # alive, but reports problems or is near a limit
    STALE = "stale"  # no heartbeat for longer than the controller allows
    UNKNOWN = "unknown"  # never sent a heartbeat
    REVOKED = "revoked"


@dataclass(frozen=True)
class RetentionVolume:
    path: str
    capacity_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class MasterTargetCapacity:
    attached_disks: int | None = None
    disk_limit: int = MASTER_TARGET_DISK_LIMIT
    retention_volumes: tuple[RetentionVolume, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "master_target": {
                "attached_disks": self.attached_disks,
                "disk_limit": self.disk_limit,
                "retention_volumes": [vars(volume) for volume in self.retention_volumes],
            }
        }


@dataclass(frozen=True)
class ProcessServerCapacity:
    backlog_bytes: int | None = None
    throughput_bytes_per_second: int | None = None
    replicating_disks: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"process_server": dict(vars(self))}


Capacity = MasterTargetCapacity | ProcessServerCapacity | None


def capacity_from_json(document: dict[str, Any]) -> Capacity:
    if "master_target" in document:
        mt = document["master_target"]
        return MasterTargetCapacity(
            attached_disks=mt.get("attached_disks"),
            disk_limit=mt.get("disk_limit") or MASTER_TARGET_DISK_LIMIT,
            retention_volumes=tuple(RetentionVolume(**volume) for volume in mt.get("retention_volumes", [])),
        )
    if "process_server" in document:
        return ProcessServerCapacity(**document["process_server"])
    return None


@dataclass(frozen=True)
class ServerHealth:
    health: str
    problems: tuple[str, ...] = field(default=())


def assess(
    *,
    state: str,
    last_heartbeat: dt.datetime | None,
    reported_problems: tuple[str, ...],
    capacity: Capacity,
    now: dt.datetime,
    stale_after: dt.timedelta,
) -> ServerHealth:
    """Health from the latest heartbeat: revoked, never seen, silent for too long, reporting problems, or ok."""
    if state == "revoked":
        return ServerHealth(Health.REVOKED)
    if last_heartbeat is None:
        return ServerHealth(Health.UNKNOWN, ("no heartbeat received yet",))
    silent = now - last_heartbeat
    if silent > stale_after:
        return ServerHealth(
            Health.STALE,
            (
                f"no heartbeat for {silent.total_seconds():.0f} s; is failback-agent running and able to "
                "reach the controller?",
            ),
        )
    problems = list(reported_problems) + _capacity_problems(capacity)
    return ServerHealth(Health.DEGRADED if problems else Health.OK, tuple(problems))


def _capacity_problems(capacity: Capacity) -> list[str]:
    problems = []
    if isinstance(capacity, MasterTargetCapacity):
        if capacity.attached_disks is not None and capacity.attached_disks >= capacity.disk_limit:
            problems.append(
                f"{capacity.attached_disks} disks attached: at the limit of {capacity.disk_limit}; add another "
                "master target for more VMs"
            )
        for volume in capacity.retention_volumes:
            if volume.capacity_bytes and volume.free_bytes / volume.capacity_bytes < RETENTION_FREE_WARNING:
                share = 100 * volume.free_bytes / volume.capacity_bytes
                problems.append(
                    f"retention volume {volume.path} is {100 - share:.0f}% full; grow it or shorten retention"
                )
    return problems
