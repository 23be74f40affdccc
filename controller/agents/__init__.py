"""The controller's thin client for the agents: typed calls for the workflows, implemented over gRPC."""

from controller.agents._grpc import GrpcAgents
from controller.agents._interface import (
    AgentDisk,
    AgentInfo,
    Agents,
    DiskInventory,
    MasterTarget,
    MemberDigest,
    MemberPoint,
    PairState,
    PointSelector,
    ProcessServer,
    RecoveryPoint,
    RetentionVolume,
    SourceDigest,
    SourcePair,
    SourceStatus,
    TargetPair,
    TargetStatus,
)
from controller.agents.errors import AgentApiMissing, AgentError, AgentNotFound, AgentRefused, AgentUnavailable

__all__ = [
    "AgentApiMissing",
    "AgentDisk",
    "AgentError",
    "AgentInfo",
    "AgentNotFound",
    "AgentRefused",
    "AgentUnavailable",
    "Agents",
    "DiskInventory",
    "GrpcAgents",
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
