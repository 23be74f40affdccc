"""Holding a VM's disk at a test point and the workflows never fight: the VM moves to point-test only from
replicating and only when no job holds it, and no workflow starts from point-test (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from controller.points import PairDirectory, UnknownPair
from controller.store import Database, ItemClaim, JobStore, ProtectionStore, StepSpec, TransitionRefused
from controller.workflows import WORKFLOWS, ItemState
from tests.store.conftest import database, make_database

__all__ = ["database", "make_database"]

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
SETTLED = frozenset({ItemState.FAILED_OVER_TO_AZURE, ItemState.NOT_ELIGIBLE, ItemState.PROTECTED_TO_AZURE})
MAY_HOLD = frozenset({ItemState.REPLICATING.value, ItemState.POINT_TEST.value})
RECORD = {
    "master_target": "mt-1",
    "generation": 2,
    "group": "pg1",
    "disks": [
        {"pair_id": "fb-a-0", "source_id": "src-0", "disk_id": "naa.6000c290", "capacity_bytes": 4096},
        {"pair_id": "fb-a-1", "source_id": "src-1", "disk_id": "naa.6000c291", "capacity_bytes": 8192},
    ],
}


def claim_of(name: str) -> ItemClaim:
    flow = WORKFLOWS[name]
    return ItemClaim(flow.name, frozenset(flow.starts_from), flow.during)


def new_job(jobs: JobStore, subject: str) -> int:
    return jobs.submit(
        type="t", params={}, steps=[StepSpec("s", "s")], created_by="operator/t", now=NOW, subject=subject
    ).id


def replicating(database: Database) -> ProtectionStore:
    """One item ``vm0``, reprotected by a finished job with RECORD as its record."""
    store = ProtectionStore(database)
    store.import_items("v", [("v:a", "vm0", "PG1", ItemState.FAILED_OVER_TO_AZURE, {})], settled=SETTLED, now=NOW)
    jobs = JobStore(database)
    holder = new_job(jobs, "setup")
    store.claim(["v:a"], claim_of("reprotect"), job_id=holder, now=NOW)
    store.record("v:a", job_id=holder, record=RECORD, now=NOW)
    store.release(["v:a"], job_id=holder, during=ItemState.REPROTECTING, state=ItemState.REPLICATING, now=NOW)
    return store


def test_a_replicating_vm_moves_to_point_test_and_back_without_a_job(database: Database):
    store = replicating(database)
    held = store.move("v:a", expected=MAY_HOLD, state=ItemState.POINT_TEST, now=NOW)
    assert (held.state, held.job_id) == (ItemState.POINT_TEST, None)
    back = store.move("v:a", expected=MAY_HOLD, state=ItemState.REPLICATING, now=NOW)
    assert back.state == ItemState.REPLICATING


def test_no_workflow_starts_on_a_vm_held_at_a_test_point(database: Database):
    store = replicating(database)
    store.move("v:a", expected=MAY_HOLD, state=ItemState.POINT_TEST, now=NOW)
    failover = new_job(JobStore(database), "item:vm0")
    with pytest.raises(TransitionRefused, match="it is point-test"):
        store.claim(["v:a"], claim_of("failover"), job_id=failover, now=NOW)
    assert store.item("v:a").state == ItemState.POINT_TEST


HELD = frozenset({ItemState.POINT_TEST.value})


def test_a_workflow_on_a_vm_held_at_a_test_point_is_refused_before_it_is_submitted(database: Database):
    store = replicating(database)
    store.move("v:a", expected=MAY_HOLD, state=ItemState.POINT_TEST, now=NOW)
    with pytest.raises(TransitionRefused, match="failover of vm0 refused: it is point-test"):
        store.refuse_held(["v:a"], claim_of("failover"), HELD)
    row = store.item("v:a")
    assert (row.state, row.job_id) == (ItemState.POINT_TEST, None)
    store.move("v:a", expected=MAY_HOLD, state=ItemState.REPLICATING, now=NOW)
    store.refuse_held(["v:a"], claim_of("failover"), HELD)
    # Any other state is the claim's to judge (and the doctor's before it): commit does not start from replicating.
    store.refuse_held(["v:a"], claim_of("commit"), HELD)


def test_a_vm_a_running_workflow_holds_cannot_be_moved_to_point_test(database: Database):
    store = replicating(database)
    failover = new_job(JobStore(database), "item:vm0")
    store.claim(["v:a"], claim_of("failover"), job_id=failover, now=NOW)
    with pytest.raises(TransitionRefused, match=f"job {failover}"):
        store.move("v:a", expected=MAY_HOLD, state=ItemState.POINT_TEST, now=NOW)
    row = store.item("v:a")
    assert (row.state, row.job_id) == (ItemState.FAILING_OVER, failover)


def test_the_directory_finds_each_pair_of_a_vm_from_its_record(database: Database):
    directory = PairDirectory(replicating(database))
    pairs = directory.vm("vm0")
    assert [(p.pair_id, p.disk_index, p.master_target, p.generation, p.group) for p in pairs] == [
        ("fb-a-0", 0, "mt-1", 2, "pg1"),
        ("fb-a-1", 1, "mt-1", 2, "pg1"),
    ]
    assert directory.pair("fb-a-1").target_disk_id == "naa.6000c291"
    with pytest.raises(UnknownPair, match="no protected VM has a replication pair 'fb-b-0'"):
        directory.pair("fb-b-0")


def test_a_master_targets_address_comes_from_the_most_recently_applied_plan(database: Database):
    store = replicating(database)
    directory = PairDirectory(store)
    agents = [{"name": "mt-1", "role": "master-target", "address": "10.0.0.1:9443", "vm": "u"}]
    store.save_plan("old", source="file", vault="v", document={"agents": agents}, now=NOW)
    moved = [{**agents[0], "address": "10.0.0.2:9443"}]
    store.save_plan("new", source="file", vault="v", document={"agents": moved}, now=NOW + dt.timedelta(hours=1))
    assert directory.address("mt-1") == "10.0.0.2:9443"
