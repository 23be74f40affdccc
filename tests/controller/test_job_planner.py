"""The planner decides from recorded state alone (pure functions, no database)."""

import dataclasses
import datetime as dt
import random

import pytest

from controller.jobs import Finish, GiveUp, JobType, Retry, RunStep, Step, WaitUntil, after_temporary_error, next_action
from controller.store import JobRecord, StepRecord, StepState
from failback.errors import TemporaryError
from failback.retry import Policy

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def noop(_ctx):
    return None


TYPE = JobType(
    name="test.plan",
    title="Plan",
    steps=(Step("prepare", noop), Step("commit", noop, cancellable=False), Step("cleanup", noop)),
)


def step(position: int, state: str = StepState.PENDING, **changes) -> StepRecord:
    record = StepRecord(
        position=position,
        name=TYPE.steps[position].name,
        title=TYPE.steps[position].title,
        weight=1.0,
        state=state,
        attempts=0,
        first_started_at=None,
        started_at=None,
        finished_at=None,
        retry_at=None,
        fraction=0.0,
        bytes_done=None,
        bytes_total=None,
        message=None,
        last_error=None,
        error=None,
        remedy=None,
        output=None,
    )
    return dataclasses.replace(record, **changes)


def job(*states: str, **changes) -> JobRecord:
    steps = tuple(step(n, state) for n, state in enumerate(states))
    record = JobRecord(
        id=7,
        type=TYPE.name,
        subject=None,
        params={},
        state="running",
        created_by="operator/admin",
        created_at=NOW,
        updated_at=NOW,
        started_at=None,
        finished_at=None,
        cancel_requested_at=None,
        cancel_requested_by=None,
        irrevocable=False,
        lease_owner="r/1",
        lease_expires_at=None,
        lease_epoch=1,
        not_before=None,
        error=None,
        remedy=None,
        steps=steps,
    )
    return dataclasses.replace(record, **changes)


P, R, W, S, F, C = (
    StepState.PENDING,
    StepState.RUNNING,
    StepState.WAITING,
    StepState.SUCCEEDED,
    StepState.FAILED,
    StepState.CANCELLED,
)


def test_a_new_job_runs_its_first_step():
    assert next_action(job(P, P, P), TYPE, NOW) == RunStep(0)


def test_the_first_step_not_succeeded_runs_next():
    assert next_action(job(S, P, P), TYPE, NOW) == RunStep(1)


def test_a_step_found_running_is_resumed():
    assert next_action(job(S, R, P), TYPE, NOW) == RunStep(1, resumed=True)


def test_a_job_whose_steps_all_succeeded_succeeds():
    assert next_action(job(S, S, S), TYPE, NOW) == Finish("succeeded")


def test_a_failed_step_fails_the_job_with_its_remedy():
    record = job(S, F, P)
    record = dataclasses.replace(
        record,
        steps=(record.steps[0], dataclasses.replace(record.steps[1], error="boom", remedy="fix"), record.steps[2]),
    )
    assert next_action(record, TYPE, NOW) == Finish("failed", 1, error="boom", remedy="fix")


def test_a_waiting_step_waits_until_its_retry_time_then_runs():
    record = job(W, P, P)
    later = NOW + dt.timedelta(seconds=5)
    record = dataclasses.replace(
        record, steps=(dataclasses.replace(record.steps[0], retry_at=later), *record.steps[1:])
    )
    assert next_action(record, TYPE, NOW) == WaitUntil(later, 0)
    assert next_action(record, TYPE, later) == RunStep(0)


def test_a_cancellation_stops_the_job_before_its_next_step():
    assert next_action(job(S, P, P, cancel_requested_at=NOW), TYPE, NOW) == Finish("cancelled", None)


def test_a_cancellation_names_the_interrupted_step():
    assert next_action(job(R, P, P, cancel_requested_at=NOW), TYPE, NOW) == Finish("cancelled", 0)


def test_an_irrevocable_job_runs_on_despite_a_recorded_request():
    assert next_action(job(S, S, P, cancel_requested_at=NOW, irrevocable=True), TYPE, NOW) == RunStep(2)


def test_a_job_created_with_other_steps_fails_instead_of_guessing():
    record = job(S, P, P)
    renamed = dataclasses.replace(record, steps=(dataclasses.replace(record.steps[0], name="old"), *record.steps[1:]))
    decision = next_action(renamed, TYPE, NOW)
    assert isinstance(decision, Finish)
    assert decision.state == "failed"
    assert "['old', 'commit', 'cleanup']" in (decision.error or "")


POLICY = Policy(deadline=60, initial=2, maximum=20, jitter=0)
RETRIED = Step("fetch", noop, title="Fetch", retry=POLICY)


@pytest.mark.parametrize(("attempts", "delay"), [(1, 2), (2, 4), (3, 8), (4, 16), (5, 20), (9, 20)])
def test_temporary_errors_back_off_exponentially_up_to_the_maximum(attempts: int, delay: float):
    record = step(0, R, attempts=attempts, first_started_at=NOW - dt.timedelta(seconds=1))
    verdict = after_temporary_error(RETRIED, record, TemporaryError("busy"), NOW, random.Random(1))
    assert verdict == Retry(NOW + dt.timedelta(seconds=delay))


def test_a_retry_after_hint_stretches_the_delay():
    record = step(0, R, attempts=1, first_started_at=NOW)
    verdict = after_temporary_error(RETRIED, record, TemporaryError("throttled", retry_after=30), NOW, random.Random())
    assert verdict == Retry(NOW + dt.timedelta(seconds=30))


def test_past_the_deadline_the_step_gives_up_with_the_error_and_its_remedy():
    record = step(0, R, attempts=6, first_started_at=NOW - dt.timedelta(seconds=50))
    verdict = after_temporary_error(
        RETRIED, record, TemporaryError("vCenter did not answer", remedy="check the network"), NOW, random.Random()
    )
    assert verdict == GiveUp(
        error="Fetch: vCenter did not answer (gave up after 6 attempts in 50 s)", remedy="check the network"
    )


def test_jitter_stays_within_the_declared_bound():
    policy = Step("fetch", noop, retry=Policy(deadline=600, initial=1, maximum=100, jitter=0.5))
    record = step(0, R, attempts=1, first_started_at=NOW)
    delays = {
        (after_temporary_error(policy, record, TemporaryError("x"), NOW, random.Random(seed)).at - NOW).total_seconds()  # type: ignore[union-attr]
        for seed in range(20)
    }
    assert len(delays) > 1
    assert all(1.0 <= delay <= 1.5 for delay in delays)
