"""Jobs and their steps in SQL: submission, leases, step transitions, cancellation.

Who may write what:

* anyone may submit a job and request its cancellation;
* only the holder of a job's lease (``owner`` + ``epoch``) may start, report on, finish or fail its steps. Every such
  write first re-checks the lease with a conditional update on the job row, in the same transaction, so a replica
  that lost its lease (it paused, another replica claimed the job) fails at the database before recording anything.

The epoch is a fencing token: each claim increments it, so a late write from the previous holder never matches,
even when the owner string is reused by a restarted replica. This module decides nothing about *which* step runs
next: that is the planner in ``controller.jobs``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NoReturn

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controller.store._conditional import changed
from controller.store._database import Database
from controller.store._job_records import JobRecord, JobState, Lease, StepSpec, StepState, record
from controller.store._models import Job, JobStep
from controller.store.errors import CancelRefused, JobNotFound, LeaseLost, SubjectBusy, TransitionRefused

__all__ = ["JobStore"]


class JobStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    # Operators

    def submit(
        self,
        *,
        type: str,
        params: dict[str, Any],
        steps: Sequence[StepSpec],
        created_by: str,
        now: dt.datetime,
        subject: str | None = None,
    ) -> JobRecord:
        """Record a new queued job. With a ``subject``, refused while another unfinished job holds it."""
        if not steps:
            raise ValueError("a job needs at least one step")
        try:
            with self._db.session() as session:
                job = Job(
                    type=type,
                    subject=subject,
                    params=params,
                    state=JobState.QUEUED,
                    created_by=created_by,
                    created_at=now,
                    updated_at=now,
                    irrevocable=False,
                    lease_epoch=0,
                )
                session.add(job)
                session.flush()
                for position, spec in enumerate(steps):
                    session.add(
                        JobStep(
                            job_id=job.id,
                            position=position,
                            name=spec.name,
                            title=spec.title,
                            weight=spec.weight,
                            state=StepState.PENDING,
                            attempts=0,
                            fraction=0.0,
                        )
                    )
                job_id = job.id
        except IntegrityError as exc:
            # The partial unique index on unfinished subjects: the database refuses the second job.
            busy = self._unfinished_for(subject) if subject else None
            raise SubjectBusy(
                f"{subject} is busy with job {busy}" if busy else f"{subject} is busy with another job",
                remedy=f"wait for it ('failbackctl job show {busy} --follow') or cancel it" if busy else None,
                job_id=busy,
            ) from exc
        return self.get(job_id)

    def _unfinished_for(self, subject: str) -> int | None:
        with self._db.session() as session:
            return session.scalar(select(Job.id).where(Job.subject == subject, Job.finished_at.is_(None)))

    def get(self, job_id: int) -> JobRecord:
        with self._db.session() as session:
            job = session.get(Job, job_id)
            if job is None:
                raise JobNotFound(f"there is no job {job_id}", remedy="see 'failbackctl jobs'")
            return record(session, job)

    def list_jobs(self, *, limit: int = 100, unfinished_only: bool = False) -> list[JobRecord]:
        """Newest first."""
        with self._db.session() as session:
            query = select(Job).order_by(Job.id.desc()).limit(limit)
            if unfinished_only:
                query = query.where(Job.finished_at.is_(None))
            return [record(session, job) for job in session.scalars(query)]

    def request_cancel(self, job_id: int, *, by: str, now: dt.datetime) -> JobRecord:
        """Ask the job to stop at the next point that allows it. A job nobody is running stops right here.

        Refused once the job has finished or has started a step that cannot be cancelled; a second request for the
        same job is accepted and changes nothing."""
        with self._db.session() as session:
            requested = changed(
                session,
                update(Job)
                .where(
                    Job.id == job_id,
                    Job.finished_at.is_(None),
                    Job.irrevocable.is_(False),
                    Job.cancel_requested_at.is_(None),
                )
                .values(cancel_requested_at=now, cancel_requested_by=by, updated_at=now),
            )
            if not requested:
                job = session.get(Job, job_id)
                if job is None:
                    raise JobNotFound(f"there is no job {job_id}", remedy="see 'failbackctl jobs'")
                if job.finished_at is not None:
                    raise CancelRefused(f"job {job_id} has already finished ({job.state})")
                if job.irrevocable:
                    raise CancelRefused(
                        f"job {job_id} has started a step that cannot be cancelled",
                        remedy=f"wait for it to finish: failbackctl job show {job_id} --follow",
                    )
            # Unleased (queued, or waiting to retry): nobody will look at the request soon, so stop it now.
            stopped = changed(
                session,
                update(Job)
                .where(Job.id == job_id, Job.finished_at.is_(None), Job.lease_owner.is_(None))
                .values(state=JobState.CANCELLED, finished_at=now, error=f"cancelled by {by}"),
            )
            if stopped:
                session.execute(
                    update(JobStep)
                    .where(JobStep.job_id == job_id, JobStep.state.in_([StepState.WAITING, StepState.RUNNING]))
                    .values(state=StepState.CANCELLED, finished_at=now, retry_at=None)
                )
        return self.get(job_id)

    # Runners

    def claimable(self, *, types: Sequence[str], owner: str, replica: str, now: dt.datetime, limit: int) -> list[int]:
        """Unfinished jobs of ``types`` that are due and not leased by a live replica, oldest first."""
        with self._db.session() as session:
            return list(
                session.scalars(
                    select(Job.id)
                    .where(Job.finished_at.is_(None), Job.type.in_(types), *_claimable(owner, replica, now))
                    .order_by(Job.id)
                    .limit(limit)
                )
            )

    def claim(self, job_id: int, *, owner: str, replica: str, ttl: dt.timedelta, now: dt.datetime) -> Lease | None:
        """Take the job's lease if it is free, expired, or held by a dead incarnation of ``replica``.

        ``owner`` is ``<replica>/<incarnation>``: a replica holds a lock that proves no other process of it is
        alive, so leases of its earlier incarnations are taken over at once instead of waiting for them to expire.
        """
        with self._db.session() as session:
            won = changed(
                session,
                update(Job)
                .where(Job.id == job_id, Job.finished_at.is_(None), *_claimable(owner, replica, now))
                .values(
                    lease_owner=owner,
                    lease_expires_at=now + ttl,
                    lease_epoch=Job.lease_epoch + 1,
                    not_before=None,
                    updated_at=now,
                ),
            )
            if not won:
                return None
            epoch = session.scalar(select(Job.lease_epoch).where(Job.id == job_id))
            assert epoch is not None
            return Lease(job_id, owner, epoch)

    def renew(self, leases: Sequence[Lease], *, ttl: dt.timedelta, now: dt.datetime) -> list[Lease]:
        """Extend ``leases``; returns the ones that were lost."""
        lost = []
        with self._db.session() as session:
            for lease in leases:
                if not changed(
                    session,
                    update(Job).where(*_holds(lease)).values(lease_expires_at=now + ttl),
                ):
                    lost.append(lease)
        return lost

    def release(self, lease: Lease, *, now: dt.datetime, not_before: dt.datetime | None = None) -> None:
        """Give the lease back: the runner is stopping, or the job has nothing to do before ``not_before``.
        Another replica, or this one's next start, continues the job from its recorded state."""
        with self._db.session() as session:
            changed(
                session,
                update(Job)
                .where(*_holds(lease))
                .values(lease_owner=None, lease_expires_at=None, not_before=not_before, updated_at=now),
            )

    def cancel_requested(self, lease: Lease) -> bool:
        """Whether an operator asked to cancel the job; raises LeaseLost if the lease is gone. Writes nothing."""
        with self._db.session() as session:
            row = session.execute(
                select(Job.lease_owner, Job.lease_epoch, Job.finished_at, Job.cancel_requested_at).where(
                    Job.id == lease.job_id
                )
            ).one_or_none()
            if row is None or (row.lease_owner, row.lease_epoch) != (lease.owner, lease.epoch) or row.finished_at:
                self._why_not(session, lease, "check for a cancellation")
            return row.cancel_requested_at is not None

    def start_step(self, lease: Lease, position: int, *, cancellable: bool, now: dt.datetime) -> None:
        """Mark the step running (again, after a crash). A step that cannot be cancelled does not start once a
        cancellation was requested, and makes the job irrevocable when it does start."""
        conditions = list(_holds(lease))
        values: dict[str, Any] = {
            "state": JobState.RUNNING,
            "started_at": func.coalesce(Job.started_at, now),
            "updated_at": now,
        }
        if not cancellable:
            conditions.append(Job.cancel_requested_at.is_(None))
            values["irrevocable"] = True
        with self._db.session() as session:
            started = changed(session, update(Job).where(*conditions).values(**values))
            if not started:
                self._why_not(session, lease, "start a step")
            moved = changed(
                session,
                update(JobStep)
                .where(
                    JobStep.job_id == lease.job_id,
                    JobStep.position == position,
                    JobStep.state.in_([StepState.PENDING, StepState.WAITING, StepState.RUNNING]),
                )
                .values(
                    state=StepState.RUNNING,
                    attempts=JobStep.attempts + 1,
                    started_at=now,
                    first_started_at=func.coalesce(JobStep.first_started_at, now),
                    retry_at=None,
                ),
            )
            if not moved:
                raise TransitionRefused(f"step {position} of job {lease.job_id} cannot start from its current state")

    def report(
        self,
        lease: Lease,
        position: int,
        *,
        fraction: float,
        bytes_done: int | None,
        bytes_total: int | None,
        message: str | None,
        now: dt.datetime,
    ) -> bool:
        """Record a running step's progress; returns whether a cancellation has been requested."""
        with self._db.session() as session:
            self._check(session, lease, now)
            values: dict[str, Any] = {"fraction": fraction}
            if bytes_done is not None:
                values["bytes_done"] = bytes_done
            if bytes_total is not None:
                values["bytes_total"] = bytes_total
            if message is not None:
                values["message"] = message
            session.execute(
                update(JobStep)
                .where(JobStep.job_id == lease.job_id, JobStep.position == position, JobStep.state == StepState.RUNNING)
                .values(**values)
            )
            return session.scalar(select(Job.cancel_requested_at).where(Job.id == lease.job_id)) is not None

    def complete_step(self, lease: Lease, position: int, *, output: dict[str, Any] | None, now: dt.datetime) -> None:
        with self._db.session() as session:
            self._check(session, lease, now)
            done = changed(
                session,
                update(JobStep)
                .where(JobStep.job_id == lease.job_id, JobStep.position == position, JobStep.state == StepState.RUNNING)
                .values(
                    state=StepState.SUCCEEDED,
                    finished_at=now,
                    fraction=1.0,
                    output=output,
                    last_error=None,
                    message=None,
                ),
            )
            if not done:
                raise TransitionRefused(f"step {position} of job {lease.job_id} is not running")

    def retry_step_later(
        self, lease: Lease, position: int, *, retry_at: dt.datetime, error: str, now: dt.datetime
    ) -> None:
        """A temporary error: the step waits until ``retry_at`` and the lease is released meanwhile."""
        with self._db.session() as session:
            released = changed(
                session,
                update(Job)
                .where(*_holds(lease))
                .values(
                    state=JobState.WAITING,
                    not_before=retry_at,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                ),
            )
            if not released:
                self._why_not(session, lease, "schedule a retry")
            session.execute(
                update(JobStep)
                .where(JobStep.job_id == lease.job_id, JobStep.position == position)
                .values(state=StepState.WAITING, retry_at=retry_at, last_error=error)
            )

    def fail(self, lease: Lease, position: int | None, *, error: str, remedy: str | None, now: dt.datetime) -> None:
        """The job failed (in step ``position``, if any): finished, with what to do recorded."""
        self._finish(lease, position, JobState.FAILED, StepState.FAILED, error=error, remedy=remedy, now=now)

    def cancel(self, lease: Lease, position: int | None, *, now: dt.datetime) -> None:
        """Honour a cancellation request (in step ``position``, if one was interrupted)."""
        with self._db.session() as session:
            by = session.scalar(select(Job.cancel_requested_by).where(Job.id == lease.job_id))
        self._finish(
            lease, position, JobState.CANCELLED, StepState.CANCELLED, error=f"cancelled by {by}", remedy=None, now=now
        )

    def succeed(self, lease: Lease, *, now: dt.datetime) -> None:
        """Finish the job as succeeded; refused while any of its steps has not succeeded."""
        unfinished = exists().where(JobStep.job_id == Job.id, JobStep.state != StepState.SUCCEEDED)
        with self._db.session() as session:
            done = changed(
                session,
                update(Job)
                .where(*_holds(lease), ~unfinished)
                .values(
                    state=JobState.SUCCEEDED,
                    finished_at=now,
                    updated_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                ),
            )
            if not done:
                self._why_not(session, lease, "finish", f"job {lease.job_id} still has unfinished steps")

    def clear_leases(self) -> int:
        """Forget every lease (after a restore, the replicas that held them are gone)."""
        with self._db.session() as session:
            return changed(
                session,
                update(Job).where(Job.lease_owner.is_not(None)).values(lease_owner=None, lease_expires_at=None),
            )

    def _finish(
        self,
        lease: Lease,
        position: int | None,
        job_state: str,
        step_state: str,
        *,
        error: str,
        remedy: str | None,
        now: dt.datetime,
    ) -> None:
        with self._db.session() as session:
            done = changed(
                session,
                update(Job)
                .where(*_holds(lease))
                .values(
                    state=job_state,
                    finished_at=now,
                    updated_at=now,
                    error=error,
                    remedy=remedy,
                    lease_owner=None,
                    lease_expires_at=None,
                    not_before=None,
                ),
            )
            if not done:
                self._why_not(session, lease, job_state)
            if position is not None:
                session.execute(
                    update(JobStep)
                    .where(JobStep.job_id == lease.job_id, JobStep.position == position)
                    .values(
                        state=step_state,
                        finished_at=now,
                        retry_at=None,
                        error=error if step_state == StepState.FAILED else None,
                        remedy=remedy,
                    )
                )

    def _check(self, session: Session, lease: Lease, now: dt.datetime) -> None:
        if not changed(session, update(Job).where(*_holds(lease)).values(updated_at=now)):
            self._why_not(session, lease, "record progress")

    @staticmethod
    def _why_not(session: Session, lease: Lease, what: str, otherwise: str | None = None) -> NoReturn:
        """Raise the reason a conditional update on the job row matched nothing."""
        job = session.get(Job, lease.job_id)
        if job is None:
            raise JobNotFound(f"job {lease.job_id} was deleted")
        if job.lease_owner != lease.owner or job.lease_epoch != lease.epoch:
            raise LeaseLost(f"job {lease.job_id} is now run by {job.lease_owner or 'nobody'}; not allowed to {what}")
        if job.finished_at is not None:
            raise TransitionRefused(f"job {lease.job_id} has already finished ({job.state})")
        if otherwise is not None:
            raise TransitionRefused(otherwise)
        if job.cancel_requested_at is not None:
            raise CancelRefused(f"job {lease.job_id} is being cancelled; not allowed to {what}")
        raise TransitionRefused(f"job {lease.job_id}: not allowed to {what}")


def _holds(lease: Lease) -> tuple[Any, ...]:
    return (
        Job.id == lease.job_id,
        Job.lease_owner == lease.owner,
        Job.lease_epoch == lease.epoch,
        Job.finished_at.is_(None),
    )


def _claimable(owner: str, replica: str, now: dt.datetime) -> tuple[Any, ...]:
    return (
        or_(Job.not_before.is_(None), Job.not_before <= now),
        or_(
            Job.lease_owner.is_(None),
            Job.lease_expires_at <= now,
            and_(Job.lease_owner.startswith(f"{replica}/", autoescape=True), Job.lease_owner != owner),
        ),
    )
