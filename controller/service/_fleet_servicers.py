"""``AgentStatus`` (agents report) and ``Servers`` (operators list agents with health and capacity)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import grpc

from controller.api.v1 import agents_pb2, agents_pb2_grpc
from controller.fleet import (
    MasterTargetCapacity,
    ProcessServerCapacity,
    RetentionVolume,
    assess,
    capacity_from_json,
)
from controller.service._servicers import agent_record
from controller.service._status import abort, timestamp
from controller.store import AgentStatusStore, Enrollment
from failback import __version__
from failback.errors import FailbackError
from failback.identity import Role
from failback.serving import peer_identity

__all__ = ["AgentStatusServicer", "ServersServicer"]

log = logging.getLogger(__name__)

_MAX_PROBLEMS = 32
_MAX_PROBLEM_LENGTH = 500


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


Capacity = MasterTargetCapacity | ProcessServerCapacity | None


def capacity_from_message(
    message: agents_pb2.HeartbeatRequest | agents_pb2.ServerRecord,
) -> Capacity:
    kind = message.WhichOneof("capacity")
    if kind == "master_target":
        mt = message.master_target
        return MasterTargetCapacity(
            attached_disks=mt.attached_disks if mt.HasField("attached_disks") else None,
            disk_limit=mt.disk_limit or MasterTargetCapacity.disk_limit,
            retention_volumes=tuple(
                RetentionVolume(volume.path, volume.capacity_bytes, volume.free_bytes)
                for volume in mt.retention_volumes
            ),
        )
    if kind == "process_server":
        ps = message.process_server
        return ProcessServerCapacity(
            backlog_bytes=ps.backlog_bytes if ps.HasField("backlog_bytes") else None,
            throughput_bytes_per_second=ps.throughput_bytes_per_second
            if ps.HasField("throughput_bytes_per_second")
            else None,
            replicating_disks=ps.replicating_disks if ps.HasField("replicating_disks") else None,
        )
    return None


def fill_capacity(message: agents_pb2.ServerRecord, capacity: Capacity) -> None:
    if isinstance(capacity, MasterTargetCapacity):
        mt = message.master_target
        mt.disk_limit = capacity.disk_limit
        if capacity.attached_disks is not None:
            mt.attached_disks = capacity.attached_disks
        for volume in capacity.retention_volumes:
            mt.retention_volumes.add(
                path=volume.path, capacity_bytes=volume.capacity_bytes, free_bytes=volume.free_bytes
            )
    elif isinstance(capacity, ProcessServerCapacity):
        ps = message.process_server
        ps.SetInParent()
        for field in ("backlog_bytes", "throughput_bytes_per_second", "replicating_disks"):
            value = getattr(capacity, field)
            if value is not None:
                setattr(ps, field, value)


class AgentStatusServicer(agents_pb2_grpc.AgentStatusServicer):
    def __init__(
        self, status: AgentStatusStore, *, interval: dt.timedelta, clock: Callable[[], dt.datetime] = _utcnow
    ) -> None:
        self._status = status
        self._interval = interval
        self._clock = clock

    def Heartbeat(
        self, request: agents_pb2.HeartbeatRequest, context: grpc.ServicerContext
    ) -> agents_pb2.HeartbeatResponse:
        identity = peer_identity(context)
        if not 0 < len(request.version) <= 64:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the heartbeat must carry the agent's version")
        if len(request.problems) > _MAX_PROBLEMS or any(len(p) > _MAX_PROBLEM_LENGTH for p in request.problems):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"at most {_MAX_PROBLEMS} problems of at most {_MAX_PROBLEM_LENGTH} characters",
            )
        capacity = capacity_from_message(request)
        expected = MasterTargetCapacity if identity.role is Role.MASTER_TARGET else ProcessServerCapacity
        if capacity is not None and not isinstance(capacity, expected):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"a {identity.role.value} reports {expected.__name__}")
        now = self._clock()
        try:
            self._status.record(
                identity.name,
                version=request.version,
                sent_at=request.sent_at.ToDatetime(dt.UTC) if request.HasField("sent_at") else now,
                started_at=request.started_at.ToDatetime(dt.UTC) if request.HasField("started_at") else now,
                problems=list(request.problems),
                capacity=capacity.to_json() if capacity is not None else {},
                now=now,
            )
        except FailbackError as exc:
            abort(context, exc)
        log.debug("heartbeat from %s (%s)", identity, request.version)
        return agents_pb2.HeartbeatResponse(
            interval_seconds=int(self._interval.total_seconds()), controller_version=__version__
        )


class ServersServicer(agents_pb2_grpc.ServersServicer):
    def __init__(
        self,
        enrollment: Enrollment,
        status: AgentStatusStore,
        *,
        stale_after: dt.timedelta,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self._enrollment = enrollment
        self._status = status
        self._stale_after = stale_after
        self._clock = clock

    def ListServers(
        self, request: agents_pb2.ListServersRequest, context: grpc.ServicerContext
    ) -> agents_pb2.ListServersResponse:
        now = self._clock()
        try:
            agents = self._enrollment.agents()
            beats = self._status.latest()
        except FailbackError as exc:
            abort(context, exc)
        response = agents_pb2.ListServersResponse(controller_version=__version__)
        for agent in agents:
            beat = beats.get(agent.name)
            capacity = capacity_from_json(beat.capacity) if beat else None
            verdict = assess(
                state=agent.state,
                last_heartbeat=beat.received_at if beat else None,
                reported_problems=beat.problems if beat else (),
                capacity=capacity,
                now=now,
                stale_after=self._stale_after,
            )
            record = response.servers.add(
                agent=agent_record(agent),
                health=verdict.health,
                problems=list(verdict.problems),
                last_heartbeat=timestamp(beat.received_at if beat else None),
                started_at=timestamp(beat.started_at if beat else None),
            )
            fill_capacity(record, capacity)
        return response
