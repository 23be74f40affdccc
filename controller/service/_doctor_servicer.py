"""``failback.controller.v1.Doctor``: run the doctor's checks for an operator. It reads, it never changes."""

from __future__ import annotations

import logging

import grpc

from controller.api.v1 import doctor_pb2, doctor_pb2_grpc
from controller.doctor import Doctor, Report, Selection, SelectionInvalid, UnknownTarget, title_of
from controller.service._status import timestamp
from controller.store import NotFound
from failback.errors import FailbackError
from failback.serving import StatusMap, abort_with, peer_identity

__all__ = ["DoctorServicer", "report_message"]

log = logging.getLogger(__name__)

_STATUS: StatusMap = [
    (SelectionInvalid, grpc.StatusCode.INVALID_ARGUMENT),
    (UnknownTarget, grpc.StatusCode.NOT_FOUND),
    (NotFound, grpc.StatusCode.NOT_FOUND),
]


def report_message(report: Report) -> doctor_pb2.CheckReport:
    return doctor_pb2.CheckReport(
        scope=report.scope,
        live=report.live,
        taken_at=timestamp(report.taken_at),
        status=report.status.value,
        checks=[
            doctor_pb2.CheckResult(
                id=r.check,
                title=title_of(r.check),
                status=r.status.value,
                subject=r.subject,
                evidence=r.evidence,
                remedy=r.remedy or "",
            )
            for r in report.results
        ],
        sources=[
            doctor_pb2.FactSource(name=s.name, how=s.how, at=timestamp(s.at), note=s.note) for s in report.sources
        ],
        problems=list(report.problems),
    )


class DoctorServicer(doctor_pb2_grpc.DoctorServicer):
    def __init__(self, doctor: Doctor) -> None:
        self._doctor = doctor

    def Check(self, request: doctor_pb2.CheckRequest, context: grpc.ServicerContext) -> doctor_pb2.CheckReport:
        try:
            selection = Selection(plan=request.plan or None, vms=tuple(request.vms), everything=request.all)
            report = self._doctor.run(selection, live=not request.offline)
        except FailbackError as exc:
            abort_with(context, exc, _STATUS)
        log.info(
            "%s ran the doctor on %s%s: %s %s",
            peer_identity(context),
            selection.label,
            "" if report.live else " (offline)",
            report.status.value,
            report.counts(),
        )
        return report_message(report)
