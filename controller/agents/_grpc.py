"""The agent client over gRPC with mutual TLS: the controller's certificate, the agent verified by its identity.

The Disks and Agent APIs are served by agents today. The replication APIs (pairs on both agents, recovery points,
digests) are being built on the data path's branch; until its stubs land, those calls raise
:class:`~controller.agents.errors.AgentApiMissing` — what the real agent would answer (UNIMPLEMENTED) — rather than
pretend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

import grpc

from agent.api.v1 import agent_pb2, agent_pb2_grpc, disks_pb2, disks_pb2_grpc, pairs_pb2, pairs_pb2_grpc
from controller.agents._interface import (
    AgentDisk,
    AgentInfo,
    AzurePermissions,
    AzureScopePermissions,
    AzureVmPermissions,
    DiskInventory,
    MemberDigest,
    MemberPoint,
    PointSelector,
    RetentionVolume,
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
_REPLICATION = "the replication API (pairs, recovery points, digests)"
_CONSISTENCY = {
    pairs_pb2.POINT_CONSISTENCY_INCREMENTAL_SNAPSHOTS: "incremental-snapshots",
    pairs_pb2.POINT_CONSISTENCY_CRASH_RESTORE_POINTS: "crash-restore-points",
    pairs_pb2.POINT_CONSISTENCY_APP_RESTORE_POINTS: "app-restore-points",
}


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


def _missing(agent: str) -> NoReturn:
    raise AgentApiMissing(
        f"{agent}: this controller cannot call {_REPLICATION} yet",
        remedy="install a failback release whose agents serve the replication API",
    )


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


class _GrpcMasterTarget:
    def __init__(self, name: str, channel: grpc.Channel, timeout: float) -> None:
        self.name = name
        self._disks = disks_pb2_grpc.DisksStub(channel)
        self._channel = channel
        self._timeout = timeout

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
        _missing(self.name)

    def put_pair(self, pair: TargetPair) -> TargetStatus:
        _missing(self.name)

    def pair(self, pair_id: str) -> TargetStatus | None:
        _missing(self.name)

    def delete_pair(self, pair_id: str) -> None:
        _missing(self.name)

    def bring_to_point(self, pair_ids: Sequence[str], group: str, selector: PointSelector) -> list[MemberPoint]:
        _missing(self.name)

    def cancel_point(self, pair_id: str, generation: int) -> None:
        _missing(self.name)

    def commit_point(self, pair_id: str, generation: int) -> None:
        _missing(self.name)

    def digest(self, pair_id: str, generation: int) -> MemberDigest:
        _missing(self.name)


class _GrpcProcessServer:
    def __init__(self, name: str, channel: grpc.Channel, timeout: float) -> None:
        self.name = name
        self._channel = channel
        self._timeout = timeout

    def info(self) -> AgentInfo:
        return _info(self._channel, self.name, self._timeout)

    def put_pair(self, pair: SourcePair) -> SourceStatus:
        _missing(self.name)

    def pair(self, pair_id: str) -> SourceStatus | None:
        _missing(self.name)

    def delete_pair(self, pair_id: str) -> None:
        _missing(self.name)

    def source_digest(self, pair_id: str, generation: int) -> bytes | None:
        _missing(self.name)

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

    def __init__(self, tls: Callable[[], TlsIdentity], *, timeout: float = 30.0) -> None:
        self._tls = tls
        self._timeout = timeout
        self._channels: dict[tuple[Role, str, str], grpc.Channel] = {}

    def _channel(self, role: Role, name: str, address: str) -> grpc.Channel:
        key = (role, name, address)
        if key not in self._channels:
            self._channels[key] = secure_channel(address, self._tls(), Identity(role, name))
        return self._channels[key]

    def master_target(self, name: str, address: str) -> _GrpcMasterTarget:
        return _GrpcMasterTarget(name, self._channel(Role.MASTER_TARGET, name, address), self._timeout)

    def process_server(self, name: str, address: str) -> _GrpcProcessServer:
        return _GrpcProcessServer(name, self._channel(Role.PROCESS_SERVER, name, address), self._timeout)

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
