"""``failback.controller.v1.Points``: protobuf in, :class:`controller.points.PointsDesk` calls, protobuf out; the
desk's errors become status codes (the message, with its remedy, goes as details)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import grpc

from controller.agents import PointSelector, RecoveryPoint
from controller.api.v1 import points_pb2, points_pb2_grpc
from controller.points import (
    AddressUnknown,
    AgentUnreachable,
    InvalidRequest,
    PairAtPoint,
    PairBusy,
    PairView,
    PointGone,
    PointsDesk,
    PointsRefused,
    RetentionReport,
    UnknownPair,
)
from controller.store import NotFound, TransitionRefused
from failback.errors import FailbackError
from failback.serving import StatusMap, abort_with, peer_identity

__all__ = ["AGENT_UNAVAILABLE", "PointsServicer"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Set on UNAVAILABLE when the controller answered but a master target did not, so that failbackctl does not report
# the controller as unreachable.
AGENT_UNAVAILABLE = ("failback-unavailable", "agent")

_STATUS: StatusMap = [
    (UnknownPair, grpc.StatusCode.NOT_FOUND),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (PairBusy, grpc.StatusCode.FAILED_PRECONDITION),
    (TransitionRefused, grpc.StatusCode.FAILED_PRECONDITION),
    (PointGone, grpc.StatusCode.FAILED_PRECONDITION),
    (AddressUnknown, grpc.StatusCode.FAILED_PRECONDITION),
    (PointsRefused, grpc.StatusCode.FAILED_PRECONDITION),
    (AgentUnreachable, grpc.StatusCode.UNAVAILABLE),
]
_FILTERS = {
    points_pb2.POINT_FILTER_APP: "app",
    points_pb2.POINT_FILTER_CRASH: "crash",
    points_pb2.POINT_FILTER_GROUP: "group",
}


def _answer(context: grpc.ServicerContext, work: Callable[[], T]) -> T:
    try:
        return work()
    except FailbackError as exc:
        if isinstance(exc, AgentUnreachable):
            context.set_trailing_metadata((AGENT_UNAVAILABLE,))
        abort_with(context, exc, _STATUS)


def _pair(view: PairView) -> points_pb2.PairRef:
    location = view.location
    return points_pb2.PairRef(
        pair_id=location.pair_id,
        vm=location.vm,
        item_key=location.item_key,
        item_state=location.item_state,
        disk_index=location.disk_index,
        source_disk_id=location.source_disk_id,
        target_disk_id=location.target_disk_id,
        disk_size=location.disk_size,
        master_target=location.master_target,
        generation=location.generation,
        group=location.group,
        state=view.state,
        reason=view.reason,
    )


def _point(point: RecoveryPoint) -> points_pb2.PointRecord:
    return points_pb2.PointRecord(
        id=point.id,
        kind=point.kind,
        time=point.time,
        seq=point.seq,
        tag=point.tag or "",
        group=point.group or "",
        history_bytes=point.history_bytes,
        pending=point.pending,
    )


def _at_point(result: PairAtPoint) -> points_pb2.PairAtPoint:
    return points_pb2.PairAtPoint(
        pair=_pair(result.pair), point=_point(result.point) if result.point else None, held=result.held
    )


def _selector(request: points_pb2.BringToPointRequest) -> PointSelector:
    kind = request.WhichOneof("point")
    if kind == "latest":
        return PointSelector("latest")
    if kind == "latest_app":
        return PointSelector("latest-app")
    if kind == "point_id":
        return PointSelector("point", point_id=request.point_id)
    if kind == "at_time":
        return PointSelector("point", at_time=request.at_time)
    raise InvalidRequest("choose the point: latest, latest_app, point_id or at_time")


def _report(report: RetentionReport) -> points_pb2.RetentionReport:
    response = points_pb2.RetentionReport()
    for mt in report.master_targets:
        entry = response.master_targets.add(name=mt.name, address=mt.address, error=mt.error or "")
        for volume in mt.volumes:
            entry.volumes.add(
                mountpoint=volume.mountpoint,
                device=volume.device,
                fstype=volume.fstype,
                capacity_bytes=volume.capacity_bytes,
                used_bytes=max(volume.capacity_bytes - volume.free_bytes, 0),
                free_bytes=volume.free_bytes,
                used_pct=volume.used_pct,
                threshold_pct=volume.threshold_pct,
                eligible=volume.eligible,
                reasons=list(volume.reasons),
            )
    for pair in report.pairs:
        message = response.pairs.add(
            pair=_pair(pair.pair),
            points=pair.points,
            rpo_threshold_seconds=pair.rpo_threshold_seconds,
            health=pair.health,
            health_reasons=list(pair.health_reasons),
            error=pair.error or "",
        )
        if pair.oldest is not None:
            message.oldest.CopyFrom(_point(pair.oldest))
        if pair.newest is not None:
            message.newest.CopyFrom(_point(pair.newest))
        if pair.rpo_seconds is not None:
            message.rpo_seconds = pair.rpo_seconds
    return response


class PointsServicer(points_pb2_grpc.PointsServicer):
    def __init__(self, desk: PointsDesk) -> None:
        self._desk = desk

    def ListPoints(
        self, request: points_pb2.ListPointsRequest, context: grpc.ServicerContext
    ) -> points_pb2.ListPointsResponse:
        def work() -> points_pb2.ListPointsResponse:
            if request.filter not in (points_pb2.POINT_FILTER_UNSPECIFIED, *_FILTERS):
                raise InvalidRequest(f"filter {request.filter} is not a PointFilter")
            subject = request.WhichOneof("subject")
            listed = self._desk.list_points(
                pair_id=request.pair_id if subject == "pair_id" else None,
                vm=request.vm if subject == "vm" else "",
                kind=_FILTERS.get(request.filter),
            )
            return points_pb2.ListPointsResponse(
                pairs=[points_pb2.PairPoints(pair=_pair(p.pair), points=[_point(x) for x in p.points]) for p in listed]
            )

        return _answer(context, work)

    def BringToPoint(
        self, request: points_pb2.BringToPointRequest, context: grpc.ServicerContext
    ) -> points_pb2.PairAtPoint:
        def work() -> points_pb2.PairAtPoint:
            result = self._desk.bring(request.pair_id, _selector(request))
            log.info(
                "%s brought pair %s to %s",
                peer_identity(context),
                request.pair_id,
                result.point.id if result.point else "latest",
            )
            return _at_point(result)

        return _answer(context, work)

    def CancelPoint(
        self, request: points_pb2.CancelPointRequest, context: grpc.ServicerContext
    ) -> points_pb2.PairAtPoint:
        def work() -> points_pb2.PairAtPoint:
            result = self._desk.cancel(request.pair_id)
            log.info("%s returned pair %s to latest", peer_identity(context), request.pair_id)
            return _at_point(result)

        return _answer(context, work)

    def GetRetention(
        self, request: points_pb2.GetRetentionRequest, context: grpc.ServicerContext
    ) -> points_pb2.RetentionReport:
        return _answer(context, lambda: _report(self._desk.retention()))
