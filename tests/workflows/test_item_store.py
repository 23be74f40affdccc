"""Protected items change state only by conditional updates: a second concurrent workflow on an item fails at the
database before any work (T25 and cinder's rule), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from controller.store import Database, ItemClaim, JobStore, ProtectionStore, StepSpec, TransitionRefused
from controller.workflows._states import WORKFLOWS, ItemState
from tests.store.conftest import database, make_database

__all__ = ["database", "make_database"]

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
SETTLED = frozenset({ItemState.FAILED_OVER_TO_AZURE, ItemState.NOT_ELIGIBLE, ItemState.PROTECTED_TO_AZURE})


def claim_of(name: str) -> ItemClaim:
    w = WORKFLOWS[name]
    return ItemClaim(w.name, frozenset(w.starts_from), w.during)


def job(jobs: JobStore, subject: str) -> int:
    return jobs.submit(
        type="t", params={}, steps=[StepSpec("s", "s")], created_by="operator/t", now=NOW, subject=subject
    ).id


def seeded(database: Database, *states: str) -> ProtectionStore:
    store = ProtectionStore(database)
    store.import_items(
        "v",
        [(f"v:item-{i}", f"vm{i}", "PG1_Failback", ItemState.FAILED_OVER_TO_AZURE, {}) for i in range(len(states))],
        settled=SETTLED,
        now=NOW,
    )
    # Put each item in the state the test wants, as a finished job would have left it.
    jobs = JobStore(database)
    for i, state in enumerate(states):
        if state != ItemState.FAILED_OVER_TO_AZURE:
            holder = job(jobs, f"setup-{i}")
            store.claim([f"v:item-{i}"], claim_of("reprotect"), job_id=holder, now=NOW)
            store.release([f"v:item-{i}"], job_id=holder, during=ItemState.REPROTECTING, state=state, now=NOW)
    return store


def test_a_claim_moves_every_item_and_names_its_job(database: Database):
    store = seeded(database, ItemState.REPLICATING, ItemState.REPLICATING)
    holder = job(JobStore(database), "plan:p")
    rows = store.claim(["v:item-0", "v:item-1"], claim_of("failover"), job_id=holder, now=NOW)
    assert {(r.state, r.job_id) for r in rows} == {(ItemState.FAILING_OVER, holder)}


def test_a_second_failover_of_a_held_item_is_refused_at_the_database(database: Database):
    store = seeded(database, ItemState.REPLICATING)
    jobs = JobStore(database)
    first, second = job(jobs, "item:a"), job(jobs, "plan:p")
    store.claim(["v:item-0"], claim_of("failover"), job_id=first, now=NOW)
    with pytest.raises(TransitionRefused, match=f"job {first}"):
        store.claim(["v:item-0"], claim_of("failover"), job_id=second, now=NOW)
    assert store.item("v:item-0").job_id == first


def test_a_claim_is_all_or_nothing(database: Database):
    store = seeded(database, ItemState.REPLICATING, ItemState.FAILED_OVER_TO_AZURE)
    holder = job(JobStore(database), "plan:p")
    with pytest.raises(TransitionRefused, match="vm1"):
        store.claim(["v:item-0", "v:item-1"], claim_of("failover"), job_id=holder, now=NOW)
    assert store.item("v:item-0").state == ItemState.REPLICATING
    assert store.item("v:item-0").job_id is None


def test_the_holder_may_claim_again_after_a_crash(database: Database):
    store = seeded(database, ItemState.REPLICATING)
    holder = job(JobStore(database), "plan:p")
    store.claim(["v:item-0"], claim_of("failover"), job_id=holder, now=NOW)
    assert store.claim(["v:item-0"], claim_of("failover"), job_id=holder, now=NOW)[0].job_id == holder


def test_an_item_left_by_a_finished_job_may_be_resumed_or_rolled_back(database: Database):
    store = seeded(database, ItemState.REPLICATING)
    jobs = JobStore(database)
    failed = jobs.submit(type="t", params={}, steps=[StepSpec("s", "s")], created_by="o/t", now=NOW)
    store.claim(["v:item-0"], claim_of("failover"), job_id=failed.id, now=NOW)
    lease = jobs.claim(failed.id, owner="r/1", replica="r", ttl=dt.timedelta(seconds=30), now=NOW)
    assert lease is not None
    jobs.fail(lease, 0, error="boom", remedy=None, now=NOW)
    rollback = job(jobs, "item:x")
    assert store.claim(["v:item-0"], claim_of("cancel"), job_id=rollback, now=NOW)[0].state == ItemState.CANCELLING


def test_wrong_state_is_refused_with_where_the_item_stands(database: Database):
    store = seeded(database, ItemState.FAILED_OVER_TO_AZURE)
    holder = job(JobStore(database), "item:a")
    with pytest.raises(TransitionRefused, match="failed-over-to-azure"):
        store.claim(["v:item-0"], claim_of("commit"), job_id=holder, now=NOW)


def test_only_the_holder_records_and_releases(database: Database):
    store = seeded(database, ItemState.REPLICATING)
    jobs = JobStore(database)
    holder, other = job(jobs, "a"), job(jobs, "b")
    store.claim(["v:item-0"], claim_of("failover"), job_id=holder, now=NOW)
    with pytest.raises(TransitionRefused):
        store.record("v:item-0", job_id=other, record={"x": 1}, now=NOW)
    store.record("v:item-0", job_id=holder, record={"x": 1}, now=NOW)
    store.release(["v:item-0"], job_id=other, during=ItemState.FAILING_OVER, state=ItemState.FAILED_OVER, now=NOW)
    assert store.item("v:item-0").state == ItemState.FAILING_OVER
    store.release(["v:item-0"], job_id=holder, during=ItemState.FAILING_OVER, state=ItemState.FAILED_OVER, now=NOW)
    row = store.item("v:item-0")
    assert (row.state, row.job_id, row.record) == (ItemState.FAILED_OVER, None, {"x": 1})


def test_concurrent_failovers_of_one_item_let_exactly_one_win(make_database):
    database = make_database()
    store = seeded(database, ItemState.REPLICATING)
    jobs = JobStore(database)
    holders = [job(jobs, f"j{i}") for i in range(8)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(holders))

    def attempt(holder: int) -> None:
        barrier.wait()
        try:
            store.claim(["v:item-0"], claim_of("failover"), job_id=holder, now=NOW)
            outcomes.append("won")
        except TransitionRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(h,)) for h in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["won"]


def test_an_import_never_disturbs_an_item_in_a_workflow(database: Database):
    store = seeded(database, ItemState.REPLICATING, ItemState.FAILED_OVER_TO_AZURE)
    store.import_items(
        "v",
        [
            ("v:item-0", "vm0", "PG1_Failback", ItemState.NOT_ELIGIBLE, {"fresh": True}),
            ("v:item-1", "vm1", "PG1_Failback", ItemState.NOT_ELIGIBLE, {"fresh": True}),
        ],
        settled=SETTLED,
        now=NOW,
    )
    assert store.item("v:item-0").state == ItemState.REPLICATING
    assert store.item("v:item-0").asr == {"fresh": True}
    assert store.item("v:item-1").state == ItemState.NOT_ELIGIBLE
