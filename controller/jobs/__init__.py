"""Persistent jobs made of named, idempotent steps, run with leases by every controller replica.

Declaring a job type::

    def attach(ctx: StepContext) -> dict | None:
        if not already_attached(ctx.params["disk"]):      # check before acting: a re-run must not attach twice
            attach_disk(ctx.params["disk"])
        ctx.report(1.0)
        return {"device": ...}                            # kept; later steps read ctx.outputs["attach"]

    REPROTECT = JobType(
        name="failback.reprotect",
        title="Reprotect",
        steps=(Step("attach", attach, title="Attach disks to the master target"),
               Step("commit", commit, cancellable=False, retry=Policy(deadline=3600, initial=5, maximum=300))),
        subject=lambda params: f"item:{params['item']}",
        validate=check_reprotect_params,
    )
    registry.register(REPROTECT)

Submitting: ``Jobs(store, registry).submit("failback.reprotect", {...}, created_by="operator/admin")``.
Running: one :class:`JobRunner` per controller process. Deciding what is next: :func:`next_action` (pure).
"""

from controller.jobs._declare import DEFAULT_STEP_RETRY, JobType, Step, StepContext, StepFunction
from controller.jobs._jobs import Jobs
from controller.jobs._planner import (
    Decision,
    Finish,
    GiveUp,
    Retry,
    RunStep,
    WaitUntil,
    after_temporary_error,
    next_action,
)
from controller.jobs._progress import Progress, progress
from controller.jobs._registry import JobRegistry
from controller.jobs._runner import JobRunner, RunnerSettings, StepHook
from controller.jobs.errors import (
    CancelRequested,
    InvalidParameters,
    JobError,
    LeaseLost,
    RunnerStopping,
    StepInterrupted,
    UnknownJobType,
)

__all__ = [
    "DEFAULT_STEP_RETRY",
    "CancelRequested",
    "Decision",
    "Finish",
    "GiveUp",
    "InvalidParameters",
    "JobError",
    "JobRegistry",
    "JobRunner",
    "JobType",
    "Jobs",
    "LeaseLost",
    "Progress",
    "Retry",
    "RunStep",
    "RunnerSettings",
    "RunnerStopping",
    "Step",
    "StepContext",
    "StepFunction",
    "StepHook",
    "StepInterrupted",
    "UnknownJobType",
    "WaitUntil",
    "after_temporary_error",
    "next_action",
    "progress",
]
