"""The failback cycle on one lab, VMs back to their original location: reprotect with a delta-only checksum resync,
unplanned failovers to every kind of point (each checked against the oracle, then cancelled), a planned failover
after those cancels, commit and reprotect back. Real agents, the vSphere simulator, the local Azure endpoint.

The tests run in order on one lab (each failover ends with a cancel that puts the items back to replicating).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.agents import PairState
from tests.workflows_e2e.support import LabDriver, lab_up

# The first test of the module also brings the lab up and reprotects (a few minutes on a busy 2-core machine).
pytestmark = [pytest.mark.vcsim, pytest.mark.slow, pytest.mark.timeout(900)]

_BLOCK = 4096


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, vcsim_binary: Path) -> Iterator[LabDriver]:
    with lab_up(tmp_path_factory.mktemp("original") / "lab") as driver:
        driver.apply_plan()
        yield driver


@pytest.fixture(scope="module")
def reprotected(lab: LabDriver) -> dict[str, Any]:
    """The reprotect job, and per source disk what it had to send: the bytes (in 4 KiB blocks) where the
    on-premises VMDK differs from the source just before, and the change-log position of the newest bookmark
    before that (every byte written since lies beyond it)."""
    before: dict[str, tuple[int, int]] = {}
    for vm in lab.record.vms:
        marks = lab.bookmarks(vm["name"])
        for disk in vm["disks"]:
            position = int(marks[-1]["disks"][disk["disk_id"]]["position"]) if marks else 0
            before[disk["disk_id"]] = (_differing_bytes(disk["source"], disk["onprem_file"]), position)
    return {"job": lab.run("reprotect"), "before": before}


def _differing_bytes(source: str, copy: str) -> int:
    count = 0
    with open(source, "rb") as left, open(copy, "rb") as right:
        while block := left.read(_BLOCK):
            count += block != right.read(_BLOCK)
    return count * _BLOCK


def _nonzero_bytes(path: str) -> int:
    zero = bytes(_BLOCK)
    count = 0
    with open(path, "rb") as disk:
        while block := disk.read(_BLOCK):
            count += block != zero[: len(block)]
    return count * _BLOCK


def _point(lab: LabDriver, item: str) -> str | None:
    points = {where["id"] for where in lab.items()[item]["record"]["point"].values()}
    assert len(points) == 1, f"the disks of {item} are at different points: {points}"
    return points.pop()


def _time(lab: LabDriver, pair_id: str, point_id: str) -> float:
    return next(p.time for p in lab.mt.points(pair_id) if p.id == point_id)


def _attestation(lab: LabDriver, item: str) -> list[dict[str, Any]]:
    return list(lab.items()[item]["record"]["attestation"].values())


def _cancel(lab: LabDriver, *items: str) -> None:
    lab.run("cancel", *items)
    for item in items:
        assert lab.items()[item]["state"] == "replicating"
        for disk in lab.pairs(item):
            target = lab.mt.pair(disk["pair_id"])
            assert target is not None
            assert target.state is PairState.REPLICATING


def test_reprotect_to_the_original_location_sends_only_the_blocks_that_changed(lab: LabDriver, reprotected):
    items = lab.items()
    assert {name: (i["state"], i["record"]["location"]) for name, i in items.items()} == dict.fromkeys(
        ("web01", "app01", "db01"), ("replicating", "original")
    )
    sources = {d["disk_id"]: d["source"] for vm in lab.record.vms for d in vm["disks"]}
    for name in items:
        for disk in lab.pairs(name):
            target = lab.mt.pair(disk["pair_id"])  # first: the sender's counters only grow after it
            source = lab.ps.pair(disk["pair_id"])
            assert source is not None
            assert target is not None
            assert source.state is PairState.REPLICATING
            # Delta only: at least every block that differed before the reprotect; at most those plus what the
            # workload wrote since (the change log's growth, record headers included) twice over - a block written
            # after the pair was made and before the scan reached it is sent by the scan and again from the log.
            differing, position = reprotected["before"][disk["source_id"]]
            written = source.log_durable_position - position
            sent = source.plain_bytes_sent
            assert 0 < differing <= sent <= differing + 2 * written, (disk["source_id"], differing, sent, written)
            # A full copy would send every block holding data.
            assert sent < _nonzero_bytes(sources[disk["source_id"]]) / 4
            assert 0 < target.bytes_received <= source.plain_bytes_sent


def test_an_unplanned_failover_to_latest_of_a_drained_vm_holds_what_it_last_wrote(lab: LabDriver, reprotected):
    lab.stop_azure_vm("app01")
    lab.wait_drained("app01")
    lab.run("failover", "app01", kind="unplanned", point="latest")
    assert _point(lab, "app01") is None
    (attested,) = _attestation(lab, "app01")
    assert attested["verdict"] == "match", attested
    last = lab.bookmarks("app01")[-1]
    assert last["tag"] == "shutdown"
    assert lab.oracle_mismatches("app01", last["id"]) == []
    _cancel(lab, "app01")
    assert lab.azure_power("app01") == "running"


def test_an_unplanned_failover_to_latest_app_lands_every_disk_on_one_app_point(lab: LabDriver, reprotected):
    lab.wait_for_point("web01", kind="app")
    lab.run("failover", "web01", kind="unplanned", point="latest-app")
    point = _point(lab, "web01")
    assert point is not None
    line = next(b for b in lab.bookmarks("web01") if b["id"] == point)
    assert line["kind"] == "app"
    assert lab.oracle_mismatches("web01", point) == []
    # The source is attested only where it still is what it was at the point: at its last bookmark (the shutdown's,
    # when it reached the master target before the failover chose); any earlier point cannot be attested.
    expected = "match" if point == lab.bookmarks("web01")[-1]["id"] else "unverified"
    assert {a["verdict"] for a in _attestation(lab, "web01")} == {expected}
    _cancel(lab, "web01")


def test_an_unplanned_failover_of_the_group_to_latest_group_lands_every_vm_on_one_multi_vm_point(
    lab: LabDriver, reprotected
):
    group = lab.items()["web01"]["record"]["group"]
    for item in ("web01", "app01", "db01"):
        lab.wait_for_point(item, group=group)
    lab.run("failover", kind="unplanned", point="latest-group")
    points = {item: _point(lab, item) for item in ("web01", "app01", "db01")}
    assert len(set(points.values())) == 1, points
    point = points["web01"]
    assert point is not None
    assert point.startswith(group)
    for item in points:
        assert lab.oracle_mismatches(item, point) == []
    _cancel(lab, "web01", "app01", "db01")


def test_an_unplanned_failover_to_a_custom_point_id_lands_on_that_bookmark(lab: LabDriver, reprotected):
    (disk,) = lab.pairs("db01")
    first = lab.wait_for_point("db01", kind="app")
    # A newer one too, so that the chosen point is not the newest (where 'latest-app' would land anyway).
    newest = lab.wait_for_point("db01", kind="app", after=_time(lab, disk["pair_id"], first))
    older = [p for p in lab.mt.points(disk["pair_id"]) if p.kind == "app" and p.id != newest]
    assert older, "db01 holds a single application-consistent point"
    chosen = older[-1].id
    lab.run("failover", "db01", kind="unplanned", point="custom", point_id=chosen)
    assert _point(lab, "db01") == chosen
    assert lab.oracle_mismatches("db01", chosen) == []
    (attested,) = _attestation(lab, "db01")
    assert attested["verdict"] == "unverified"
    assert "written" in attested["reason"]
    _cancel(lab, "db01")


def test_an_unplanned_failover_to_a_custom_time_lands_on_the_newest_point_before_it(lab: LabDriver, reprotected):
    (disk,) = lab.pairs("app01")
    app = lab.wait_for_point("app01", kind="app")
    lab.wait_for_point("app01", after=_time(lab, disk["pair_id"], app))
    points = lab.mt.points(disk["pair_id"])
    assert len(points) >= 2
    before, after = points[-2], points[-1]
    moment = (before.time + after.time) / 2
    lab.run("failover", "app01", kind="unplanned", point="custom", point_time=moment)
    assert _point(lab, "app01") == before.id
    assert lab.oracle_mismatches("app01", before.id) == []
    _cancel(lab, "app01")


def test_after_cancels_a_planned_failover_of_the_plan_attests_every_disk_and_boots_in_order(
    lab: LabDriver, reprotected
):
    document = lab.run("failover", kind="planned", point="latest-app")
    outputs = {step["name"]: step["output"] for step in document["steps"]}
    assert outputs["power-on"]["boot_groups"] == [1, 2, 3]
    assert sorted(outputs["customize"]["customized"]) == ["app01", "db01", "web01"]
    for item in ("web01", "app01", "db01"):
        record = lab.items()[item]["record"]
        assert lab.items()[item]["state"] == "failed-over"
        point = _point(lab, item)
        last = lab.bookmarks(item)[-1]
        assert (point, last["tag"]) == (last["id"], "shutdown")
        assert {a["verdict"] for a in _attestation(lab, item)} == {"match"}
        assert lab.oracle_mismatches(item, last["id"]) == []
        vm = lab.vcenter_vm(record["vm"])
        assert vm.power_state.value == "poweredOn"
        assert [ip.address for nic in vm.nics for ip in nic.guest_ips] == [record["static_ips"][0]["address"]]


def test_commit_ends_the_rollback_window_and_closes_the_generation(lab: LabDriver, reprotected):
    lab.run("commit")
    for item in ("web01", "app01", "db01"):
        assert lab.items()[item]["state"] == "committed"
        record = lab.items()[item]["record"]
        assert [s.name for s in lab.vcenter_vm(record["vm"]).snapshots] == []
        for disk in lab.pairs(item):
            target = lab.mt.pair(disk["pair_id"])
            assert target is not None
            assert target.state is PairState.COMMITTED


def test_reprotect_back_hands_the_vms_to_asr_and_releases_every_pair(lab: LabDriver, reprotected):
    lab.run("reprotect-back", asr_process_server=lab.asr_process_server, asr_policy="lab-24h")
    for item in ("web01", "app01", "db01"):
        assert lab.items()[item]["state"] == "protected-to-azure"
        for disk in lab.pairs(item):
            assert lab.mt.pair(disk["pair_id"]) is None
            assert lab.ps.pair(disk["pair_id"]) is None
        assert lab.asr_state(item) == ("Protected", "Primary", "InMageAzureV2")
