"""How a job type is declared: its name, its ordered steps, which item it locks, how its parameters are checked.

A step is a function ``run(ctx) -> dict | None``. It must be idempotent: after a crash the runner calls it again
(the step was recorded as started but not as finished), so it checks before acting — "is the disk already
attached?" — and returns the same result without doing the effect twice. Whatever it returns (a JSON object) is kept
with the job and handed to later steps as ``ctx.outputs[step_name]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from failback.retry import Policy

__all__ = ["DEFAULT_STEP_RETRY", "JobType", "Step", "StepContext", "StepFunction"]

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$")

# Temporary errors are retried for up to ten minutes, from 1 s apart growing to a minute.
DEFAULT_STEP_RETRY = Policy(deadline=600.0, initial=1.0, maximum=60.0, jitter=1.0)


class StepContext(Protocol):
    """What a running step sees. Every method that talks to the database may raise a ``StepInterrupted``."""

    @property
    def job_id(self) -> int: ...

    @property
    def params(self) -> Mapping[str, Any]: ...

    @property
    def outputs(self) -> Mapping[str, Mapping[str, Any]]:
        """What earlier steps returned, by step name (steps that returned None are absent)."""
        ...

    @property
    def attempt(self) -> int:
        """1 on the first run of this step, more after a retry or a resumption after a crash."""
        ...

    def report(
        self,
        fraction: float | None = None,
        *,
        bytes_done: int | None = None,
        bytes_total: int | None = None,
        message: str | None = None,
    ) -> None:
        """Record progress (``fraction`` of this step, 0..1, or bytes); also a cancellation point. Cheap to call
        often: writes are rate-limited, except the first and a complete one."""
        ...

    def checkpoint(self) -> None:
        """A cancellation point without progress to report: raises CancelRequested or RunnerStopping if due."""
        ...


StepFunction = Callable[[StepContext], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Step:
    """One step. ``name`` is stored with every job: never rename or reorder the steps of a released job type.

    ``cancellable=False`` marks a point of no return: once such a step starts, the job can no longer be cancelled,
    and a cancellation requested before it starts prevents it from starting. ``retry`` declares how temporary
    errors are retried (its deadline counts from the step's first start, across restarts). ``weight`` is the step's
    share of the job's progress.
    """

    name: str
    run: StepFunction
    title: str = ""
    cancellable: bool = True
    retry: Policy = DEFAULT_STEP_RETRY
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"step name {self.name!r}: use lower-case letters, digits and '-'")
        if self.weight <= 0:
            raise ValueError(f"step {self.name!r}: the weight must be positive")
        if not self.title:
            object.__setattr__(self, "title", self.name.replace("-", " "))


def _no_subject(_params: Mapping[str, Any]) -> str | None:
    return None


def _accept(_params: Mapping[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class JobType:
    """A kind of job. ``subject(params)`` names the item it works on (``"vcenter:vc1"``, an ARM id...): while one
    job on a subject is unfinished, a second is refused at the database. ``validate(params)`` raises
    ``InvalidParameters`` (or any PermanentError) to refuse a submission before anything is recorded."""

    name: str
    title: str
    steps: tuple[Step, ...]
    subject: Callable[[Mapping[str, Any]], str | None] = field(default=_no_subject)
    validate: Callable[[Mapping[str, Any]], None] = field(default=_accept)

    def __post_init__(self) -> None:
        if not _TYPE_NAME.match(self.name) or len(self.name) > 64:
            raise ValueError(f"job type name {self.name!r}: use dotted lower-case words, at most 64 characters")
        if not self.steps:
            raise ValueError(f"job type {self.name!r} has no steps")
        names = [step.name for step in self.steps]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"job type {self.name!r} repeats the step names {duplicates}")

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)
