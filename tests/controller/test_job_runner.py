"""The job runner on both engines: resume, retry, permanent failure, cancel, lease takeover.

Runners here are driven synchronously (``run_claimed``) with a manual clock, so every transition is deterministic;
``test_a_started_runner_runs_submitted_jobs_to_the_end`` covers the threads.
"""

import datetime as dt
import logging
import threading

import pytest

from controller.jobs import JobRegistry, JobRunner, Jobs, JobType, RunnerSettings, Step, StepContext
from controller.jobs.errors import InvalidParameters, UnknownJobType
from controller.store import Database, JobState, JobStore, StepState, SubjectBusy
from failback.errors import PermanentError, TemporaryError
from failback.retry import Policy
from tests.controller._jobkit import Crash, Effects, ManualClock

FAST_RETRY = Policy(deadline=30, initial=1, maximum=4, jitter=0)


class Harness:
    def __init__(self, database: Database, job_types: list[JobType]) -> None:
        self.clock = ManualClock()
        self.registry = JobRegistry(job_types)
        self.store = JobStore(database)
        self.jobs = Jobs(self.store, self.registry, clock=self.clock)

    def runner(self, replica: str = "replica-a", **settings) -> JobRunner:
        return JobRunner(self.store, self.registry, RunnerSettings(replica=replica, **settings), clock=self.clock)

    def submit(self, job_type: str, params: dict | None = None) -> int:
        return self.jobs.submit(job_type, params or {}, created_by="operator/admin").id


def effect_step(effects: Effects, name: str, **kwargs) -> Step:
    def run(ctx: StepContext):
        effects.once(name)
        return {"did": name}

    return Step(name, run, **kwargs)


def test_steps_run_in_order_and_later_steps_see_earlier_outputs(database: Database):
    seen = {}

    def second(ctx: StepContext):
        seen.update(ctx.outputs)
        return {"total": ctx.outputs["first"]["n"] + ctx.params["add"]}

    harness = Harness(
        database, [JobType("test.outputs", "Outputs", (Step("first", lambda ctx: {"n": 40}), Step("second", second)))]
    )
    job_id = harness.submit("test.outputs", {"add": 2})
    assert harness.runner().run_claimed(job_id)
    job = harness.store.get(job_id)
    assert job.state == JobState.SUCCEEDED
    assert seen == {"first": {"n": 40}}
    assert job.steps[1].output == {"total": 42}


def test_a_job_resumes_after_a_crash_at_its_interrupted_step_without_repeating_effects(database: Database):
    effects = Effects()
    crash_once = threading.Event()

    def flaky(ctx: StepContext):
        effects.once("attach")  # the effect happened, then the process died before recording completion
        if not crash_once.is_set():
            crash_once.set()
            raise Crash

    harness = Harness(
        database,
        [
            JobType(
                "test.resume",
                "Resume",
                (effect_step(effects, "prepare"), Step("attach", flaky), effect_step(effects, "finish")),
            )
        ],
    )
    job_id = harness.submit("test.resume")
    with pytest.raises(Crash):
        harness.runner().run_claimed(job_id)
    crashed = harness.store.get(job_id)
    assert [step.state for step in crashed.steps] == [StepState.SUCCEEDED, StepState.RUNNING, StepState.PENDING]
    # The restarted controller (same replica, new process) takes over its own lease at once.
    assert harness.runner().run_claimed(job_id)
    job = harness.store.get(job_id)
    assert job.state == JobState.SUCCEEDED
    assert effects.done == ["prepare", "attach", "finish"]
    assert effects.runs == ["prepare", "attach", "attach", "finish"]
    assert [step.attempts for step in job.steps] == [1, 2, 1]


def test_temporary_errors_are_retried_after_the_declared_backoff(database: Database):
    failures = iter([TemporaryError("vCenter busy"), TemporaryError("vCenter busy")])

    def fetch(ctx: StepContext):
        error = next(failures, None)
        if error is not None:
            raise error
        return {"attempt": ctx.attempt}

    harness = Harness(database, [JobType("test.retry", "Retry", (Step("fetch", fetch, retry=FAST_RETRY),))])
    job_id = harness.submit("test.retry")
    runner = harness.runner()
    delays = []
    for _ in range(2):
        assert runner.run_claimed(job_id)
        job = harness.store.get(job_id)
        assert (job.state, job.steps[0].state, job.steps[0].last_error) == ("waiting", "waiting", "vCenter busy")
        assert job.lease_owner is None
        delays.append((job.not_before - harness.clock()).total_seconds())
        assert not runner.run_claimed(job_id), "claimed before the retry was due"
        harness.clock.advance(delays[-1])
    assert delays == [1.0, 2.0]
    assert runner.run_claimed(job_id)
    job = harness.store.get(job_id)
    assert job.state == JobState.SUCCEEDED
    assert job.steps[0].output == {"attempt": 3}
    assert job.steps[0].last_error is None


def test_a_temporary_error_past_the_retry_deadline_fails_the_job_with_the_remedy(database: Database):
    def fetch(ctx: StepContext):
        raise TemporaryError("vCenter did not answer", remedy="check that vc1 is reachable on 443")

    harness = Harness(database, [JobType("test.deadline", "Deadline", (Step("fetch", fetch, retry=FAST_RETRY),))])
    job_id = harness.submit("test.deadline")
    runner = harness.runner()
    for _ in range(20):
        assert runner.run_claimed(job_id)
        job = harness.store.get(job_id)
        if job.finished:
            break
        harness.clock.advance((job.not_before - harness.clock()).total_seconds())
    assert job.state == JobState.FAILED
    assert job.error.startswith("fetch: vCenter did not answer (gave up after")
    assert job.remedy == "check that vc1 is reachable on 443"
    assert job.steps[0].state == StepState.FAILED


def test_a_permanent_error_fails_the_job_with_its_remedy_and_runs_nothing_after(database: Database):
    effects = Effects()

    def login(ctx: StepContext):
        raise PermanentError("vc1 refused the login for failback@vsphere.local", remedy="update the password")

    harness = Harness(
        database,
        [JobType("test.permanent", "Permanent", (Step("login", login, title="Log in"), effect_step(effects, "next")))],
    )
    job_id = harness.submit("test.permanent")
    harness.runner().run_claimed(job_id)
    job = harness.store.get(job_id)
    assert (job.state, job.error, job.remedy) == (
        JobState.FAILED,
        "Log in: vc1 refused the login for failback@vsphere.local",
        "update the password",
    )
    assert [step.state for step in job.steps] == [StepState.FAILED, StepState.PENDING]
    assert effects.runs == []
    assert job.lease_owner is None


def test_an_unexpected_exception_fails_the_job_as_a_bug(database: Database, caplog: pytest.LogCaptureFixture):
    def broken(ctx: StepContext):
        return {"not json": object()}

    harness = Harness(database, [JobType("test.bug", "Bug", (Step("broken", broken),))])
    job_id = harness.submit("test.bug")
    with caplog.at_level(logging.ERROR):
        harness.runner().run_claimed(job_id)
    job = harness.store.get(job_id)
    assert job.state == JobState.FAILED
    assert "unexpected TypeError" in job.error
    assert "bug in failback" in job.remedy


def test_cancelling_during_a_cancellable_step_stops_it_at_its_next_report(database: Database):
    effects = Effects()
    harness = Harness(database, [])

    def copy(ctx: StepContext):
        ctx.report(0.1, message="copying")
        harness.jobs.cancel(ctx.job_id, by="operator/admin")
        ctx.report(0.2)
        effects.once("copied everything")

    harness.registry.register(JobType("test.cancel", "Cancel", (Step("copy", copy), effect_step(effects, "after"))))
    job_id = harness.submit("test.cancel")
    harness.runner(report_interval=0).run_claimed(job_id)
    job = harness.store.get(job_id)
    assert (job.state, job.error) == (JobState.CANCELLED, "cancelled by operator/admin")
    assert [step.state for step in job.steps] == [StepState.CANCELLED, StepState.PENDING]
    assert effects.runs == []


def test_a_step_that_cannot_be_cancelled_finishes_and_cancellation_is_refused_meanwhile(database: Database):
    effects = Effects()
    harness = Harness(database, [])
    refusals = []

    def commit(ctx: StepContext):
        try:
            harness.jobs.cancel(ctx.job_id, by="operator/admin")
        except PermanentError as exc:
            refusals.append(str(exc))
        ctx.report(0.5)
        effects.once("commit")

    harness.registry.register(
        JobType("test.commit", "Commit", (Step("commit", commit, cancellable=False), effect_step(effects, "cleanup")))
    )
    job_id = harness.submit("test.commit")
    harness.runner(report_interval=0).run_claimed(job_id)
    assert harness.store.get(job_id).state == JobState.SUCCEEDED
    assert effects.done == ["commit", "cleanup"]
    assert len(refusals) == 1
    assert "cannot be cancelled" in refusals[0]


def test_a_cancellation_between_steps_ends_the_job_before_the_next_one(database: Database):
    effects = Effects()
    harness = Harness(database, [])

    def first(ctx: StepContext):
        effects.once("first")
        harness.jobs.cancel(ctx.job_id, by="operator/admin")  # the step itself never looks

    harness.registry.register(
        JobType("test.between", "Between", (Step("first", first), effect_step(effects, "second")))
    )
    job_id = harness.submit("test.between")
    harness.runner().run_claimed(job_id)
    job = harness.store.get(job_id)
    assert job.state == JobState.CANCELLED
    assert [step.state for step in job.steps] == [StepState.SUCCEEDED, StepState.PENDING]
    assert effects.runs == ["first"]


def test_when_a_replica_dies_mid_step_another_takes_over_after_the_lease_expires(database: Database):
    effects = Effects()
    entered = threading.Event()
    release = threading.Event()
    finished_by = []

    def replicate(ctx: StepContext):
        effects.once("replicate")
        if threading.current_thread().name == "replica-a":
            entered.set()
            release.wait(30)  # the first replica stalls here (a dead or partitioned process)
        finished_by.append(threading.current_thread().name)

    harness = Harness(database, [JobType("test.lease", "Lease", (Step("replicate", replicate),))])
    job_id = harness.submit("test.lease")
    first = harness.runner("replica-a", lease=dt.timedelta(seconds=30))
    stalled = threading.Thread(target=first.run_claimed, args=(job_id,), name="replica-a")
    stalled.start()
    assert entered.wait(30)
    second = harness.runner("replica-b", lease=dt.timedelta(seconds=30))
    assert not second.run_claimed(job_id), "took over a live lease"
    harness.clock.advance(31)
    threading.current_thread().name, name = "replica-b", threading.current_thread().name
    try:
        assert second.run_claimed(job_id)
    finally:
        threading.current_thread().name = name
    release.set()
    stalled.join(30)
    job = harness.store.get(job_id)
    assert job.state == JobState.SUCCEEDED
    assert job.lease_epoch == 2
    assert job.steps[0].attempts == 2
    assert effects.done == ["replicate"]
    # The stalled replica finished its run of the step but could not record it: its lease was gone.
    assert sorted(finished_by) == ["replica-a", "replica-b"]


def test_a_lost_lease_interrupts_a_step_at_its_next_report(database: Database):
    harness = Harness(database, [])
    interrupted = []

    def long_copy(ctx: StepContext):
        ctx.report(0.1)
        harness.clock.advance(60)
        assert harness.runner("replica-b").claim(ctx.job_id) is not None
        try:
            ctx.report(0.2)
        except Exception as exc:
            interrupted.append(type(exc).__name__)
            raise

    harness.registry.register(JobType("test.lost", "Lost", (Step("copy", long_copy),)))
    job_id = harness.submit("test.lost")
    harness.runner("replica-a", report_interval=0).run_claimed(job_id)
    assert interrupted == ["LeaseLost"]
    job = harness.store.get(job_id)
    # Nothing was recorded by the replica that lost the lease: the step stays running for the new holder to resume.
    assert (job.state, job.steps[0].state) == (JobState.RUNNING, StepState.RUNNING)
    assert job.lease_owner.startswith("replica-b/")


def test_submission_checks_the_type_and_the_parameters_before_recording_anything(database: Database):
    def validate(params):
        if "vcenter" not in params:
            raise InvalidParameters("a refresh needs 'vcenter'")

    harness = Harness(
        database,
        [
            JobType(
                "test.params",
                "Params",
                (Step("only", lambda ctx: None),),
                validate=validate,
                subject=lambda params: f"vcenter:{params['vcenter']}",
            )
        ],
    )
    with pytest.raises(UnknownJobType, match=r"known types: test\.params"):
        harness.submit("test.nope")
    with pytest.raises(InvalidParameters):
        harness.submit("test.params", {})
    assert harness.store.list_jobs() == []
    harness.submit("test.params", {"vcenter": "vc1"})
    with pytest.raises(SubjectBusy):
        harness.submit("test.params", {"vcenter": "vc1"})


def test_a_started_runner_runs_submitted_jobs_to_the_end(database: Database):
    effects = Effects()
    harness = Harness(
        database, [JobType("test.threads", "Threads", (effect_step(effects, "one"), effect_step(effects, "two")))]
    )
    runner = JobRunner(
        harness.store, harness.registry, RunnerSettings(replica="threads", workers=2, poll_interval=0.05)
    )
    harness.jobs = Jobs(harness.store, harness.registry, on_submit=runner.wake)
    runner.start()
    try:
        ids = [harness.submit("test.threads") for _ in range(3)]
        done = Policy(deadline=30, initial=0.02, maximum=0.2).wait_for(
            lambda: True if all(harness.store.get(i).finished for i in ids) else None, what="three jobs"
        )
        assert done
    finally:
        runner.stop(timeout=10)
    assert {harness.store.get(i).state for i in ids} == {JobState.SUCCEEDED}
    assert effects.runs.count("one") == 3
