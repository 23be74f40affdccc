"""The runner: claims due jobs with a lease, asks the planner what to do, runs steps, records every transition.

One runner per controller process, with a small thread pool. Three kinds of threads:

* the dispatcher claims due jobs (free, expired, or held by a dead incarnation of this replica) while workers are
  free, on a poll interval or at once when a job is submitted here;
* workers drive one job each: plan → start step → run it → record the outcome → plan again, until the job
  finishes or waits for a retry (then the lease is released and the dispatcher picks the job up when it is due);
* the lease keeper extends the leases of the jobs being driven, every third of the lease time. If this process
  dies, its leases expire and another replica continues the jobs; if it only stalls, its next write fails on the
  lease epoch and it drops the job.

The loop decides retries; steps never sleep. The runner never interprets a step's effect: idempotency is the step's
contract (check before acting), so running a step again after a crash is always allowed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from controller.jobs._declare import JobType, Step
from controller.jobs._planner import Finish, GiveUp, RunStep, WaitUntil, after_temporary_error, next_action
from controller.jobs._registry import JobRegistry
from controller.jobs.errors import CancelRequested, LeaseLost, RunnerStopping, StepInterrupted
from controller.store import CancelRefused, DatabaseUnavailable, JobRecord, JobStore, Lease, StepState
from controller.store import LeaseLost as StoreLeaseLost
from failback.errors import PermanentError, TemporaryError

__all__ = ["JobRunner", "RunnerSettings", "StepHook"]

log = logging.getLogger(__name__)

_REPLICA = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_BUG_REMEDY = "this is a bug in failback: report it with the controller log, then submit the job again"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


StepHook = Callable[[JobRecord, Step, str], None]
"""Called with the job, the step and ``"ran"`` (the step returned; its completion is not recorded yet) or
``"recorded"`` (its completion is durable). Fault injection for crash tests hooks in here (controller.service)."""


@dataclass(frozen=True)
class RunnerSettings:
    """``replica`` names this controller among the replicas sharing one database; it must be stable across
    restarts (the controller keeps it in its state directory) and held by one process at a time."""

    replica: str
    workers: int = 4
    lease: dt.timedelta = dt.timedelta(seconds=30)
    poll_interval: float = 1.0
    report_interval: float = 0.5
    step_hook: StepHook | None = None

    def __post_init__(self) -> None:
        if not _REPLICA.match(self.replica):
            raise ValueError(f"replica id {self.replica!r}: use lower-case letters, digits and '-'")
        if self.workers < 1 or self.lease.total_seconds() < 1 or self.poll_interval <= 0:
            raise ValueError("a runner needs at least one worker, a lease of 1 s or more and a positive poll")


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        registry: JobRegistry,
        settings: RunnerSettings,
        *,
        clock: Callable[[], dt.datetime] = _utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.owner = f"{settings.replica}/{secrets.token_hex(4)}"
        self._lock = threading.Lock()
        self._active: dict[int, Lease] = {}
        self._lost: set[tuple[int, int]] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool: futures.ThreadPoolExecutor | None = None
        self._futures: set[futures.Future[None]] = set()

    # Life cycle

    def start(self) -> None:
        self._pool = futures.ThreadPoolExecutor(self._settings.workers, thread_name_prefix="job")
        for name, target in (("job-dispatcher", self._dispatch_loop), ("job-leases", self._keep_leases)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("job runner %s started with %d workers", self.owner, self._settings.workers)

    def wake(self) -> None:
        """Look for due jobs now (a job was just submitted)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming; ask running steps to stop at their next cancellation point; wait up to ``timeout``.
        Jobs interrupted this way keep their recorded state and resume on the next start (or on another replica)."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            running = set(self._futures)
        futures.wait(running, timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        log.info("job runner %s stopped", self.owner)

    @property
    def active(self) -> list[int]:
        with self._lock:
            return sorted(self._active)

    # Claiming

    def _dispatch_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._dispatch()
            except DatabaseUnavailable as exc:
                log.error("cannot look for due jobs: %s", exc)
            except Exception:
                log.exception("the job dispatcher failed; trying again at the next poll")
            self._wake.wait(self._settings.poll_interval)
            self._wake.clear()

    def _dispatch(self) -> None:
        with self._lock:
            free = self._settings.workers - len(self._active)
        if free <= 0 or self._stopping.is_set():
            return
        now = self._clock()
        for job_id in self._store.claimable(
            types=self._registry.names(), owner=self.owner, replica=self._settings.replica, now=now, limit=free
        ):
            lease = self.claim(job_id)
            if lease is not None and self._pool is not None:
                future = self._pool.submit(self.drive, lease)
                with self._lock:
                    self._futures.add(future)
                future.add_done_callback(self._forget_future)

    def _forget_future(self, future: futures.Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def claim(self, job_id: int) -> Lease | None:
        lease = self._store.claim(
            job_id, owner=self.owner, replica=self._settings.replica, ttl=self._settings.lease, now=self._clock()
        )
        if lease is not None:
            with self._lock:
                self._active[job_id] = lease
            log.debug("claimed job %d (epoch %d)", job_id, lease.epoch)
        return lease

    def _keep_leases(self) -> None:
        interval = self._settings.lease.total_seconds() / 3
        while not self._stopping.wait(interval):
            with self._lock:
                leases = list(self._active.values())
            if not leases:
                continue
            try:
                lost = self._store.renew(leases, ttl=self._settings.lease, now=self._clock())
            except Exception as exc:  # noqa: BLE001 - a failed renewal is retried next round; the lease may still hold
                log.error("cannot renew job leases: %s", exc)
                continue
            with self._lock:
                for lease in lost:
                    if self._active.get(lease.job_id) == lease:
                        self._lost.add((lease.job_id, lease.epoch))
                        log.warning("lost the lease of job %d: another replica runs it now", lease.job_id)

    def lease_lost(self, lease: Lease) -> bool:
        with self._lock:
            return (lease.job_id, lease.epoch) in self._lost

    # Driving one job

    def run_claimed(self, job_id: int) -> bool:
        """Claim ``job_id`` and drive it in this thread (tests, and one-shot tools). False if it could not be
        claimed."""
        lease = self.claim(job_id)
        if lease is None:
            return False
        self.drive(lease)
        return True

    def drive(self, lease: Lease) -> None:
        try:
            while True:
                if self._stopping.is_set():
                    self._store.release(lease, now=self._clock())
                    return
                job = self._store.get(lease.job_id)
                job_type = self._registry.get(job.type)
                decision = next_action(job, job_type, self._clock())
                if isinstance(decision, RunStep):
                    if not self._run_step(lease, job, job_type, decision):
                        return
                elif isinstance(decision, WaitUntil):
                    self._store.release(lease, now=self._clock(), not_before=decision.when)
                    return
                else:
                    self._finish(lease, job, decision)
                    return
        except StoreLeaseLost as exc:
            log.warning("job %d: %s", lease.job_id, exc)
        except DatabaseUnavailable as exc:
            log.error("job %d paused, the database is unavailable: %s", lease.job_id, exc)
        except Exception:
            log.exception("job %d: the runner failed; the job resumes when its lease expires", lease.job_id)
        finally:
            with self._lock:
                if self._active.get(lease.job_id) == lease:
                    del self._active[lease.job_id]
                self._lost.discard((lease.job_id, lease.epoch))

    def _finish(self, lease: Lease, job: JobRecord, decision: Finish) -> None:
        now = self._clock()
        if decision.state == "succeeded":
            self._store.succeed(lease, now=now)
            log.info("job %d (%s) succeeded", job.id, job.type)
        elif decision.state == "cancelled":
            self._store.cancel(lease, decision.position, now=now)
            log.info("job %d (%s) cancelled by %s", job.id, job.type, job.cancel_requested_by)
        else:
            self._store.fail(
                lease, decision.position, error=decision.error or "failed", remedy=decision.remedy, now=now
            )
            log.error("job %d (%s) failed: %s", job.id, job.type, decision.error)

    def _run_step(self, lease: Lease, job: JobRecord, job_type: JobType, decision: RunStep) -> bool:
        """Run one step and record its outcome. True when the caller should plan again."""
        position = decision.position
        step = job_type.steps[position]
        record = job.steps[position]
        try:
            self._store.start_step(lease, position, cancellable=step.cancellable, now=self._clock())
        except CancelRefused as exc:
            # A cancellation arrived just before a step that cannot be cancelled: plan again, which cancels.
            log.info("job %d: step %r not started: %s", job.id, step.name, exc)
            return True
        attempt = record.attempts + 1
        log.info(
            "job %d (%s): step %r %s (attempt %d)",
            job.id,
            job.type,
            step.name,
            "resumed" if decision.resumed else "started",
            attempt,
        )
        context = _Context(self, lease, job, step, position, attempt)
        hook = self._settings.step_hook
        try:
            output = step.run(context)
            stored = _json_object(output, step)
            if hook is not None:
                hook(job, step, "ran")
        except CancelRequested:
            self._store.cancel(lease, position, now=self._clock())
            log.info("job %d cancelled during step %r", job.id, step.name)
            return False
        except LeaseLost:
            log.warning("job %d: lost the lease during step %r; another replica continues", job.id, step.name)
            return False
        except RunnerStopping:
            self._store.release(lease, now=self._clock())
            log.info("job %d: step %r interrupted by shutdown; it resumes on the next start", job.id, step.name)
            return False
        except StepInterrupted:
            raise
        except TemporaryError as exc:
            return self._temporary(lease, job, step, position, exc)
        except PermanentError as exc:
            self._store.fail(
                lease, position, error=f"{step.title}: {exc.message}", remedy=exc.remedy, now=self._clock()
            )
            log.error("job %d (%s) failed in step %r: %s", job.id, job.type, step.name, exc)
            return False
        except Exception as exc:
            log.exception("job %d: step %r raised an unexpected error", job.id, step.name)
            self._store.fail(
                lease,
                position,
                error=f"{step.title}: unexpected {type(exc).__name__}: {exc}",
                remedy=_BUG_REMEDY,
                now=self._clock(),
            )
            return False
        self._store.complete_step(lease, position, output=stored, now=self._clock())
        log.info("job %d (%s): step %r done", job.id, job.type, step.name)
        if hook is not None:
            hook(job, step, "recorded")
        return True

    def _temporary(self, lease: Lease, job: JobRecord, step: Step, position: int, error: TemporaryError) -> bool:
        now = self._clock()
        record = self._store.get(job.id).steps[position]
        verdict = after_temporary_error(step, record, error, now, self._rng)
        if isinstance(verdict, GiveUp):
            self._store.fail(lease, position, error=verdict.error, remedy=verdict.remedy, now=now)
            log.error("job %d (%s) failed: %s", job.id, job.type, verdict.error)
            return False
        self._store.retry_step_later(lease, position, retry_at=verdict.at, error=str(error), now=now)
        log.warning(
            "job %d: step %r will be retried at %s: %s",
            job.id,
            step.name,
            verdict.at.isoformat(timespec="seconds"),
            error,
        )
        self._wake_at(verdict.at)
        return False

    def _wake_at(self, when: dt.datetime) -> None:
        """Make sure the dispatcher looks again soon after ``when`` even with a long poll interval."""
        delay = (when - self._clock()).total_seconds()
        if 0 < delay < self._settings.poll_interval:
            timer = threading.Timer(delay, self._wake.set)
            timer.daemon = True
            timer.start()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def store(self) -> JobStore:
        return self._store

    @property
    def settings(self) -> RunnerSettings:
        return self._settings

    def now(self) -> dt.datetime:
        return self._clock()


class _Context:
    """The StepContext a running step receives.

    Progress writes and cancellation polls are rate-limited separately: a report that falls inside the interval is
    kept and written by the next report or checkpoint that is due, so the last figure always reaches the database.
    """

    def __init__(self, runner: JobRunner, lease: Lease, job: JobRecord, step: Step, position: int, attempt: int):
        self._runner = runner
        self._lease = lease
        self._step = step
        self._position = position
        self.job_id = job.id
        self.attempt = attempt
        self.params: Mapping[str, Any] = MappingProxyType(job.params)
        self.outputs: Mapping[str, Mapping[str, Any]] = MappingProxyType(
            {
                record.name: MappingProxyType(record.output)
                for record in job.steps
                if record.state == StepState.SUCCEEDED and record.output is not None
            }
        )
        self._last_report: float | None = None
        self._last_poll: float | None = None
        self._pending: dict[str, Any] | None = None
        self._cancel_seen = False

    def _due(self, last: float | None) -> bool:
        return last is None or time.monotonic() - last >= self._runner.settings.report_interval

    def report(
        self,
        fraction: float | None = None,
        *,
        bytes_done: int | None = None,
        bytes_total: int | None = None,
        message: str | None = None,
    ) -> None:
        if fraction is None and bytes_done is not None and bytes_total:
            fraction = bytes_done / bytes_total
        self._pending = {
            "fraction": min(max(fraction or 0.0, 0.0), 1.0),
            "bytes_done": bytes_done,
            "bytes_total": bytes_total,
            "message": message,
        }
        self._interrupt_if_due()
        if self._due(self._last_report) or self._pending["fraction"] >= 1.0:
            self._flush()
        self._interrupt_if_due()

    def checkpoint(self) -> None:
        self._interrupt_if_due()
        if self._pending is not None and self._due(self._last_report):
            self._flush()
        elif self._due(self._last_poll):
            self._last_poll = time.monotonic()
            self._cancel_seen = self._store_call(lambda: self._runner.store.cancel_requested(self._lease))
        self._interrupt_if_due()

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        assert pending is not None
        self._last_report = self._last_poll = time.monotonic()
        self._cancel_seen = self._store_call(
            lambda: self._runner.store.report(self._lease, self._position, now=self._runner.now(), **pending)
        )

    def _store_call(self, call: Callable[[], bool]) -> bool:
        try:
            return call()
        except StoreLeaseLost as exc:
            raise LeaseLost(str(exc)) from exc

    def _interrupt_if_due(self) -> None:
        if self._runner.lease_lost(self._lease):
            raise LeaseLost(f"job {self.job_id} is now run by another replica")
        if self._runner.stopping:
            raise RunnerStopping("the controller is stopping")
        if self._cancel_seen and self._step.cancellable:
            raise CancelRequested(f"job {self.job_id} was cancelled")


def _json_object(output: Mapping[str, Any] | None, step: Step) -> dict[str, Any] | None:
    """Steps return a JSON object (kept in the database) or None."""
    if output is None:
        return None
    if not isinstance(output, Mapping):
        raise TypeError(f"step {step.name!r} returned {type(output).__name__}, not a mapping")
    document = dict(output)
    json.dumps(document)  # a TypeError here is a bug in the step: reported as one
    return document
