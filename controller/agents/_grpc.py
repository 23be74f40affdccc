"""The agent client over gRPC with mutual TLS: the controller's certificate, the agent verified by its identity.

Translates the agent API (Disks, Agent, TargetPairs, SourcePairs, RecoveryPoints) into the typed calls of
:mod:`controller.agents._interface`, and gRPC status codes into :mod:`controller.agents.errors` at this edge. Every
call has a deadline.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2

from agent.api.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    disks_pb2,
    disks_pb2_grpc,
    pairs_pb2,
    pairs_pb2_grpc,
    points_pb2,
    points_pb2_grpc,
)
from controller.agents._interface import (
    AgentDisk,
    AgentInfo,
    AzurePermissions,
    AzureScopePermissions,
    AzureVmPermissions,
    DiskInventory,
    MemberDigest,
    MemberPoint,
    PairState,
    PointSelector,
    RecoveryPoint,
    RetentionVolume,
    SourceDigest,
    SourcePair,
    SourceStatus,
    TargetPair,
    TargetStatus,
)
from controller.agents.errors import AgentApiMissing, AgentNotFound, AgentRefused, AgentUnavailable
from failback.identity import Identity, Role
from failback.serving import TlsIdentity, secure_channel

__all__ = ["GrpcAgents"]

T = TypeVar("T")

_TEMPORARY = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED}
_CONSISTENCY = {
    pairs_pb2.POINT_CONSISTENCY_INCREMENTAL_SNAPSHOTS: "incremental-snapshots",
    pairs_pb2.POINT_CONSISTENCY_CRASH_RESTORE_POINTS: "crash-restore-points",
    pairs_pb2.POINT_CONSISTENCY_APP_RESTORE_POINTS: "app-restore-points",
}
_STATES: dict[int, PairState] = {
    pairs_pb2.PAIR_STATE_DISCONNECTED: PairState.DISCONNECTED,
    pairs_pb2.PAIR_STATE_RESYNCING: PairState.RESYNCING,
    pairs_pb2.PAIR_STATE_REPLICATING: PairState.REPLICATING,
    pairs_pb2.PAIR_STATE_SYNCED: PairState.SYNCED,
    pairs_pb2.PAIR_STATE_BACKPRESSURE: PairState.BACKPRESSURE,
    pairs_pb2.PAIR_STATE_AT_POINT: PairState.AT_POINT,
    pairs_pb2.PAIR_STATE_COMMITTED: PairState.COMMITTED,
    pairs_pb2.PAIR_STATE_FAILED: PairState.FAILED,
}
_HEALTH = {1: "ok", 2: "warning", 3: "error"}
_POINT_KINDS = {
    points_pb2.POINT_KIND_CRASH: "crash",
    points_pb2.POINT_KIND_APP: "app",
    points_pb2.POINT_KIND_RESYNC_COMPLETE: "resync-complete",
}
# The Replication API's BookmarkKind numbers (the source's bookmarks).
_BOOKMARK_KINDS = {1: "crash", 2: "app", 3: "resync-complete", 4: "resync-start"}


def _call(what: str, agent: str, rpc: Callable[[], T]) -> T:
    try:
        return rpc()
    except grpc.RpcError as exc:
        code = exc.code()
        message = f"{what} on {agent}: {exc.details() or code.name}"
        if code in _TEMPORARY:
            raise AgentUnavailable(
                message, remedy="check that the agent runs and is reachable", code=code.name
            ) from exc
        if code == grpc.StatusCode.NOT_FOUND:
            raise AgentNotFound(message, code=code.name) from exc
        if code == grpc.StatusCode.UNIMPLEMENTED:
            raise AgentApiMissing(message, remedy="upgrade the agent", code=code.name) from exc
        raise AgentRefused(message, code=code.name) from exc


def _state(value: int) -> PairState:
    return _STATES.get(value, PairState.FAILED)


def _target_pair(message: pairs_pb2.TargetPair) -> TargetPair:
    return TargetPair(
        message.pair_id,
        message.generation,
        message.disk_id or message.path,
        message.disk_size,
        message.sender,
        message.retention_dir,
        message.group,
    )


def _target_status(message: pairs_pb2.TargetPairStatus) -> TargetStatus:
    return TargetStatus(
        pair=_target_pair(message.pair),
        state=_state(message.state),
        reason=message.reason,
        durable_seq=message.durable_seq,
        bytes_received=message.bytes_received,
        sender_connected=message.sender_connected,
        points=message.points,
        applied_seq=message.applied_seq,
        latest_point_time=message.latest_point_time,
        health=_HEALTH.get(message.health, "unknown"),
        last_error=message.last_error,
        health_reasons=tuple(message.health_reasons),
        rpo_threshold=message.pair.policy.rpo_threshold_seconds,
    )


def _source_pair(message: pairs_pb2.SourcePair) -> SourcePair:
    return SourcePair(
        message.pair_id,
        message.generation,
        message.source_path,
        message.change_log_dir,
        message.master_target_address,
        message.master_target_name,
        message.bandwidth_bytes_per_second,
    )


def _source_status(message: pairs_pb2.SourcePairStatus) -> SourceStatus:
    return SourceStatus(
        pair=_source_pair(message.pair),
        state=_state(message.state),
        reason=message.reason,
        connected=message.connected,
        plain_bytes_sent=message.plain_bytes_sent,
        wire_bytes_sent=message.wire_bytes_sent,
        backlog_bytes=message.backlog_bytes,
        last_sent_seq=message.last_sent_seq,
        acknowledged_seq=message.acknowledged_seq,
        resync_percent=message.resync_percent if message.HasField("resync_percent") else None,
        lag_seconds=message.lag_seconds,
        phase="change-log" if message.phase == pairs_pb2.SOURCE_PHASE_CHANGE_LOG else "scan",
        plain_bytes_acknowledged=message.plain_bytes_acknowledged,
        connects=message.connects,
        log_durable_position=message.log_durable_position,
        log_acknowledged_position=message.log_acknowledged_position,
        source_writing=message.source_writing,
        last_error=message.last_error,
    )


def _point(message: points_pb2.RecoveryPoint) -> RecoveryPoint:
    return RecoveryPoint(
        id=message.id,
        kind=_POINT_KINDS.get(message.kind, "unknown"),
        time=message.time,
        seq=message.seq,
        tag=message.tag or None,
        group=message.group or None,
        history_bytes=message.history_bytes,
        pending=message.pending,
    )


def _selector(selector: PointSelector) -> points_pb2.PointSelector:
    if selector.kind == "latest":
        return points_pb2.PointSelector(latest=empty_pb2.Empty())
    if selector.kind == "latest-app":
        return points_pb2.PointSelector(latest_app=empty_pb2.Empty())
    if selector.kind == "point" and selector.point_id:
        return points_pb2.PointSelector(point_id=selector.point_id)
    if selector.kind == "point" and selector.at_time is not None:
        return points_pb2.PointSelector(at_time=selector.at_time)
    raise ValueError(f"a point selector is latest, latest-app, or a point id or time, not {selector}")


def _disk(disk: disks_pb2.Disk) -> AgentDisk:
    return AgentDisk(
        disk_id=disk.disk_id or None,
        id_problem=disk.id_problem or None,
        size_bytes=disk.size_bytes,
        roles=tuple(disk.roles),
        in_use=disk.in_use,
        needs_enable_uuid=disk.needs_enable_uuid,
    )


def _inventory(inventory: disks_pb2.DiskInventory) -> DiskInventory:
    capacity = inventory.capacity
    return DiskInventory(
        disks=tuple(_disk(d) for d in inventory.disks),
        attached=capacity.attached,
        limit=capacity.limit,
        free=capacity.free,
        problems=tuple(inventory.problems),
    )


def _info(channel: grpc.Channel, name: str, timeout: float) -> AgentInfo:
    reply = _call(
        "reading its identity",
        name,
        lambda: agent_pb2_grpc.AgentStub(channel).GetInfo(agent_pb2.GetInfoRequest(), timeout=timeout),
    )
    not_after = reply.certificate_not_after.ToDatetime(dt.UTC) if reply.HasField("certificate_not_after") else None
    return AgentInfo(reply.name, reply.role, reply.version, not_after)


def _read_pair(stub: Any, agent: str, pair_id: str, timeout: float) -> Any:
    """A pair's status from either role's pairs service (TargetPairs or SourcePairs); None if the agent has none."""
    request = pairs_pb2.GetPairStatusRequest(pair_id=pair_id)
    try:
        return _call(f"reading pair {pair_id}", agent, lambda: stub.GetPairStatus(request, timeout=timeout))
    except AgentNotFound:
        return None


def _delete_pair(stub: Any, agent: str, pair_id: str, timeout: float) -> None:
    request = pairs_pb2.DeletePairRequest(pair_id=pair_id)
    _call(f"deleting pair {pair_id}", agent, lambda: stub.DeletePair(request, timeout=timeout))


class _GrpcMasterTarget:
    def __init__(self, name: str, channel: grpc.Channel, timeout: float, digest_timeout: float) -> None:
        self.name = name
        self._disks = disks_pb2_grpc.DisksStub(channel)
        self._pairs = pairs_pb2_grpc.TargetPairsStub(channel)
        self._points = points_pb2_grpc.RecoveryPointsStub(channel)
        self._channel = channel
        self._timeout = timeout
        self._digest_timeout = digest_timeout

    def info(self) -> AgentInfo:
        return _info(self._channel, self.name, self._timeout)

    def disks(self) -> DiskInventory:
        return _inventory(
            _call(
                "listing disks",
                self.name,
                lambda: self._disks.ListDisks(disks_pb2.ListDisksRequest(), timeout=self._timeout),
            )
        )

    def rescan(self, expected_ids: Sequence[str]) -> DiskInventory:
        request = disks_pb2.RescanRequest(expected_ids=list(expected_ids))
        return _inventory(
            _call("rescanning disks", self.name, lambda: self._disks.Rescan(request, timeout=self._timeout))
        )

    def _disk_call(self, what: str, method: Callable[..., disks_pb2.Disk], disk_id: str) -> AgentDisk:
        request = disks_pb2.DiskRequest(disk_id=disk_id)
        return _disk(_call(f"{what} {disk_id}", self.name, lambda: method(request, timeout=self._timeout)))

    def resolve(self, disk_id: str) -> AgentDisk:
        return self._disk_call("resolving", self._disks.ResolveDisk, disk_id)

    def prepare(self, disk_id: str) -> AgentDisk:
        return self._disk_call("preparing", self._disks.PrepareDisk, disk_id)

    def release(self, disk_id: str) -> AgentDisk:
        return self._disk_call("releasing", self._disks.ReleaseDisk, disk_id)

    def remove(self, disk_id: str) -> AgentDisk:
        return self._disk_call("removing", self._disks.RemoveDisk, disk_id)

    def retention_volumes(self) -> tuple[RetentionVolume, ...]:
        reply = _call(
            "listing retention volumes",
            self.name,
            lambda: self._points.ListRetentionVolumes(points_pb2.ListRetentionVolumesRequest(), timeout=self._timeout),
        )
        return tuple(
            RetentionVolume(
                v.mountpoint,
                v.eligible,
                tuple(v.reasons),
                v.capacity_bytes,
                v.free_bytes,
                v.threshold_pct,
                device=v.device,
                fstype=v.fstype,
                used_pct=v.used_pct,
                eligibility_waived=v.eligibility_waived,
            )
            for v in reply.volumes
        )

    def put_pair(self, pair: TargetPair) -> TargetStatus:
        request = pairs_pb2.TargetPair(
            pair_id=pair.pair_id,
            generation=pair.generation,
            disk_id=pair.disk_id,
            disk_size=pair.disk_size,
            sender=pair.sender,
            retention_dir=pair.retention_dir,
            group=pair.group,
        )
        return _target_status(
            _call(
                f"putting pair {pair.pair_id}", self.name, lambda: self._pairs.PutPair(request, timeout=self._timeout)
            )
        )

    def pair(self, pair_id: str) -> TargetStatus | None:
        reply = _read_pair(self._pairs, self.name, pair_id, self._timeout)
        return None if reply is None else _target_status(reply)

    def delete_pair(self, pair_id: str) -> None:
        _delete_pair(self._pairs, self.name, pair_id, self._timeout)

    def points(self, pair_id: str) -> list[RecoveryPoint]:
        request = points_pb2.ListPointsRequest(target=points_pb2.PointTarget(pair_id=pair_id))
        reply = _call(
            f"listing the points of pair {pair_id}",
            self.name,
            lambda: self._points.ListPoints(request, timeout=self._timeout),
        )
        return [_point(p) for p in reply.points]

    def bring_to_point(self, pair_ids: Sequence[str], group: str, selector: PointSelector) -> list[MemberPoint]:
        targets = (
            [points_pb2.PointTarget(group=group)] if group else [points_pb2.PointTarget(pair_id=p) for p in pair_ids]
        )
        members: list[MemberPoint] = []
        for target in targets:
            request = points_pb2.BringToPointRequest(target=target, selector=_selector(selector))
            what = f"bringing {'group ' + group if group else 'pair ' + target.pair_id} to {selector.kind}"
            reply = self._bring(what, request)
            for member in reply.members:
                point = member.point if member.HasField("point") else None
                members.append(
                    MemberPoint(
                        member.pair_id,
                        point.id if point else None,
                        point.time if point else None,
                        _POINT_KINDS.get(point.kind) if point else None,
                        (point.tag or None) if point else None,
                    )
                )
        return members

    def _bring(self, what: str, request: points_pb2.BringToPointRequest) -> points_pb2.BringToPointResponse:
        # Restoring a past point reads the churn since it from the journal: the digest's longer deadline.
        reply: points_pb2.BringToPointResponse = _call(
            what, self.name, lambda: self._points.BringToPoint(request, timeout=self._digest_timeout)
        )
        return reply

    def cancel_point(self, pair_id: str, generation: int) -> None:
        request = points_pb2.PointTarget(pair_id=pair_id, generation=generation)
        _call(
            f"returning pair {pair_id} to latest",
            self.name,
            lambda: self._points.CancelPoint(request, timeout=self._timeout),
        )

    def commit_point(self, pair_id: str, generation: int) -> None:
        request = points_pb2.PointTarget(pair_id=pair_id, generation=generation)
        _call(f"committing pair {pair_id}", self.name, lambda: self._points.CommitPoint(request, timeout=self._timeout))

    def digest(self, pair_id: str, generation: int) -> MemberDigest:
        request = points_pb2.PointTarget(pair_id=pair_id, generation=generation)
        reply = _call(
            f"digesting pair {pair_id}",
            self.name,
            lambda: self._points.GetDigest(request, timeout=self._digest_timeout),
        )
        member = next((m for m in reply.members if m.pair_id == pair_id), None)
        if member is None:
            raise AgentRefused(f"digesting pair {pair_id} on {self.name}: the answer names no such pair")
        return MemberDigest(
            member.pair_id, member.digest, member.disk_size, member.applied_seq, member.point_id or None
        )


class _GrpcProcessServer:
    def __init__(self, name: str, channel: grpc.Channel, timeout: float, digest_timeout: float) -> None:
        self.name = name
        self._channel = channel
        self._pairs = pairs_pb2_grpc.SourcePairsStub(channel)
        self._timeout = timeout
        self._digest_timeout = digest_timeout

    def info(self) -> AgentInfo:
        return _info(self._channel, self.name, self._timeout)

    def put_pair(self, pair: SourcePair) -> SourceStatus:
        request = pairs_pb2.SourcePair(
            pair_id=pair.pair_id,
            generation=pair.generation,
            source_path=pair.source_path,
            kind=(pairs_pb2.SOURCE_KIND_SCAN_THEN_CHANGE_LOG if pair.change_log_dir else pairs_pb2.SOURCE_KIND_SCAN),
            change_log_dir=pair.change_log_dir,
            master_target_address=pair.master_target_address,
            master_target_name=pair.master_target_name,
            bandwidth_bytes_per_second=pair.bandwidth_bytes_per_second,
        )
        return _source_status(
            _call(
                f"putting pair {pair.pair_id}", self.name, lambda: self._pairs.PutPair(request, timeout=self._timeout)
            )
        )

    def pair(self, pair_id: str) -> SourceStatus | None:
        reply = _read_pair(self._pairs, self.name, pair_id, self._timeout)
        return None if reply is None else _source_status(reply)

    def delete_pair(self, pair_id: str) -> None:
        _delete_pair(self._pairs, self.name, pair_id, self._timeout)

    def source_digest(
        self, pair_id: str, generation: int, bookmark_id: str | None = None, *, at_end: bool = False
    ) -> SourceDigest:
        request = pairs_pb2.SourceDigestRequest(
            pair_id=pair_id, generation=generation, bookmark_id=bookmark_id or "", at_end=at_end
        )
        reply = _call(
            f"digesting the source of pair {pair_id}",
            self.name,
            lambda: self._pairs.GetSourceDigest(request, timeout=self._digest_timeout),
        )
        return SourceDigest(
            reply.digest,
            reply.disk_size,
            reply.bookmark_id or None,
            _BOOKMARK_KINDS.get(reply.bookmark_kind) if reply.bookmark_id else None,
            reply.bookmark_tag or None,
            reply.bookmark_time,
            reply.log_position,
        )

    def azure_permissions(self) -> AzurePermissions:
        reply = _call(
            "checking its Azure permissions",
            self.name,
            lambda: pairs_pb2_grpc.SourcePairsStub(self._channel).CheckAzurePermissions(
                pairs_pb2.AzurePermissionsRequest(), timeout=self._timeout
            ),
        )
        return AzurePermissions(
            configured=reply.azure_configured,
            vms=tuple(
                AzureVmPermissions(
                    vm.vm_resource_id,
                    _CONSISTENCY.get(vm.consistency, "incremental-snapshots"),
                    tuple(
                        AzureScopePermissions(
                            s.scope,
                            tuple(s.roles),
                            tuple(s.missing_actions),
                            tuple(s.granted_actions),
                            s.error or None,
                        )
                        for s in vm.scopes
                    ),
                )
                for vm in reply.vms
            ),
        )


class GrpcAgents:
    """Clients for agents, one channel per (role, name, address), dialled with the controller's TLS identity."""

    def __init__(
        self, tls: Callable[[], TlsIdentity], *, timeout: float = 30.0, digest_timeout: float = 3600.0
    ) -> None:
        self._tls = tls
        self._timeout = timeout
        # A digest reads the whole disk: at ~1 GB/s a 2 TiB disk takes about 35 minutes.
        self._digest_timeout = digest_timeout
        self._channels: dict[tuple[Role, str, str], grpc.Channel] = {}
        # Steps reach agents from several threads at once: one channel per agent, none made twice and leaked.
        self._lock = threading.Lock()

    def _channel(self, role: Role, name: str, address: str) -> grpc.Channel:
        key = (role, name, address)
        with self._lock:
            if key not in self._channels:
                self._channels[key] = secure_channel(address, self._tls(), Identity(role, name))
            return self._channels[key]

    def master_target(self, name: str, address: str) -> _GrpcMasterTarget:
        return _GrpcMasterTarget(
            name, self._channel(Role.MASTER_TARGET, name, address), self._timeout, self._digest_timeout
        )

    def process_server(self, name: str, address: str) -> _GrpcProcessServer:
        return _GrpcProcessServer(
            name, self._channel(Role.PROCESS_SERVER, name, address), self._timeout, self._digest_timeout
        )

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
