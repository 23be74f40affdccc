"""The agents as the controller sees them: health from heartbeats, capacity against limits, and the version rule.

Pure logic over recorded facts; no database, no network.
"""

from controller.fleet._health import (
    MASTER_TARGET_DISK_LIMIT,
    RETENTION_FREE_WARNING,
    Health,
    MasterTargetCapacity,
    ProcessServerCapacity,
    RetentionVolume,
    ServerHealth,
    assess,
    capacity_from_json,
)
from controller.fleet._versions import Part, VersionMismatch, check_versions, release, version_problems

__all__ = [
    "MASTER_TARGET_DISK_LIMIT",
    "RETENTION_FREE_WARNING",
    "Health",
    "MasterTargetCapacity",
    "Part",
    "ProcessServerCapacity",
    "RetentionVolume",
    "ServerHealth",
    "VersionMismatch",
    "assess",
    "capacity_from_json",
    "check_versions",
    "release",
    "version_problems",
]
