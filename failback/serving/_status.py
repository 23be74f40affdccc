"""Turning our errors into gRPC status codes, in one place per servicer.

Each servicer lists its own specific mappings; anything else falls back on the error's nature: a
:class:`TemporaryError` is UNAVAILABLE (the caller may retry), a :class:`PermanentError` FAILED_PRECONDITION.
The message always carries the remedy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

import grpc

from failback.errors import FailbackError, TemporaryError

__all__ = ["StatusMap", "abort_with"]

StatusMap = Sequence[tuple[type[BaseException], grpc.StatusCode]]


def abort_with(context: grpc.ServicerContext, exc: FailbackError, mapping: StatusMap = ()) -> NoReturn:
    for kind, code in mapping:
        if isinstance(exc, kind):
            context.abort(code, str(exc))
    fallback = grpc.StatusCode.UNAVAILABLE if isinstance(exc, TemporaryError) else grpc.StatusCode.FAILED_PRECONDITION
    context.abort(fallback, str(exc))
