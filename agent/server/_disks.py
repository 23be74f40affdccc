"""``failback.agent.v1.Disks``: disk discovery over gRPC, for the controller."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import grpc

from agent.api.v1 import disks_pb2, disks_pb2_grpc
from agent.discovery import AttachCapacity, Disk, DiskDiscovery, Inventory
from agent.discovery.errors import (
    CommandFailed,
    DiscoveryError,
    DiskNotFound,
    DiskRefused,
    DuplicateDiskId,
    EnableUUIDMissing,
    RescanBusy,
    SourceError,
)
from failback.diskid import InvalidDiskId
from failback.serving import StatusMap, abort_with

__all__ = ["DisksServicer"]

T = TypeVar("T")

_STATUS: StatusMap = [
    (InvalidDiskId, grpc.StatusCode.INVALID_ARGUMENT),
    (DiskNotFound, grpc.StatusCode.NOT_FOUND),
    (EnableUUIDMissing, grpc.StatusCode.FAILED_PRECONDITION),
    (DuplicateDiskId, grpc.StatusCode.FAILED_PRECONDITION),
    (DiskRefused, grpc.StatusCode.FAILED_PRECONDITION),
    (RescanBusy, grpc.StatusCode.ABORTED),
    (SourceError, grpc.StatusCode.INTERNAL),
    (CommandFailed, grpc.StatusCode.INTERNAL),
]


def _disk(disk: Disk) -> disks_pb2.Disk:
    hctl = disk.hctl
    return disks_pb2.Disk(
        disk_id=disk.disk_id or "",
        id_problem=disk.id_problem or "",
        name=disk.name,
        path=disk.path,
        size_bytes=disk.size_bytes,
        vendor=disk.vendor,
        model=disk.model,
        controller=disk.controller.value,
        controller_key=disk.controller_key or "",
        hctl="" if hctl is None else f"{hctl.host}:{hctl.channel}:{hctl.target}:{hctl.lun}",
        roles=sorted(role.value for role in disk.roles),
        read_only=disk.read_only,
        offline=disk.offline,
        in_use=disk.in_use,
        needs_enable_uuid=disk.needs_enable_uuid,
    )


def _capacity(capacity: AttachCapacity) -> disks_pb2.AttachCapacity:
    return disks_pb2.AttachCapacity(
        controllers=[
            disks_pb2.ControllerUsage(key=u.key, controller=u.controller.value, disks=u.disks, free=u.free)
            for u in capacity.controllers
        ],
        attached=capacity.attached,
        limit=capacity.limit,
        free=capacity.free,
        controllers_free=capacity.controllers_free,
    )


def _inventory(inventory: Inventory) -> disks_pb2.DiskInventory:
    return disks_pb2.DiskInventory(
        platform=inventory.platform,
        source=inventory.source,
        disks=[_disk(disk) for disk in inventory.disks],
        problems=inventory.problems(),
        capacity=_capacity(inventory.capacity()),
    )


class DisksServicer(disks_pb2_grpc.DisksServicer):
    def __init__(self, discovery: DiskDiscovery) -> None:
        self._discovery = discovery

    def ListDisks(self, request: disks_pb2.ListDisksRequest, context: grpc.ServicerContext) -> disks_pb2.DiskInventory:
        return _answer(context, lambda: _inventory(self._discovery.list_disks()))

    def Rescan(self, request: disks_pb2.RescanRequest, context: grpc.ServicerContext) -> disks_pb2.DiskInventory:
        return _answer(context, lambda: _inventory(self._discovery.rescan(list(request.expected_ids))))

    def ResolveDisk(self, request: disks_pb2.DiskRequest, context: grpc.ServicerContext) -> disks_pb2.Disk:
        return _answer(context, lambda: _disk(self._discovery.resolve(request.disk_id)))

    def PrepareDisk(self, request: disks_pb2.DiskRequest, context: grpc.ServicerContext) -> disks_pb2.Disk:
        return _answer(context, lambda: _disk(self._discovery.prepare(request.disk_id)))

    def ReleaseDisk(self, request: disks_pb2.DiskRequest, context: grpc.ServicerContext) -> disks_pb2.Disk:
        return _answer(context, lambda: _disk(self._discovery.release(request.disk_id)))

    def RemoveDisk(self, request: disks_pb2.DiskRequest, context: grpc.ServicerContext) -> disks_pb2.Disk:
        return _answer(context, lambda: _disk(self._discovery.remove_for_detach(request.disk_id)))


def _answer(context: grpc.ServicerContext, work: Callable[[], T]) -> T:
    try:
        return work()
    except (DiscoveryError, InvalidDiskId) as exc:
        abort_with(context, exc, _STATUS)
