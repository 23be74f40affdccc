"""Long-running operations as ARM runs them: 202 + ``Azure-AsyncOperation`` + ``Location`` + ``Retry-After``.

An operation answers ``InProgress`` on its status URL for a configurable number of polls (or for ever), then
``Succeeded`` or ``Failed`` with an error. Its effect on the estate is applied exactly once, when the status URL
first reports the end. ``Location`` answers 202 until then and the resulting resource afterwards.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lab.azure._http import ArmError, Response

__all__ = ["LroSettings", "Operation", "Operations"]


@dataclass
class LroSettings:
    """How the next operations behave. Tests change these between calls.

    ``in_progress_polls``: how many status polls answer InProgress before the end; ``hang``: never end;
    ``retry_after``: the Retry-After header (seconds) on 202 and status answers; ``failures``: (code, message) pairs,
    each consumed by the next operation started, which then ends Failed.
    """

    in_progress_polls: int = 0
    retry_after: int = 0
    hang: bool = False
    failures: deque[tuple[str, str]] = field(default_factory=deque)

    def fail_next(self, code: str, message: str) -> None:
        self.failures.append((code, message))


@dataclass
class Operation:
    id: str
    status_url: str
    location_url: str
    polls_left: int | None
    failure: tuple[str, str] | None
    on_success: Callable[[], None]
    on_failure: Callable[[str, str], None]
    result: Callable[[], Any]
    started: datetime.datetime
    status: str = "InProgress"
    ended: datetime.datetime | None = None
    polls: int = 0


class Operations:
    """The operations the endpoint has started, by id (which is also the ASR job name)."""

    def __init__(self, settings: LroSettings, clock: Callable[[], datetime.datetime]) -> None:
        self.settings = settings
        self._clock = clock
        self._ops: dict[str, Operation] = {}
        self._lock = threading.RLock()

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def start(
        self,
        op_id: str,
        *,
        status_url: str,
        location_url: str,
        on_success: Callable[[], None],
        on_failure: Callable[[str, str], None],
        result: Callable[[], Any],
        accepted: tuple[int, Any] = (202, None),
    ) -> Response:
        """Register an operation and return the answer that announces it: ``accepted`` is its status and body
        (202 and none by default; a PUT that creates may answer 201 with the resource as it is being created)."""
        with self._lock:
            settings = self.settings
            op = Operation(
                id=op_id,
                status_url=status_url,
                location_url=location_url,
                polls_left=None if settings.hang else settings.in_progress_polls,
                failure=settings.failures.popleft() if settings.failures else None,
                on_success=on_success,
                on_failure=on_failure,
                result=result,
                started=self._clock(),
            )
            self._ops[op_id.lower()] = op
        return Response(accepted[0], accepted[1], self._headers(op))

    def _headers(self, op: Operation) -> dict[str, str]:
        return {
            "Location": op.location_url,
            "Azure-AsyncOperation": op.status_url,
            "Retry-After": str(self.settings.retry_after),
        }

    def get(self, op_id: str) -> Operation:
        with self._lock:
            op = self._ops.get(op_id.lower())
        if op is None:
            raise ArmError(404, "OperationNotFound", f"The operation {op_id} was not found.")
        return op

    def release(self) -> None:
        """Let every hanging operation end at its next observation (as a stuck ASR job eventually does)."""
        with self._lock:
            for op in self._ops.values():
                if op.status == "InProgress":
                    op.polls_left = 0

    def observe(self, op_id: str) -> None:
        """A look at the operation's job counts as a poll: ASR jobs progress whether or not anyone polls."""
        with self._lock:
            if op_id.lower() in self._ops:
                self.poll(op_id)

    def poll(self, op_id: str) -> Response:
        """Answer the status URL; the poll that ends the operation applies its effect."""
        with self._lock:
            op = self.get(op_id)
            op.polls += 1
            if op.status == "InProgress":
                if op.polls_left is None or op.polls_left > 0:
                    if op.polls_left is not None:
                        op.polls_left -= 1
                    return Response(200, self._status_body(op), {"Retry-After": str(self.settings.retry_after)})
                self._finish(op)
            return Response(200, self._status_body(op))

    def _finish(self, op: Operation) -> None:
        op.ended = self._clock()
        if op.failure is None:
            op.on_success()
            op.status = "Succeeded"
        else:
            op.on_failure(*op.failure)
            op.status = "Failed"

    def outcome(self, op_id: str) -> Response:
        """Answer the Location URL: 202 while running, then the resource (or the error of a failed operation)."""
        with self._lock:
            op = self.get(op_id)
            if op.status == "InProgress":
                return Response(202, None, self._headers(op))
            if op.status == "Failed" and op.failure is not None:
                raise ArmError(400, op.failure[0], op.failure[1])
            return Response(200, op.result())

    def _status_body(self, op: Operation) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": op.status_url.split("?")[0],
            "name": op.id,
            "status": op.status,
            "startTime": op.started.isoformat(),
        }
        if op.ended is not None:
            body["endTime"] = op.ended.isoformat()
        if op.status == "Failed" and op.failure is not None:
            body["error"] = {"code": op.failure[0], "message": op.failure[1]}
        return body
