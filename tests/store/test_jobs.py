"""Job rows on SQLite and PostgreSQL: every transition is conditional, so racing operations cannot both win."""

import datetime as dt
import threading
from collections.abc import Callable

import pytest

from controller.store import (
    CancelRefused,
    Database,
    JobState,
    JobStore,
    Lease,
    LeaseLost,
    StepSpec,
    StepState,
    SubjectBusy,
)

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(seconds=30)
STEPS = [StepSpec("first", "First"), StepSpec("second", "Second", weight=3)]


def submit(store: JobStore, subject: str | None = "vcenter:vc1") -> int:
    return store.submit(
        type="test.job", params={"n": 1}, steps=STEPS, created_by="operator/admin", now=NOW, subject=subject
    ).id


def claim(store: JobStore, job_id: int, replica: str = "r1", incarnation: str = "a", now: dt.datetime = NOW) -> Lease:
    lease = store.claim(job_id, owner=f"{replica}/{incarnation}", replica=replica, ttl=TTL, now=now)
    assert lease is not None
    return lease


def race(attempts: int, attempt: Callable[[int], object]) -> list[object]:
    """Run ``attempt(n)`` in ``attempts`` threads released together; returns each result or the exception."""
    barrier = threading.Barrier(attempts)
    results: list[object] = [None] * attempts

    def run(n: int) -> None:
        barrier.wait()
        try:
            results[n] = attempt(n)
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_submitted_job_is_queued_with_its_steps_in_order(database: Database):
    store = JobStore(database)
    job = store.get(submit(store))
    assert job.state == JobState.QUEUED
    assert [(step.position, step.name, step.weight, step.state) for step in job.steps] == [
        (0, "first", 1.0, StepState.PENDING),
        (1, "second", 3.0, StepState.PENDING),
    ]
    assert job.params == {"n": 1}
    assert job.subject == "vcenter:vc1"


def test_a_second_job_on_a_busy_subject_is_refused_until_the_first_finishes(database: Database):
    store = JobStore(database)
    first = submit(store)
    with pytest.raises(SubjectBusy, match=f"busy with job {first}") as refused:
        submit(store)
    assert refused.value.job_id == first
    store.request_cancel(first, by="operator/admin", now=NOW)
    assert store.get(submit(store)).state == JobState.QUEUED


def test_jobs_without_a_subject_never_conflict(database: Database):
    store = JobStore(database)
    assert submit(store, subject=None) != submit(store, subject=None)


def test_concurrent_submissions_on_one_subject_start_exactly_one_job(database: Database):
    store = JobStore(database)
    results = race(6, lambda _n: submit(store))
    assert sum(isinstance(result, int) for result in results) == 1
    assert sum(isinstance(result, SubjectBusy) for result in results) == 5
    assert len(store.list_jobs()) == 1


def test_concurrent_claims_of_one_job_give_exactly_one_lease(database: Database):
    store = JobStore(database)
    job_id = submit(store)
    results = race(6, lambda n: store.claim(job_id, owner=f"r{n}/x", replica=f"r{n}", ttl=TTL, now=NOW))
    leases = [result for result in results if isinstance(result, Lease)]
    assert len(leases) == 1
    assert results.count(None) == 5
    assert store.get(job_id).lease_owner == leases[0].owner


def test_a_double_start_of_one_step_by_two_holders_lets_only_the_current_one_start(database: Database):
    store = JobStore(database)
    job_id = submit(store)
    old = claim(store, job_id, "r1")
    later = NOW + TTL + dt.timedelta(seconds=1)
    new = claim(store, job_id, "r2", now=later)
    assert new.epoch == old.epoch + 1
    results = race(2, lambda n: store.start_step((old, new)[n], 0, cancellable=True, now=later))
    assert isinstance(results[0], LeaseLost)
    assert results[1] is None
    step = store.get(job_id).steps[0]
    assert (step.state, step.attempts) == (StepState.RUNNING, 1)


def test_a_live_lease_cannot_be_claimed_but_an_expired_one_can(database: Database):
    store = JobStore(database)
    job_id = submit(store)
    claim(store, job_id, "r1")
    assert store.claim(job_id, owner="r2/b", replica="r2", ttl=TTL, now=NOW + TTL / 2) is None
    assert store.claimable(types=["test.job"], owner="r2/b", replica="r2", now=NOW + TTL / 2, limit=10) == []
    assert store.claimable(types=["test.job"], owner="r2/b", replica="r2", now=NOW + TTL, limit=10) == [job_id]
    assert claim(store, job_id, "r2", now=NOW + TTL).owner == "r2/a"


def test_a_renewed_lease_does_not_expire(database: Database):
    store = JobStore(database)
    job_id = submit(store)
    lease = claim(store, job_id)
    assert store.renew([lease], ttl=TTL, now=NOW + TTL / 2) == []
    assert store.claim(job_id, owner="r2/b", replica="r2", ttl=TTL, now=NOW + TTL) is None


def test_a_restarted_replica_takes_over_its_own_leases_at_once(database: Database):
    store = JobStore(database)
    job_id = submit(store)
    dead = claim(store, job_id, "r1", "first")
    # Another replica must wait for the lease to expire; the same replica's next incarnation need not.
    assert store.claim(job_id, owner="r2/x", replica="r2", ttl=TTL, now=NOW) is None
    again = claim(store, job_id, "r1", "second")
    assert again.epoch == dead.epoch + 1
    assert store.claim(job_id, owner="r1/second", replica="r1", ttl=TTL, now=NOW) is None


def test_after_losing_the_lease_every_write_of_the_old_holder_is_refused(database: Database):
    store = JobStore(database)
    job_id = submit(store)
    old = claim(store, job_id, "r1")
    store.start_step(old, 0, cancellable=True, now=NOW)
    later = NOW + TTL
    claim(store, job_id, "r2", now=later)
    writes = [
        lambda: store.report(old, 0, fraction=0.5, bytes_done=None, bytes_total=None, message=None, now=later),
        lambda: store.complete_step(old, 0, output={"x": 1}, now=later),
        lambda: store.retry_step_later(old, 0, retry_at=later, error="e", now=later),
        lambda: store.fail(old, 0, error="e", remedy=None, now=later),
        lambda: store.succeed(old, now=later),
    ]
    for write in writes:
        with pytest.raises(LeaseLost):
            write()
    assert store.renew([old], ttl=TTL, now=later) == [old]
    assert store.get(job_id).steps[0].state == StepState.RUNNING


def test_steps_complete_in_order_and_the_job_succeeds(database: Database):
    store = JobStore(database)
    job_id = submit(store)
    lease = claim(store, job_id)
    for position in (0, 1):
        store.start_step(lease, position, cancellable=True, now=NOW)
        store.complete_step(lease, position, output={"position": position}, now=NOW)
    store.succeed(lease, now=NOW)
    job = store.get(job_id)
    assert (job.state, job.lease_owner, job.finished_at) == (JobState.SUCCEEDED, None, NOW)
    assert [step.output for step in job.steps] == [{"position": 0}, {"position": 1}]


def test_a_job_with_unfinished_steps_cannot_succeed(database: Database):
    store = JobStore(database)
    lease = claim(store, submit(store))
    with pytest.raises(Exception, match="still has unfinished steps"):
        store.succeed(lease, now=NOW)


def test_a_step_waiting_for_a_retry_releases_the_job_until_it_is_due(database: Database):
    store = JobStore(database)
    job_id = submit(store)
    lease = claim(store, job_id)
    store.start_step(lease, 0, cancellable=True, now=NOW)
    retry_at = NOW + dt.timedelta(seconds=10)
    store.retry_step_later(lease, 0, retry_at=retry_at, error="vCenter busy", now=NOW)
    job = store.get(job_id)
    assert (job.state, job.lease_owner, job.not_before) == (JobState.WAITING, None, retry_at)
    assert (job.steps[0].state, job.steps[0].last_error) == (StepState.WAITING, "vCenter busy")
    assert store.claim(job_id, owner="r1/a", replica="r1", ttl=TTL, now=retry_at - dt.timedelta(seconds=1)) is None
    lease = claim(store, job_id, now=retry_at)
    store.start_step(lease, 0, cancellable=True, now=retry_at)
    step = store.get(job_id).steps[0]
    assert (step.state, step.attempts, step.first_started_at) == (StepState.RUNNING, 2, NOW)


def test_cancelling_a_job_nobody_runs_finishes_it_at_once(database: Database):
    store = JobStore(database)
    job = store.request_cancel(submit(store), by="operator/admin", now=NOW)
    assert (job.state, job.error, job.finished_at) == (JobState.CANCELLED, "cancelled by operator/admin", NOW)


def test_cancelling_a_running_job_is_recorded_for_its_runner(database: Database):
    store = JobStore(database)
    job_id = submit(store)
    lease = claim(store, job_id)
    store.start_step(lease, 0, cancellable=True, now=NOW)
    job = store.request_cancel(job_id, by="operator/admin", now=NOW)
    assert (job.state, job.cancel_requested_by) == (JobState.RUNNING, "operator/admin")
    assert store.report(lease, 0, fraction=0.1, bytes_done=None, bytes_total=None, message=None, now=NOW)
    store.cancel(lease, 0, now=NOW)
    job = store.get(job_id)
    assert (job.state, job.steps[0].state, job.error) == (
        JobState.CANCELLED,
        StepState.CANCELLED,
        "cancelled by operator/admin",
    )


def test_a_step_that_cannot_be_cancelled_does_not_start_after_a_cancellation(database: Database):
    store = JobStore(database)
    job_id = submit(store)
    lease = claim(store, job_id)
    store.request_cancel(job_id, by="operator/admin", now=NOW)
    with pytest.raises(CancelRefused):
        store.start_step(lease, 0, cancellable=False, now=NOW)
    assert store.get(job_id).steps[0].state == StepState.PENDING


def test_once_a_step_that_cannot_be_cancelled_starts_cancellation_is_refused(database: Database):
    store = JobStore(database)
    job_id = submit(store)
    lease = claim(store, job_id)
    store.start_step(lease, 0, cancellable=False, now=NOW)
    with pytest.raises(CancelRefused, match="cannot be cancelled"):
        store.request_cancel(job_id, by="operator/admin", now=NOW)
    assert store.get(job_id).cancel_requested_at is None


def test_cancel_and_an_irrevocable_start_racing_cannot_both_win(database: Database):
    store = JobStore(database)
    for _ in range(5):
        job_id = submit(store, subject=None)
        lease = claim(store, job_id)

        def attempt(n: int, job_id: int = job_id, lease: Lease = lease) -> object:
            if n == 0:
                return store.request_cancel(job_id, by="operator/admin", now=NOW)
            return store.start_step(lease, 0, cancellable=False, now=NOW)

        results = race(2, attempt)
        job = store.get(job_id)
        cancelled, started = not isinstance(results[0], Exception), results[1] is None
        assert cancelled != started, results
        assert job.irrevocable == started
        assert (job.cancel_requested_at is not None) == cancelled


def test_a_finished_job_cannot_be_cancelled(database: Database):
    store = JobStore(database)
    job_id = submit(store)
    lease = claim(store, job_id)
    store.start_step(lease, 0, cancellable=True, now=NOW)
    store.fail(lease, 0, error="First: vCenter refused the login", remedy="check the password", now=NOW)
    with pytest.raises(CancelRefused, match="already finished"):
        store.request_cancel(job_id, by="operator/admin", now=NOW)
    job = store.get(job_id)
    assert (job.state, job.error, job.remedy) == (
        JobState.FAILED,
        "First: vCenter refused the login",
        "check the password",
    )
    assert (job.steps[0].state, job.steps[0].remedy) == (StepState.FAILED, "check the password")
