"""T25: the controller SIGKILLed at every step boundary of reprotect and failover resumes, and never fails over twice.

One job per workflow walks every boundary its job type declares (``_boundaries``): the controller is started with
``FAILBACK_CRASH_AT`` set to the first boundary and kills itself there (SIGKILL, no cleanup); the test restarts it
on its recorded ports set to die at the next boundary, and so on to the last; then it runs without the seam and the
job must finish. So every step runs, dies after its effect and before its record ("ran"), runs again (resumed), and
dies just after its record ("recorded").

Judged at each boundary from the job's records at rest (read from the dead controller's database) and from the
parts' own state: the simulator's event history (power-ons, disks attached, with the spec it was given), the vault's
job list, the master target's pairs and the failover intents its journal recorded. At the end: the job succeeded,
every effect that must happen once happened once, and the on-premises disk equals the lab's oracle at the point.
Then the failover is cancelled, which must roll the item back to replication cleanly.

One VM (app01, one 64 MiB disk) to keep the run short; the other lab VMs stay untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.dataplane import disk_digest
from controller.agents import PairState
from controller.store import JobRecord, StepState
from lab.world import status
from tests.workflows_crash._boundaries import Boundary, boundaries
from tests.workflows_crash._site import Site

pytestmark = [pytest.mark.vcsim, pytest.mark.slow, pytest.mark.timeout(1200)]

ITEM = "app01"
REPROTECT = boundaries("reprotect")
FAILOVER = boundaries("failover")
FAILOVER_OPTIONS = {"kind": "planned", "point": "latest-app"}
# Where a failover is most exposed: the vault has failed over and the disks have left the master target, but no VM
# holds them yet.
ROLLBACK_AT = next(b for b in FAILOVER if (b.step, b.phase) == ("release-disks", "ran"))


class Walk:
    """One job driven through every boundary of its type, in order; tests ask for a boundary and get the job's
    records as the controller left them when it died there."""

    def __init__(self, site: Site, workflow: str, options: dict[str, Any]) -> None:
        self.site = site
        self.workflow = workflow
        self.options = options
        self.boundaries = boundaries(workflow)
        self.crashed: list[Boundary] = []
        self.job_id: int | None = None
        self.first_event = 0
        self.document: dict[str, Any] | None = None

    def to(self, boundary: Boundary) -> JobRecord:
        target = self.boundaries.index(boundary)
        assert len(self.crashed) <= target, f"{boundary} was passed already"
        while len(self.crashed) <= target:
            upcoming = self.boundaries[len(self.crashed)]
            self.site.restart_controller(upcoming.env)
            if self.job_id is None:
                self.first_event = self.site.last_event_key()
                self.job_id = self.site.start(self.workflow, [ITEM], self.options)
            self.site.wait_crash(self.job_id)
            self.crashed.append(upcoming)
        assert self.job_id is not None
        return self.site.job_at_rest(self.job_id)

    def finish(self) -> dict[str, Any]:
        if self.document is None:
            if len(self.crashed) < len(self.boundaries):
                self.to(self.boundaries[-1])
            assert self.job_id is not None
            self.site.restart_controller()
            self.document = self.site.wait_finished(self.job_id)
        return self.document


@pytest.fixture(scope="module")
def reprotect(site: Site) -> Walk:
    return Walk(site, "reprotect", {})


@pytest.fixture(scope="module")
def failover(site: Site, reprotect: Walk) -> Walk:
    assert reprotect.finish()["state"] == "succeeded", "the failover walk needs the item reprotected"
    return Walk(site, "failover", FAILOVER_OPTIONS)


@pytest.fixture(scope="module")
def journal(site: Site, reprotect: Walk) -> Path:
    """The master target's journal of the item's pair (read while the controller is up: it is down at a boundary)."""
    assert reprotect.finish()["state"] == "succeeded"
    record = site.item(ITEM)["record"]
    return Path(record["retention_dir"], record["disks"][0]["pair_id"])


def _died_exactly_at(job: JobRecord, boundary: Boundary) -> None:
    """The job stopped where the seam killed the controller: every earlier step done, this one running ("ran") or
    done ("recorded"), no later step started, the job not finished."""
    assert job.finished_at is None, f"job {job.id} finished ({job.state}: {job.error})"
    names = [step.name for step in job.steps]
    position = names.index(boundary.step)
    assert [s.name for s in job.steps[:position] if s.state != StepState.SUCCEEDED] == []
    expected = StepState.RUNNING if boundary.phase == "ran" else StepState.SUCCEEDED
    assert job.steps[position].state == expected
    assert [s.name for s in job.steps[position + 1 :] if s.state != StepState.PENDING] == []


def _disk(site: Site) -> dict[str, Any]:
    vm = next(v for v in site.record.vms if v["name"] == ITEM)
    assert len(vm["disks"]) == 1
    disk: dict[str, Any] = vm["disks"][0]
    return disk


def _never_twice(site: Site, walk: Walk) -> None:
    """What must happen at most once per workflow, from the simulator's and the vault's own records."""
    disk_file = _disk(site)["file_name"]
    since = walk.first_event
    attached = site.disks_added("mt-lab", after=since) + site.disks_added(ITEM, after=since)
    assert attached.count(disk_file) <= 1, f"{disk_file} attached {attached.count(disk_file)} times"
    assert site.power_ons(ITEM, after=since) <= 1
    scenarios = [job.scenario for job in site.asr_jobs(ITEM)]
    assert scenarios.count("Reprotect") <= 1, scenarios
    assert scenarios.count("UnplannedFailover") <= 1, scenarios


# -- reprotect --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("boundary", REPROTECT, ids=str)
def test_reprotect_killed_at_the_boundary_stops_there_and_has_done_nothing_twice(
    site: Site, reprotect: Walk, boundary: Boundary
) -> None:
    job = reprotect.to(boundary)
    _died_exactly_at(job, boundary)
    _never_twice(site, reprotect)


def test_reprotect_resumes_after_every_kill_to_replication_with_one_generation_and_one_asr_reprotect(
    site: Site, reprotect: Walk
) -> None:
    document = reprotect.finish()
    assert document["state"] == "succeeded", document["error"]
    # Each step ran again after the kill between its effect and its record: a kill that missed would leave 1.
    assert {s["name"]: s["attempts"] >= 2 for s in document["steps"]} == {s.step: True for s in REPROTECT}
    item = site.item(ITEM)
    assert item["state"] == "replicating"
    disk = item["record"]["disks"][0]
    assert site.disks_added("mt-lab", after=reprotect.first_event) == [_disk(site)["file_name"]]
    assert site.disks_added(ITEM, after=reprotect.first_event) == []
    assert site.power_ons(ITEM, after=reprotect.first_event) == 0
    target, source = site.mt.pair(disk["pair_id"]), site.ps.pair(disk["pair_id"])
    assert target is not None
    assert source is not None
    assert (target.pair.generation, source.pair.generation, item["record"]["generation"]) == (1, 1, 1)
    assert (target.state, source.state) == (PairState.REPLICATING, PairState.REPLICATING)
    asr = site.asr_jobs(ITEM)
    assert [(j.scenario, j.state) for j in asr] == [("Reprotect", "Succeeded")]
    assert site.azure_state()["items"][ITEM] == "Protected"


# -- failover ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("boundary", FAILOVER, ids=str)
def test_failover_killed_at_the_boundary_stops_there_and_has_done_nothing_twice(
    site: Site, failover: Walk, journal: Path, boundary: Boundary
) -> None:
    job = failover.to(boundary)
    _died_exactly_at(job, boundary)
    _never_twice(site, failover)
    intents = site.failover_intents(journal)
    assert [i["phase"] for i in intents if i is not None].count("done") <= 1, intents


def test_failover_resumes_after_every_kill_and_fails_over_once_to_the_oracle(site: Site, failover: Walk) -> None:
    document = failover.finish()
    assert document["state"] == "succeeded", document["error"]
    assert {s["name"]: s["attempts"] >= 2 for s in document["steps"]} == {s.step: True for s in FAILOVER}
    item = site.item(ITEM)
    assert item["state"] == "failed-over"
    record = item["record"]
    disk = record["disks"][0]
    since = failover.first_event
    # Once each: the disk attached to the VM, the VM powered on, one rollback snapshot, one ASR failover.
    assert site.disks_added(ITEM, after=since) == [_disk(site)["file_name"]]
    assert site.disks_added("mt-lab", after=since) == []
    assert site.power_ons(ITEM, after=since) == 1
    assert site.snapshots(ITEM) == ["failback-rollback"]
    assert [(j.scenario, j.state) for j in site.asr_jobs(ITEM)] == [
        ("Reprotect", "Succeeded"),
        ("UnplannedFailover", "Succeeded"),
    ]
    expected = ("UnplannedFailoverCommitPendingStatesBegin", "stopped")
    assert site.azure_settled(ITEM, expected) == expected
    # One bring-to-point on the master target, durably recorded by its journal, to the point the job recorded.
    point = record["point"][disk["pair_id"]]["id"]
    intents = site.failover_intents(Path(record["retention_dir"]) / disk["pair_id"])
    assert intents == [
        {"phase": "saving", "point": point},
        {"phase": "restoring", "point": point},
        {"phase": "done", "point": point},
    ]
    target = site.mt.pair(disk["pair_id"])
    assert target is not None
    assert target.state is PairState.AT_POINT
    # The oracle: the on-premises VMDK holds exactly what the source held at that bookmark.
    vm = next(v for v in status(site.layout)["vms"] if v["name"] == ITEM)
    bookmark = next(b for b in vm["bookmarks"] if b["id"] == point)
    onprem = vm["onprem"]["disks"][0]
    assert onprem["attached_to"] == ITEM
    expected = bookmark["disks"][onprem["disk_id"]]["digest"]
    assert disk_digest(onprem["path"], onprem["size_bytes"]).hex() == expected


def test_the_failover_rolls_back_cleanly_after_the_kills(site: Site, failover: Walk) -> None:
    assert failover.finish()["state"] == "succeeded"
    document = site.wait_finished(site.start("cancel", [ITEM]))
    assert document["state"] == "succeeded", document["error"]
    item = site.item(ITEM)
    assert item["state"] == "replicating"
    disk = item["record"]["disks"][0]
    target = site.mt.pair(disk["pair_id"])
    assert target is not None
    assert target.state in (PairState.REPLICATING, PairState.RESYNCING)
    vm = next(v for v in status(site.layout)["vms"] if v["name"] == ITEM)
    assert vm["onprem"]["disks"][0]["attached_to"] == "mt-lab"
    assert vm["onprem"]["power_state"] == "poweredOff"
    assert site.snapshots(ITEM) == []
    assert site.azure_settled(ITEM, ("Protected", "running")) == ("Protected", "running")
    # The journal went back to latest once, after the one bring-to-point.
    intents = site.failover_intents(Path(item["record"]["retention_dir"]) / disk["pair_id"])
    phases = [i["phase"] if i is not None else "latest" for i in intents]
    assert phases == ["saving", "restoring", "done", "cancelling", "latest"]


def test_a_failover_killed_with_its_disks_on_no_vm_and_then_cancelled_rolls_back_cleanly(
    site: Site, failover: Walk
) -> None:
    item = site.item(ITEM)
    assert item["state"] == "replicating", "this case starts where the rollback above ends"
    # A failover checks that the pair replicates: give the process server its reconnect after the rollback.
    site.wait_replicating(item["record"]["disks"][0]["pair_id"])
    since = site.last_event_key()
    before = len(site.asr_jobs(ITEM))
    site.restart_controller(ROLLBACK_AT.env)
    job_id = site.start("failover", [ITEM], FAILOVER_OPTIONS)
    site.wait_crash(job_id)
    _died_exactly_at(site.job_at_rest(job_id), ROLLBACK_AT)
    site.request_cancel_at_rest(job_id)
    site.restart_controller()
    assert site.wait_finished(job_id)["state"] == "cancelled"
    assert site.item(ITEM)["state"] == "failing-over"
    document = site.wait_finished(site.start("cancel", [ITEM]))
    assert document["state"] == "succeeded", document["error"]
    item = site.item(ITEM)
    assert item["state"] == "replicating"
    disk = item["record"]["disks"][0]
    target = site.mt.pair(disk["pair_id"])
    assert target is not None
    assert target.state in (PairState.REPLICATING, PairState.RESYNCING)
    assert site.disks_added("mt-lab", after=since) == [_disk(site)["file_name"]]
    assert site.disks_added(ITEM, after=since) == []
    assert site.power_ons(ITEM, after=since) == 0
    vm = next(v for v in status(site.layout)["vms"] if v["name"] == ITEM)
    assert (vm["onprem"]["disks"][0]["attached_to"], vm["onprem"]["power_state"]) == ("mt-lab", "poweredOff")
    assert [(j.scenario, j.state) for j in site.asr_jobs(ITEM)[before:]] == [
        ("UnplannedFailover", "Succeeded"),
        ("CancelFailover", "Succeeded"),
    ]
    assert site.azure_settled(ITEM, ("Protected", "running")) == ("Protected", "running")
    intents = site.failover_intents(Path(item["record"]["retention_dir"]) / disk["pair_id"])
    phases = [i["phase"] if i is not None else "latest" for i in intents]
    assert phases[5:] == ["saving", "restoring", "done", "cancelling", "latest"]
