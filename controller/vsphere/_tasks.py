"""Wait for a vSphere task with a deadline, backoff and jitter; turn its outcome into a result or an adapter error.

A task is polled through its ``info`` (one round-trip per poll). Transport errors while polling count as "not yet"
until the deadline; a task that ends in error raises the translated fault at once, even when that fault is
temporary (TaskInProgress): the task is over, and repeating the operation is the caller's loop's decision.
A task still queued or running at the deadline raises :class:`TaskTimeout` naming the task, since it may still
finish on the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from controller.vsphere._faults import guard, translate
from controller.vsphere.errors import OperationFailed, TaskTimeout, VSphereUnavailable
from failback.errors import DeadlineExceeded
from failback.retry import Policy

__all__ = ["TaskLike", "wait_for_task"]


class TaskInfoLike(Protocol):
    state: Any  # "queued" | "running" | "success" | "error"
    result: Any
    error: Any


class TaskLike(Protocol):
    """What :func:`wait_for_task` needs of a task: pyVmomi's ``vim.Task`` satisfies it, and so do test fakes."""

    @property
    def info(self) -> TaskInfoLike: ...


@dataclass(frozen=True)
class _Finished:
    info: TaskInfoLike


def wait_for_task(
    task: TaskLike,
    *,
    what: str,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """Return the task's result once it succeeds; raise the translated fault if it fails."""
    policy = Policy(
        deadline=deadline, initial=0.1, maximum=5.0, retry_on=(VSphereUnavailable,), sleep=sleep, clock=clock
    )

    def probe() -> _Finished | None:
        with guard(f"reading the state of the task {what}"):
            info = task.info
        state = str(info.state)
        if state in ("success", "error"):
            return _Finished(info)
        if state in ("queued", "running"):
            return None
        raise OperationFailed(f"{what}: the task reports an unknown state {state!r}")

    try:
        finished = policy.wait_for(probe, what=what)
    except DeadlineExceeded as exc:
        task_id = getattr(task, "_moId", None)
        raise TaskTimeout(
            f"{what} did not finish within {deadline:g} s" + (f" (task {task_id})" if task_id else ""),
            remedy="the task may still complete; check it in vCenter before repeating the step",
        ) from exc.__cause__
    if str(finished.info.state) == "error":
        fault = finished.info.error
        if isinstance(fault, BaseException):
            raise translate(fault, what=what) from fault
        raise OperationFailed(f"{what} failed without a fault description")
    return finished.info.result
