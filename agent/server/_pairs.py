"""``failback.agent.v1.TargetPairs`` (master target) and ``SourcePairs`` (process server): the controller's pair API.

Each servicer translates protobuf to :mod:`agent.replication` specs and back, and errors to status codes; the
registries do the work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import grpc

from agent.api.v1 import pairs_pb2 as pb
from agent.api.v1 import pairs_pb2_grpc
from agent.dataplane.errors import BookmarkNotFound, ChangeLogError, SourceError
from agent.journal import HealthState, JournalError, JournalFailed, StaleGeneration, TargetUnusable
from agent.replication import (
    AzureAccess,
    AzureSourceSpec,
    SourceKind,
    SourcePair,
    SourcePairSpec,
    SourceRegistry,
    SourceStatus,
    TargetPairSpec,
    TargetRegistry,
    TargetStatus,
    policy_from_dict,
)
from agent.replication.errors import InvalidPair, NoChangeLog, PairConflict, PairNotFound, WrongGeneration
from agent.retention import RetentionError
from agent.server._permissions import azure_permissions
from agent.snapshots import PointMode
from agent.snapshots.errors import InvalidConfig
from failback.diskid import InvalidDiskId
from failback.errors import FailbackError
from failback.serving import StatusMap, abort_with

__all__ = ["PAIRS_STATUS", "SourcePairsServicer", "TargetPairsServicer", "source_status", "target_status"]

T = TypeVar("T")

PAIRS_STATUS: StatusMap = [
    (InvalidPair, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidConfig, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidDiskId, grpc.StatusCode.INVALID_ARGUMENT),
    (PairNotFound, grpc.StatusCode.NOT_FOUND),
    (PairConflict, grpc.StatusCode.FAILED_PRECONDITION),
    (StaleGeneration, grpc.StatusCode.FAILED_PRECONDITION),
    (TargetUnusable, grpc.StatusCode.FAILED_PRECONDITION),
    (JournalFailed, grpc.StatusCode.FAILED_PRECONDITION),
    (RetentionError, grpc.StatusCode.FAILED_PRECONDITION),
    (JournalError, grpc.StatusCode.FAILED_PRECONDITION),
    (WrongGeneration, grpc.StatusCode.FAILED_PRECONDITION),
    (NoChangeLog, grpc.StatusCode.FAILED_PRECONDITION),
    (BookmarkNotFound, grpc.StatusCode.NOT_FOUND),
    (ChangeLogError, grpc.StatusCode.FAILED_PRECONDITION),
    (SourceError, grpc.StatusCode.FAILED_PRECONDITION),
]

_HEALTH = {HealthState.OK: 1, HealthState.WARNING: 2, HealthState.ERROR: 3}


def _answer(context: grpc.ServicerContext, work: Callable[[], T]) -> T:
    try:
        return work()
    except FailbackError as exc:
        abort_with(context, exc, PAIRS_STATUS)


# -- master target --------------------------------------------------------------------------------------------------


def target_spec(message: pb.TargetPair) -> TargetPairSpec:
    policy = message.policy
    target = message.WhichOneof("target")
    return TargetPairSpec(
        pair_id=message.pair_id,
        generation=message.generation,
        disk_size=message.disk_size,
        sender=message.sender,
        retention_dir=message.retention_dir,
        disk_id=message.disk_id if target == "disk_id" else None,
        path=message.path if target == "path" else None,
        policy=policy_from_dict(
            {
                "window": policy.window_seconds,
                "crash_interval": policy.crash_interval_seconds,
                "rpo_threshold": policy.rpo_threshold_seconds,
                "threshold_pct": policy.threshold_pct,
                "shorten_when_full": policy.shorten_when_full,
            }
        ),
        group=message.group or None,
    )


def target_message(spec: TargetPairSpec) -> pb.TargetPair:
    message = pb.TargetPair(
        pair_id=spec.pair_id,
        generation=spec.generation,
        disk_size=spec.disk_size,
        sender=spec.sender,
        retention_dir=spec.retention_dir,
        policy=pb.RetentionPolicy(
            window_seconds=spec.policy.window,
            crash_interval_seconds=spec.policy.crash_interval,
            rpo_threshold_seconds=spec.policy.rpo_threshold,
            threshold_pct=spec.policy.threshold_pct,
            shorten_when_full=spec.policy.shorten_when_full,
        ),
        group=spec.group or "",
    )
    if spec.disk_id is not None:
        message.disk_id = spec.disk_id
    else:
        message.path = spec.path or ""
    return message


def target_status(status: TargetStatus) -> pb.TargetPairStatus:
    return pb.TargetPairStatus(
        pair=target_message(status.spec),
        state=int(status.state),  # type: ignore[arg-type]
        reason=status.reason,
        health=_HEALTH[status.health],  # type: ignore[arg-type]
        health_reasons=status.health_reasons,
        durable_seq=status.durable_seq,
        applied_seq=status.applied_seq,
        bytes_received=status.bytes_received,
        batches_received=status.batches_received,
        batches_replayed=status.batches_replayed,
        batches_rejected=status.batches_rejected,
        sender_connected=status.sender_connected,
        points=status.points,
        latest_point_time=status.latest_point_time,
        last_error=status.last_error,
        last_error_time=status.last_error_time,
    )


class TargetPairsServicer(pairs_pb2_grpc.TargetPairsServicer):
    def __init__(self, registry: TargetRegistry) -> None:
        self._registry = registry

    def PutPair(self, request: pb.TargetPair, context: grpc.ServicerContext) -> pb.TargetPairStatus:
        return _answer(context, lambda: target_status(self._registry.put(target_spec(request)).status()))

    def DeletePair(self, request: pb.DeletePairRequest, context: grpc.ServicerContext) -> pb.DeletePairResponse:
        _answer(context, lambda: self._registry.delete(request.pair_id))
        return pb.DeletePairResponse()

    def GetPairStatus(self, request: pb.GetPairStatusRequest, context: grpc.ServicerContext) -> pb.TargetPairStatus:
        return _answer(context, lambda: target_status(self._registry.get(request.pair_id).status()))

    def ListPairs(self, request: pb.ListPairsRequest, context: grpc.ServicerContext) -> pb.ListTargetPairsResponse:
        return pb.ListTargetPairsResponse(pairs=[target_status(pair.status()) for pair in self._registry.pairs()])


# -- process server -------------------------------------------------------------------------------------------------


_CONSISTENCY = {
    pb.POINT_CONSISTENCY_UNSPECIFIED: PointMode.SNAPSHOTS,
    pb.POINT_CONSISTENCY_INCREMENTAL_SNAPSHOTS: PointMode.SNAPSHOTS,
    pb.POINT_CONSISTENCY_CRASH_RESTORE_POINTS: PointMode.CRASH_RESTORE_POINTS,
    pb.POINT_CONSISTENCY_APP_RESTORE_POINTS: PointMode.APP_RESTORE_POINTS,
}
_CONSISTENCY_OUT = {
    PointMode.SNAPSHOTS.value: pb.POINT_CONSISTENCY_INCREMENTAL_SNAPSHOTS,
    PointMode.CRASH_RESTORE_POINTS.value: pb.POINT_CONSISTENCY_CRASH_RESTORE_POINTS,
    PointMode.APP_RESTORE_POINTS.value: pb.POINT_CONSISTENCY_APP_RESTORE_POINTS,
}


def _azure_spec(message: pb.SourcePair) -> AzureSourceSpec | None:
    if not message.HasField("azure"):
        return None
    azure = message.azure
    mode = _CONSISTENCY.get(azure.consistency)
    if mode is None:
        raise InvalidPair(f"pair {message.pair_id}: azure.consistency {azure.consistency} is unknown")
    return AzureSourceSpec(
        vm_resource_id=azure.vm_resource_id,
        disk_resource_id=azure.disk_resource_id,
        interval=azure.interval_seconds or AzureSourceSpec.interval,
        consistency=mode.value,
        snapshot_resource_group=azure.snapshot_resource_group or None,
    )


def source_spec(message: pb.SourcePair) -> SourcePairSpec:
    try:
        kind = SourceKind(message.kind)
    except ValueError:
        raise InvalidPair(
            f"pair {message.pair_id}: kind must be SOURCE_KIND_SCAN, SOURCE_KIND_SCAN_THEN_CHANGE_LOG or "
            "SOURCE_KIND_AZURE_SNAPSHOTS"
        ) from None
    return SourcePairSpec(
        pair_id=message.pair_id,
        generation=message.generation,
        source_path=message.source_path,
        kind=kind,
        master_target_address=message.master_target_address,
        master_target_name=message.master_target_name,
        change_log_dir=message.change_log_dir or None,
        bandwidth=message.bandwidth_bytes_per_second or None,
        azure=_azure_spec(message),
    )


def source_message(spec: SourcePairSpec) -> pb.SourcePair:
    azure = None
    if spec.azure is not None:
        azure = pb.AzureSnapshotSource(
            vm_resource_id=spec.azure.vm_resource_id,
            disk_resource_id=spec.azure.disk_resource_id,
            interval_seconds=spec.azure.interval,
            consistency=_CONSISTENCY_OUT[spec.azure.consistency],
            snapshot_resource_group=spec.azure.snapshot_resource_group or "",
        )
    return pb.SourcePair(
        pair_id=spec.pair_id,
        generation=spec.generation,
        source_path=spec.source_path,
        kind=int(spec.kind),  # type: ignore[arg-type]
        change_log_dir=spec.change_log_dir or "",
        master_target_address=spec.master_target_address,
        master_target_name=spec.master_target_name,
        bandwidth_bytes_per_second=spec.bandwidth or 0,
        azure=azure,
    )


def source_status(status: SourceStatus) -> pb.SourcePairStatus:
    progress = status.progress
    message = pb.SourcePairStatus(
        pair=source_message(status.spec),
        state=int(status.state),  # type: ignore[arg-type]
        reason=status.reason,
        phase=int(status.phase),  # type: ignore[arg-type]
        connected=status.connected,
        plain_bytes_sent=progress.plain_bytes_sent,
        wire_bytes_sent=progress.wire_bytes_sent,
        plain_bytes_acknowledged=progress.plain_bytes_acknowledged,
        last_sent_seq=progress.last_sent_seq,
        acknowledged_seq=progress.acknowledged_seq,
        backlog_bytes=progress.backlog_bytes,
        backlog_batches=progress.backlog_batches,
        lag_seconds=progress.lag_seconds,
        connects=status.connects,
        last_error=progress.last_error or "",
        last_error_time=progress.last_error_time or 0.0,
        log_durable_position=status.log_durable,
        log_acknowledged_position=status.log_acknowledged,
    )
    if progress.resync_percent is not None:
        message.resync_percent = progress.resync_percent
    if status.acknowledged_point is not None:
        message.acknowledged_point = status.acknowledged_point
    if status.point_age is not None:
        message.point_age_seconds = status.point_age
    return message


def _status(pair: SourcePair) -> pb.SourcePairStatus:
    message = source_status(pair.status())
    message.source_writing = bool(pair.writer_active())
    return message


def _source_digest(pair: SourcePair, request: pb.SourceDigestRequest) -> pb.SourceDigestReport:
    if request.generation and request.generation != pair.spec.generation:
        raise WrongGeneration(
            f"pair {pair.spec.pair_id} is at generation {pair.spec.generation}, not {request.generation}",
            remedy="the pair was reprotected meanwhile: re-plan the step",
        )
    if request.at_end and request.bookmark_id:
        raise InvalidPair("ask for a bookmark_id or at_end, not both")
    found = pair.source_digest(request.bookmark_id or None, at_end=request.at_end)
    report = pb.SourceDigestReport(digest=found.digest, disk_size=found.size, log_position=found.position)
    if found.bookmark is not None:
        report.bookmark_id = found.bookmark.id
        report.bookmark_kind = int(found.bookmark.kind)
        report.bookmark_tag = found.bookmark.tag or ""
        report.bookmark_time = found.bookmark.source_time or 0.0
    return report


class SourcePairsServicer(pairs_pb2_grpc.SourcePairsServicer):
    """``azure``: how this agent reaches Azure (None: no ``[azure]`` in agent.toml)."""

    def __init__(self, registry: SourceRegistry, *, azure: AzureAccess | None = None) -> None:
        self._registry = registry
        self._azure = azure

    def PutPair(self, request: pb.SourcePair, context: grpc.ServicerContext) -> pb.SourcePairStatus:
        return _answer(context, lambda: _status(self._registry.put(source_spec(request))))

    def DeletePair(self, request: pb.DeletePairRequest, context: grpc.ServicerContext) -> pb.DeletePairResponse:
        _answer(context, lambda: self._registry.delete(request.pair_id))
        return pb.DeletePairResponse()

    def GetPairStatus(self, request: pb.GetPairStatusRequest, context: grpc.ServicerContext) -> pb.SourcePairStatus:
        return _answer(context, lambda: _status(self._registry.get(request.pair_id)))

    def ListPairs(self, request: pb.ListPairsRequest, context: grpc.ServicerContext) -> pb.ListSourcePairsResponse:
        return pb.ListSourcePairsResponse(pairs=[_status(pair) for pair in self._registry.pairs()])

    def GetSourceDigest(self, request: pb.SourceDigestRequest, context: grpc.ServicerContext) -> pb.SourceDigestReport:
        return _answer(context, lambda: _source_digest(self._registry.get(request.pair_id), request))

    def SetBandwidth(self, request: pb.SetBandwidthRequest, context: grpc.ServicerContext) -> pb.SetBandwidthResponse:
        self._registry.set_bandwidth(request.bytes_per_second or None)
        return pb.SetBandwidthResponse(bytes_per_second=request.bytes_per_second)

    def CheckAzurePermissions(
        self, request: pb.AzurePermissionsRequest, context: grpc.ServicerContext
    ) -> pb.AzurePermissionsResponse:
        specs = [pair.spec for pair in self._registry.pairs()]
        return _answer(context, lambda: azure_permissions(request, self._azure, specs))
