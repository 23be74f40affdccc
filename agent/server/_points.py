"""``failback.agent.v1.RecoveryPoints`` on a master target: the failback workflows' view of the storage engine.

Points, point in time, cancel and commit come from agent.journal (per pair) and agent.retention.GroupRegistry (per
consistency group: all members move, or none); the volume report from agent.retention.RetentionVolumes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import grpc

from agent.api.v1 import points_pb2 as pb
from agent.api.v1 import points_pb2_grpc
from agent.journal import (
    AtTime,
    JournalError,
    Latest,
    LatestApp,
    LatestGroup,
    PairJournal,
    PointId,
    PointKind,
    PointSelector,
    PointUnavailable,
    RecoveryPoint,
)
from agent.replication import TargetPair, TargetRegistry
from agent.replication.errors import InvalidPair, PairNotFound, PairUnavailable, WrongGeneration
from agent.retention import GroupError, GroupPoint, RetentionVolumes
from agent.server._pairs import target_status
from failback.errors import FailbackError
from failback.serving import StatusMap, abort_with

__all__ = ["RecoveryPointsServicer"]

T = TypeVar("T")

_STATUS: StatusMap = [
    (InvalidPair, grpc.StatusCode.INVALID_ARGUMENT),
    (PairNotFound, grpc.StatusCode.NOT_FOUND),
    (WrongGeneration, grpc.StatusCode.FAILED_PRECONDITION),
    (PairUnavailable, grpc.StatusCode.FAILED_PRECONDITION),
    (PointUnavailable, grpc.StatusCode.FAILED_PRECONDITION),
    (GroupError, grpc.StatusCode.FAILED_PRECONDITION),
    (JournalError, grpc.StatusCode.FAILED_PRECONDITION),
]

_KINDS = {PointKind.CRASH: 1, PointKind.APP: 2, PointKind.RESYNC_COMPLETE: 3}


def _point(point: RecoveryPoint) -> pb.RecoveryPoint:
    return pb.RecoveryPoint(
        id=point.id,
        kind=_KINDS[point.kind],  # type: ignore[arg-type]
        time=point.time,
        seq=point.seq,
        tag=point.tag or "",
        group=point.group or "",
        history_bytes=point.history_bytes,
        pending=point.pending,
    )


def _group_point(point: GroupPoint) -> pb.RecoveryPoint:
    return pb.RecoveryPoint(
        id=point.id,
        kind=_KINDS[PointKind(point.kind)],  # type: ignore[arg-type]
        time=point.time,
        group="",
        members=point.members,
    )


def _answer(context: grpc.ServicerContext, work: Callable[[], T]) -> T:
    try:
        return work()
    except FailbackError as exc:
        abort_with(context, exc, _STATUS)


class RecoveryPointsServicer(points_pb2_grpc.RecoveryPointsServicer):
    def __init__(
        self, registry: TargetRegistry, volumes: Callable[[], RetentionVolumes], *, check_volumes: bool = True
    ) -> None:
        self._registry = registry
        self._volumes = volumes
        self._check_volumes = check_volumes

    # -- resolving the request ---------------------------------------------------------------------------------------

    def _members(self, target: pb.PointTarget) -> list[TargetPair]:
        kind = target.WhichOneof("target")
        if kind == "pair_id":
            pairs = [self._registry.get(target.pair_id)]
        elif kind == "group":
            pairs = [pair for pair in self._registry.pairs() if pair.spec.group == target.group]
            if not pairs:
                raise PairNotFound(f"there is no consistency group {target.group!r} on this master target")
        else:
            raise InvalidPair("name a pair_id or a group")
        for pair in pairs:
            if target.generation and target.generation != pair.spec.generation:
                raise WrongGeneration(
                    f"pair {pair.spec.pair_id} is at generation {pair.spec.generation}, not {target.generation}",
                    remedy="the pair was reprotected meanwhile: re-plan the step",
                )
        return pairs

    @staticmethod
    def _journal(pair: TargetPair) -> PairJournal:
        if pair.journal is None:
            raise PairUnavailable(pair.status().reason or f"pair {pair.spec.pair_id} is not open")
        return pair.journal

    @staticmethod
    def _selector(request: pb.BringToPointRequest, group: str | None) -> PointSelector:
        kind = request.selector.WhichOneof("kind")
        if kind == "latest":
            return Latest() if group is None else LatestGroup(group)
        if kind == "latest_app":
            if group is not None:
                raise InvalidPair("a group is brought to latest, a point id or a time; latest_app is per pair")
            return LatestApp()
        if kind == "point_id":
            return PointId(request.selector.point_id)
        if kind == "at_time":
            return AtTime(request.selector.at_time)
        raise InvalidPair("choose a point: latest, latest_app, point_id or at_time")

    # -- the API -------------------------------------------------------------------------------------------------------

    def ListPoints(self, request: pb.ListPointsRequest, context: grpc.ServicerContext) -> pb.ListPointsResponse:
        def work() -> pb.ListPointsResponse:
            members = self._members(request.target)
            if request.target.WhichOneof("target") == "group":
                for member in members:
                    self._journal(member)
                points = self._registry.groups.points(request.target.group)
                return pb.ListPointsResponse(points=[_group_point(p) for p in points])
            return pb.ListPointsResponse(points=[_point(p) for p in self._journal(members[0]).points()])

        return _answer(context, work)

    def BringToPoint(self, request: pb.BringToPointRequest, context: grpc.ServicerContext) -> pb.BringToPointResponse:
        def work() -> pb.BringToPointResponse:
            members = self._members(request.target)
            group = request.target.group if request.target.WhichOneof("target") == "group" else None
            selector = self._selector(request, group)
            if group is not None:
                for member in members:
                    self._journal(member)
                moved = self._registry.groups.bring_to(group, selector)
            else:
                moved = {members[0].spec.pair_id: self._journal(members[0]).bring_to(selector)}
            for member in members:
                member.changed()
            response = pb.BringToPointResponse()
            for pair_id, point in moved.items():
                entry = response.members.add(pair_id=pair_id)
                if point is not None:
                    entry.point.CopyFrom(_point(point))
            return response

        return _answer(context, work)

    def CancelPoint(self, request: pb.PointTarget, context: grpc.ServicerContext) -> pb.PointTargetResponse:
        return _answer(context, lambda: self._each(request, PairJournal.cancel))

    def CommitPoint(self, request: pb.PointTarget, context: grpc.ServicerContext) -> pb.PointTargetResponse:
        return _answer(context, lambda: self._each(request, PairJournal.commit))

    def _each(self, request: pb.PointTarget, action: Callable[[PairJournal], None]) -> pb.PointTargetResponse:
        members = self._members(request)
        journals = [self._journal(member) for member in members]
        for member, journal in zip(members, journals, strict=True):
            action(journal)
            member.changed()
        return pb.PointTargetResponse(pairs=[target_status(member.status()) for member in members])

    def GetDigest(self, request: pb.PointTarget, context: grpc.ServicerContext) -> pb.DigestReport:
        def work() -> pb.DigestReport:
            report = pb.DigestReport()
            for member in self._members(request):
                digest, applied, point = member.digest()
                report.members.add(
                    pair_id=member.spec.pair_id,
                    digest=digest,
                    disk_size=member.spec.disk_size,
                    applied_seq=applied,
                    point_id=point or "",
                )
            return report

        return _answer(context, work)

    def ListRetentionVolumes(
        self, request: pb.ListRetentionVolumesRequest, context: grpc.ServicerContext
    ) -> pb.ListRetentionVolumesResponse:
        def work() -> pb.ListRetentionVolumesResponse:
            response = pb.ListRetentionVolumesResponse()
            for report in self._volumes().reports():
                response.volumes.add(
                    mountpoint=report.mountpoint,
                    device=report.device,
                    fstype=report.fstype,
                    capacity_bytes=report.capacity,
                    free_bytes=report.free,
                    used_pct=report.used_pct,
                    threshold_pct=report.threshold_pct,
                    eligible=report.eligible,
                    reasons=report.reasons,
                    eligibility_waived=not (self._check_volumes or report.eligible),
                )
            return response

        return _answer(context, work)
