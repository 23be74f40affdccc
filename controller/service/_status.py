"""Which status code each controller error becomes on the wire. The message (with its remedy) goes as details."""

from __future__ import annotations

import datetime as dt
from typing import NoReturn

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from controller.fleet import VersionMismatch
from controller.inventory import SourceInvalid
from controller.jobs import InvalidParameters, UnknownJobType
from controller.secrets import SecretsError
from controller.store import (
    AgentExists,
    CancelRefused,
    NotFound,
    SourceExists,
    SubjectBusy,
    TransitionRefused,
)
from failback.errors import FailbackError
from failback.serving import StatusMap, abort_with

__all__ = ["STATUS", "abort", "timestamp"]

STATUS: StatusMap = [
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AgentExists, grpc.StatusCode.ALREADY_EXISTS),
    (SourceExists, grpc.StatusCode.ALREADY_EXISTS),
    (SubjectBusy, grpc.StatusCode.ABORTED),
    (CancelRefused, grpc.StatusCode.FAILED_PRECONDITION),
    (TransitionRefused, grpc.StatusCode.ABORTED),
    (SourceInvalid, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidParameters, grpc.StatusCode.INVALID_ARGUMENT),
    (UnknownJobType, grpc.StatusCode.INVALID_ARGUMENT),
    (VersionMismatch, grpc.StatusCode.FAILED_PRECONDITION),
    (SecretsError, grpc.StatusCode.FAILED_PRECONDITION),
]


def abort(context: grpc.ServicerContext, exc: FailbackError) -> NoReturn:
    abort_with(context, exc, STATUS)


def timestamp(value: dt.datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
