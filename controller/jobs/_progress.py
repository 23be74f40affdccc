"""How far a job is: percent done, bytes, and an estimate of the time left in the running step. Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from controller.store import JobRecord, StepRecord, StepState

__all__ = ["Progress", "progress"]

_DONE = (StepState.SUCCEEDED,)


@dataclass(frozen=True)
class Progress:
    percent: float
    bytes_done: int
    bytes_total: int
    # Seconds left in the running step, from its rate so far; None when there is nothing to go on.
    eta_seconds: float | None
    current: StepRecord | None


def progress(job: JobRecord, now: dt.datetime) -> Progress:
    total_weight = sum(step.weight for step in job.steps) or 1.0
    done_weight = sum(step.weight * (1.0 if step.state in _DONE else step.fraction) for step in job.steps)
    current = next((step for step in job.steps if step.state not in _DONE), None)
    if job.finished:
        current = next((step for step in job.steps if step.state not in (*_DONE, StepState.PENDING)), None)
    return Progress(
        percent=round(100.0 * done_weight / total_weight, 1),
        bytes_done=sum(step.bytes_done or 0 for step in job.steps),
        bytes_total=sum(step.bytes_total or 0 for step in job.steps),
        eta_seconds=_eta(current, now) if not job.finished else None,
        current=current,
    )


def _eta(step: StepRecord | None, now: dt.datetime) -> float | None:
    if step is None or step.state != StepState.RUNNING or step.started_at is None:
        return None
    elapsed = (now - step.started_at).total_seconds()
    if elapsed <= 0:
        return None
    if step.bytes_total and step.bytes_done:
        rate = step.bytes_done / elapsed
        return max(step.bytes_total - step.bytes_done, 0) / rate
    if 0 < step.fraction < 1:
        return elapsed * (1 - step.fraction) / step.fraction
    return None
