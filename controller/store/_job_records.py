"""What a job looks like to its readers: plain records, and the state names stored in the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.store._models import Job, JobStep

__all__ = ["JobRecord", "JobState", "Lease", "StepRecord", "StepSpec", "StepState", "record"]


class JobState:
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"  # a step failed temporarily and is retried at ``not_before``
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})


class StepState:
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class StepSpec:
    name: str
    title: str
    weight: float = 1.0


@dataclass(frozen=True)
class StepRecord:
    position: int
    name: str
    title: str
    weight: float
    state: str
    attempts: int
    first_started_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    retry_at: dt.datetime | None
    fraction: float
    bytes_done: int | None
    bytes_total: int | None
    message: str | None
    last_error: str | None
    error: str | None
    remedy: str | None
    output: dict[str, Any] | None


@dataclass(frozen=True)
class JobRecord:
    id: int
    type: str
    subject: str | None
    params: dict[str, Any]
    state: str
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    cancel_requested_at: dt.datetime | None
    cancel_requested_by: str | None
    irrevocable: bool
    lease_owner: str | None
    lease_expires_at: dt.datetime | None
    lease_epoch: int
    not_before: dt.datetime | None
    error: str | None
    remedy: str | None
    steps: tuple[StepRecord, ...]

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


@dataclass(frozen=True)
class Lease:
    """The right to run one job, until another claim bumps ``epoch``."""

    job_id: int
    owner: str
    epoch: int


def record(session: Session, job: Job) -> JobRecord:
    steps = session.scalars(select(JobStep).where(JobStep.job_id == job.id).order_by(JobStep.position))
    return JobRecord(
        id=job.id,
        type=job.type,
        subject=job.subject,
        params=dict(job.params),
        state=job.state,
        created_by=job.created_by,
        created_at=job.created_at,
        updated_at=job.updated_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        cancel_requested_at=job.cancel_requested_at,
        cancel_requested_by=job.cancel_requested_by,
        irrevocable=job.irrevocable,
        lease_owner=job.lease_owner,
        lease_expires_at=job.lease_expires_at,
        lease_epoch=job.lease_epoch,
        not_before=job.not_before,
        error=job.error,
        remedy=job.remedy,
        steps=tuple(
            StepRecord(
                position=step.position,
                name=step.name,
                title=step.title,
                weight=step.weight,
                state=step.state,
                attempts=step.attempts,
                first_started_at=step.first_started_at,
                started_at=step.started_at,
                finished_at=step.finished_at,
                retry_at=step.retry_at,
                fraction=step.fraction,
                bytes_done=step.bytes_done,
                bytes_total=step.bytes_total,
                message=step.message,
                last_error=step.last_error,
                error=step.error,
                remedy=step.remedy,
                output=dict(step.output) if step.output is not None else None,
            )
            for step in steps
        ),
    )
