"""Long-running operations: the SDK's polling protocol under our deadline, failures, lost polls and job waits."""

from __future__ import annotations

import pytest

from controller.azure import ItemRef, RecoveryPointChoice, SiteRecovery, VaultRef
from controller.azure.errors import AzureConflict, OperationFailed, OperationStatusUnknown, OperationTimedOut
from failback.errors import DeadlineExceeded, PermanentError, TemporaryError
from failback.retry import Policy
from lab.azure import Fault, LocalAzure
from tests.azure.conftest import StaticToken, client_config


class FakeTime:
    """A clock that only moves when something sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def db01(endpoint: LocalAzure) -> ItemRef:
    item = next(i for i in endpoint.estate.items if i.friendly_name == "db01")
    return ItemRef(item.fabric, item.container, item.name)


def status_polls(endpoint: LocalAzure) -> int:
    return sum(1 for r in endpoint.requests if "/replicationOperationStatus/" in r.path)


def test_slow_operation_is_polled_until_it_ends(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    endpoint.lro.in_progress_polls = 6
    result = asr.unplanned_failover(db01(endpoint), RecoveryPointChoice.latest_time())
    assert status_polls(endpoint) == 7  # six InProgress answers, then Succeeded
    assert result.item.protection_state == "UnplannedFailoverCommitPendingStatesBegin"
    locations = [r for r in endpoint.requests if "/operationresults/" in r.path]
    assert len(locations) == 1  # the result is read once, from Location, after the end


def test_retry_after_paces_polling_but_never_past_our_deadline(
    vault: VaultRef, credential: StaticToken, endpoint: LocalAzure
) -> None:
    time = FakeTime()
    policy = Policy(deadline=10, clock=time.clock, sleep=time.sleep)
    endpoint.lro.in_progress_polls = 5
    endpoint.lro.retry_after = 4
    with (
        SiteRecovery(vault, credential, config=client_config(endpoint, operation_policy=policy)) as asr,
        pytest.raises(OperationTimedOut),
    ):
        asr.unplanned_failover(db01(endpoint), RecoveryPointChoice.latest_time())
    assert time.sleeps == [4, 4, 2]


def test_never_ending_operation_stops_at_our_deadline_with_its_job_id(
    vault: VaultRef, credential: StaticToken, endpoint: LocalAzure
) -> None:
    time = FakeTime()
    policy = Policy(deadline=30, clock=time.clock, sleep=time.sleep)
    endpoint.lro.hang = True
    config = client_config(endpoint, operation_policy=policy, polling_interval=5)
    with SiteRecovery(vault, credential, config=config) as asr, pytest.raises(OperationTimedOut) as caught:
        asr.unplanned_failover(db01(endpoint), RecoveryPointChoice.latest_time())
    error = caught.value
    assert isinstance(error, DeadlineExceeded)
    assert isinstance(error, TemporaryError)
    assert error.job_id == endpoint.estate.jobs[-1].name
    assert endpoint.estate.jobs[-1].state == "InProgress"
    assert status_polls(endpoint) == 7  # at 0, 5, ..., 30 s: the poll at the deadline is the last
    assert sum(time.sleeps) == 30


def test_operation_that_azure_reports_failed_raises_operation_failed_with_the_job(
    asr: SiteRecovery, endpoint: LocalAzure
) -> None:
    endpoint.lro.in_progress_polls = 2
    endpoint.lro.fail_next("95117", "The master target cannot reach the selected datastore.")
    with pytest.raises(OperationFailed) as caught:
        asr.unplanned_failover(db01(endpoint), RecoveryPointChoice.latest_time())
    error = caught.value
    assert isinstance(error, PermanentError)
    assert error.code == "95117"
    assert "cannot reach the selected datastore" in error.message
    job = endpoint.estate.jobs[-1]
    assert error.job_id == job.name
    assert (job.state, job.errors[0].code) == ("Failed", "95117")
    assert next(i for i in endpoint.estate.items if i.friendly_name == "db01").protection_state == "Protected"


def test_polling_that_breaks_after_acceptance_is_status_unknown_never_a_retryable_failure(
    asr: SiteRecovery, endpoint: LocalAzure
) -> None:
    endpoint.lro.in_progress_polls = 3
    endpoint.inject(Fault(path=r"/replicationOperationStatus/", status=500, times=None))
    with pytest.raises(OperationStatusUnknown) as caught:
        asr.unplanned_failover(db01(endpoint), RecoveryPointChoice.latest_time())
    assert caught.value.job_id == endpoint.estate.jobs[-1].name
    assert caught.value.status == 500
    assert "re-read the item" in (caught.value.remedy or "")


def test_wait_for_job_follows_a_timed_out_operation_to_its_end(
    vault: VaultRef, credential: StaticToken, endpoint: LocalAzure
) -> None:
    time = FakeTime()
    endpoint.lro.hang = True
    policy = Policy(deadline=5, clock=time.clock, sleep=time.sleep)
    config = client_config(endpoint, operation_policy=policy, polling_interval=1)
    with SiteRecovery(vault, credential, config=config) as asr:
        with pytest.raises(OperationTimedOut) as caught:
            asr.unplanned_failover(db01(endpoint), RecoveryPointChoice.latest_time())
        job_id = caught.value.job_id
        assert job_id is not None
        with pytest.raises(DeadlineExceeded):
            asr.wait_for_job(job_id, Policy(deadline=3, clock=time.clock, sleep=time.sleep))
        endpoint.finish_operations()
        job = asr.wait_for_job(job_id, Policy(deadline=60, clock=time.clock, sleep=time.sleep))
        assert (job.name, job.state, job.scenario) == (job_id, "Succeeded", "UnplannedFailover")
        assert asr.get_protected_item(db01(endpoint)).active_location == "Primary"


def test_wait_for_a_failed_job_raises_operation_failed_with_asr_remedy(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    failed = next(j for j in endpoint.estate.jobs if j.state == "Failed")
    with pytest.raises(OperationFailed) as caught:
        asr.wait_for_job(failed.name, Policy(deadline=5))
    assert caught.value.job_id == failed.name
    assert caught.value.code == "95117"
    assert caught.value.remedy == "Choose a datastore the master target's host can access."


def test_second_action_while_a_job_runs_on_the_item_is_a_conflict(
    vault: VaultRef, credential: StaticToken, endpoint: LocalAzure
) -> None:
    time = FakeTime()
    endpoint.lro.hang = True
    policy = Policy(deadline=1, clock=time.clock, sleep=time.sleep)
    config = client_config(endpoint, operation_policy=policy, polling_interval=1)
    with SiteRecovery(vault, credential, config=config) as asr:
        with pytest.raises(OperationTimedOut) as caught:
            asr.unplanned_failover(db01(endpoint), RecoveryPointChoice.latest_time())
        with pytest.raises(AzureConflict) as conflict:
            asr.cancel_failover(db01(endpoint))
    assert conflict.value.status == 409
    assert caught.value.job_id is not None
    assert caught.value.job_id in (conflict.value.remedy or "")


def test_job_id_comes_from_the_location_header_of_the_accepted_request(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    endpoint.lro.in_progress_polls = 1
    operation = asr.unplanned_failover(db01(endpoint), RecoveryPointChoice.latest_tag())
    accepted = [r for r in endpoint.requests if r.method == "POST"]
    assert len(accepted) == 1
    status_ids = {r.path.rsplit("/", 1)[-1] for r in endpoint.requests if "/replicationOperationStatus/" in r.path}
    assert status_ids == {operation.job_id}
    assert operation.job_id == endpoint.estate.jobs[-1].name
