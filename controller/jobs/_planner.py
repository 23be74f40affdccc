"""The planner: from a job's recorded state, what happens next. Pure functions: no database, no clock of its own.

The runner asks :func:`next_action` after every transition and does exactly what it says, so the rules live here:

* steps run in order; the first step that has not succeeded is the next one;
* a step recorded as running when its job is picked up was interrupted (a crash, a lost lease): it runs again —
  steps are idempotent, so a second run finishes the effect without repeating it;
* a cancellation request ends the job before the next step, unless a step that cannot be cancelled has started
  (then the request could not have been recorded: the database refuses it);
* a temporary error is retried per the step's declared policy, until the policy's deadline counted from the step's
  first start; then the job fails with the last error and its remedy.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from controller.jobs._declare import JobType, Step
from controller.store import JobRecord, StepRecord, StepState
from failback.errors import TemporaryError

__all__ = ["Decision", "Finish", "GiveUp", "Retry", "RunStep", "WaitUntil", "after_temporary_error", "next_action"]


@dataclass(frozen=True)
class RunStep:
    position: int
    # The step had started before and did not finish: it is being resumed, not retried.
    resumed: bool = False


@dataclass(frozen=True)
class WaitUntil:
    when: dt.datetime
    position: int


@dataclass(frozen=True)
class Finish:
    state: str  # "succeeded", "failed" or "cancelled"
    position: int | None = None
    error: str | None = None
    remedy: str | None = None


Decision = RunStep | WaitUntil | Finish


def next_action(job: JobRecord, job_type: JobType, now: dt.datetime) -> Decision:
    recorded = [step.name for step in job.steps]
    declared = [step.name for step in job_type.steps]
    if recorded != declared:
        return Finish(
            "failed",
            error=f"job {job.id} was created with the steps {recorded}, but this controller's {job_type.name!r} "
            f"has {declared}",
            remedy="run the controller version that created the job until it finishes, or submit the job again",
        )
    pending = next((step for step in job.steps if step.state != StepState.SUCCEEDED), None)
    if pending is None:
        return Finish("succeeded")
    if pending.state == StepState.FAILED:
        return Finish("failed", pending.position, error=pending.error, remedy=pending.remedy)
    if pending.state == StepState.CANCELLED:
        return Finish("cancelled", pending.position)
    if job.cancel_requested_at is not None and not job.irrevocable:
        interrupted = pending.state in (StepState.RUNNING, StepState.WAITING)
        return Finish("cancelled", pending.position if interrupted else None)
    if pending.state == StepState.WAITING and pending.retry_at is not None and pending.retry_at > now:
        return WaitUntil(pending.retry_at, pending.position)
    return RunStep(pending.position, resumed=pending.state == StepState.RUNNING)


@dataclass(frozen=True)
class Retry:
    at: dt.datetime


@dataclass(frozen=True)
class GiveUp:
    error: str
    remedy: str


def after_temporary_error(
    step: Step, record: StepRecord, error: TemporaryError, now: dt.datetime, rng: random.Random
) -> Retry | GiveUp:
    """When to run ``step`` again after ``error``, or that its retry deadline has passed.

    ``record.attempts`` counts the run that just failed. The delay is the policy's exponential backoff with jitter
    (the same curve ``Policy.call`` uses), stretched to the error's ``retry_after`` hint when it gives one."""
    policy = step.retry
    attempt = max(record.attempts, 1)
    delay = min(policy.initial * 2 ** (attempt - 1) + rng.uniform(0, policy.jitter), policy.maximum)
    if error.retry_after is not None:
        delay = max(delay, error.retry_after)
    first = record.first_started_at or now
    deadline = first + dt.timedelta(seconds=policy.deadline)
    at = now + dt.timedelta(seconds=delay)
    if at > deadline:
        waited = (now - first).total_seconds()
        return GiveUp(
            error=f"{step.title}: {error.message} (gave up after {attempt} attempts in {waited:.0f} s)",
            remedy=error.remedy or "fix the cause, then submit the job again",
        )
    return Retry(at)
