"""Every step boundary of a workflow's job, read from the job type exactly as the controller registers it (the doctor's
preflight first in reprotect and failover; never a list of our own, which would go stale when a step is added):
``ran`` (the step's effect is done, its completion not yet recorded) and ``recorded`` (just after), the two points
``FAILBACK_CRASH_AT`` can kill the controller at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from controller.doctor import Doctor
from controller.jobs import JobType
from controller.service import workflow_job_types
from controller.service._faults import CRASH_AT
from controller.workflows import JOB_TYPES, Deps

__all__ = ["Boundary", "boundaries", "job_type"]

PHASES = ("ran", "recorded")


@dataclass(frozen=True)
class Boundary:
    job_type: str
    step: str
    phase: str

    @property
    def env(self) -> dict[str, str]:
        return {CRASH_AT: f"{self.job_type}:{self.step}:{self.phase}"}

    def __str__(self) -> str:
        return f"{self.step}:{self.phase}"


def job_type(workflow: str) -> JobType:
    """The job type as the controller registers it. Declaring only captures the dependencies for later (no step runs
    here), so none are needed to read the steps."""
    declared = {declared.name: declared for declared in workflow_job_types(cast(Deps, None), cast(Doctor, None))}
    return declared[JOB_TYPES[workflow]]


def boundaries(workflow: str) -> list[Boundary]:
    declared = job_type(workflow)
    return [Boundary(declared.name, step.name, phase) for step in declared.steps for phase in PHASES]
