"""``failback.controller.v1.Jobs``: jobs as operators see them, followed live, cancelled on request."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator

import grpc

from controller.api.v1 import jobs_pb2, jobs_pb2_grpc
from controller.jobs import JobRegistry, Jobs, progress
from controller.service._status import abort, timestamp
from controller.store import JobRecord
from failback.errors import DeadlineExceeded, FailbackError
from failback.retry import Policy
from failback.serving import peer_identity

__all__ = ["JobsServicer", "job_message"]

_DEFAULT_LIMIT = 100
_MAX_LIMIT = 1000
# A watcher polls the job's row; with nothing new for this long it gets the job again anyway (a fresh ETA, and a
# sign of life for the client).
_WATCH = Policy(deadline=10.0, initial=0.1, maximum=0.5, jitter=0.05)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def job_message(job: JobRecord, registry: JobRegistry, now: dt.datetime) -> jobs_pb2.Job:
    declared = registry.get(job.type) if job.type in registry else None
    done = progress(job, now)
    message = jobs_pb2.Job(
        id=job.id,
        type=job.type,
        title=declared.title if declared else job.type,
        subject=job.subject or "",
        state=job.state,
        cancel_requested=job.cancel_requested_at is not None,
        cancellable=not job.finished and not job.irrevocable,
        percent=done.percent,
        bytes_done=done.bytes_done,
        bytes_total=done.bytes_total,
        current_step=done.current.name if done.current else "",
        error=job.error or "",
        remedy=job.remedy or "",
        created_by=job.created_by,
        created_at=timestamp(job.created_at),
        started_at=timestamp(job.started_at),
        finished_at=timestamp(job.finished_at),
        updated_at=timestamp(job.updated_at),
        not_before=timestamp(job.not_before),
        params_json=json.dumps(job.params, sort_keys=True),
    )
    if done.eta_seconds is not None:
        message.eta_seconds = done.eta_seconds
    for step in job.steps:
        step_message = message.steps.add(
            position=step.position,
            name=step.name,
            title=step.title,
            state=step.state,
            attempts=step.attempts,
            fraction=step.fraction,
            message=step.message or "",
            last_error=step.last_error or "",
            error=step.error or "",
            remedy=step.remedy or "",
            started_at=timestamp(step.started_at),
            finished_at=timestamp(step.finished_at),
            retry_at=timestamp(step.retry_at),
            cancellable=declared.steps[step.position].cancellable
            if declared and step.position < len(declared.steps)
            else False,
            output_json=json.dumps(step.output, sort_keys=True) if step.output is not None else "",
        )
        if step.bytes_done is not None:
            step_message.bytes_done = step.bytes_done
        if step.bytes_total is not None:
            step_message.bytes_total = step.bytes_total
    return message


def _visible(job: JobRecord) -> JobRecord:
    """What a watcher cares about: everything but the lease bookkeeping."""
    return dataclasses.replace(job, lease_expires_at=None)


class JobsServicer(jobs_pb2_grpc.JobsServicer):
    def __init__(self, jobs: Jobs, *, clock: Callable[[], dt.datetime] = _utcnow, watch: Policy = _WATCH) -> None:
        self._jobs = jobs
        self._clock = clock
        self._watch = watch

    def _message(self, job: JobRecord) -> jobs_pb2.Job:
        return job_message(job, self._jobs.registry, self._clock())

    def ListJobs(self, request: jobs_pb2.ListJobsRequest, context: grpc.ServicerContext) -> jobs_pb2.ListJobsResponse:
        limit = min(request.limit or _DEFAULT_LIMIT, _MAX_LIMIT)
        try:
            jobs = self._jobs.list_jobs(limit=limit, unfinished_only=request.unfinished_only)
        except FailbackError as exc:
            abort(context, exc)
        return jobs_pb2.ListJobsResponse(jobs=[self._message(job) for job in jobs])

    def GetJob(self, request: jobs_pb2.GetJobRequest, context: grpc.ServicerContext) -> jobs_pb2.Job:
        try:
            return self._message(self._jobs.get(request.id))
        except FailbackError as exc:
            abort(context, exc)

    def WatchJob(self, request: jobs_pb2.GetJobRequest, context: grpc.ServicerContext) -> Iterator[jobs_pb2.Job]:
        try:
            job = self._jobs.get(request.id)
        except FailbackError as exc:
            abort(context, exc)
        yield self._message(job)
        while not job.finished and context.is_active():
            seen = _visible(job)

            def changed(seen: JobRecord = seen) -> JobRecord | None:
                current = self._jobs.get(request.id)
                return current if _visible(current) != seen or not context.is_active() else None

            try:
                job = self._watch.wait_for(changed, what=f"a change of job {request.id}")
            except DeadlineExceeded:
                job = self._jobs.get(request.id)
            except FailbackError as exc:
                abort(context, exc)
            yield self._message(job)

    def CancelJob(self, request: jobs_pb2.CancelJobRequest, context: grpc.ServicerContext) -> jobs_pb2.Job:
        try:
            job = self._jobs.cancel(request.id, by=str(peer_identity(context)))
        except FailbackError as exc:
            abort(context, exc)
        return self._message(job)
