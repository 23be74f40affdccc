"""``failbackctl points`` and ``failbackctl retention`` on a lab, as an operator runs them: a real controller, a real
process server and master target replicating the lab VMs' disks (after a real reprotect), the workloads still
writing. Every claim is checked against the lab's oracle: the digest of each source disk at every bookmark it took.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.dataplane import disk_digest
from failback.diskid import normalize_disk_id
from failback.retry import Policy
from tests.harness import run_cli

# The lab comes up and reprotects in the first test's setup: minutes on a loaded two-core machine.
pytestmark = [pytest.mark.vcsim, pytest.mark.slow, pytest.mark.timeout(900)]

_NEW_POINT = Policy(deadline=90.0, initial=0.5, maximum=2.0, jitter=0.1)


@dataclass(frozen=True)
class Lab:
    directory: Path
    config: str
    status: dict[str, Any]

    def ctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_cli("controller.cli", "--config", self.config, *args, timeout=timeout)

    def json(self, *args: str) -> Any:
        result = self.ctl(*args, "--output", "json")
        assert result.returncode == 0, result.stderr + result.stdout
        return json.loads(result.stdout)

    def oracle(self, vm: str) -> dict[str, dict[str, Any]]:
        """Bookmark id -> the oracle's line (the source disks' digests at that bookmark), read fresh."""
        path = self.directory / "azure" / "vms" / vm / "bookmarks.jsonl"
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return {line["id"]: line for line in lines}

    def disk_file(self, vm: str, disk_id: str) -> tuple[Path, int]:
        """The on-premises disk's extent file (attached to the master target while it replicates) and its size."""
        machine = next(v for v in self.status["vms"] if v["name"] == vm)
        disk = next(d for d in machine["onprem"]["disks"] if normalize_disk_id(d["disk_id"]) == disk_id)
        return Path(disk["path"]), int(disk["size_bytes"])

    def item_state(self, vm: str) -> str:
        items = self.json("items")["items"]
        return str(next(i for i in items if i["name"] == vm)["state"])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, vcsim_binary: Path) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("points") / "lab"
    up = run_cli("controller.cli", "lab", "up", "--dir", str(directory), "--output", "json", timeout=300)
    assert up.returncode == 0, up.stderr
    try:
        status = json.loads(up.stdout)
        running = Lab(directory, status["failbackctl_config"], status)
        applied = running.ctl("plan", "apply", status["plan"])
        assert applied.returncode == 0, applied.stderr
        reprotect = running.ctl("reprotect", "--plan", "lab", "--wait", timeout=300)
        assert reprotect.returncode == 0, reprotect.stderr + reprotect.stdout
        yield running
    finally:
        down = run_cli("controller.cli", "lab", "down", "--dir", str(directory), timeout=300)
        assert down.returncode == 0, down.stderr


def _pair(lab: Lab, vm: str, index: int = 0) -> dict[str, Any]:
    pairs = lab.json("points", "list", "--vm", vm)["pairs"]
    return next(p for p in pairs if p["pair"]["disk_index"] == index)


def _wait_for_app_point_after(lab: Lab, pair_id: str, seq: int) -> dict[str, Any]:
    def newer() -> dict[str, Any] | None:
        points = lab.json("points", "list", "--pair", pair_id, "--kind", "app")["pairs"][0]["points"]
        fresh = [p for p in points if p["seq"] > seq and not p["pending"]]
        return fresh[-1] if fresh else None

    found: dict[str, Any] = _NEW_POINT.wait_for(newer, what=f"a new application-consistent point of {pair_id}")
    return found


def _digest_at(lab: Lab, vm: str, disk_id: str) -> str:
    path, size = lab.disk_file(vm, disk_id)
    return disk_digest(path, size).hex()


def _oracle_digest(lab: Lab, vm: str, bookmark: str, disk_id: str) -> str:
    line = lab.oracle(vm)[bookmark]
    disks = {normalize_disk_id(d): v for d, v in line["disks"].items()}
    return str(disks[disk_id]["digest"])


def _app_points_past_the_resync(lab: Lab, vm: str) -> list[dict[str, Any]]:
    """The VM's pairs with their application points, once every pair holds one a while after its resync and
    before its newest (the window the test compares with the oracle).

    The reprotect ends as soon as the resync is complete: the workload's next application bookmark (every few
    seconds) reaches the master target only after that, so right then a pair has no application point yet."""

    def ready() -> list[dict[str, Any]] | None:
        listed: list[dict[str, Any]] = lab.json("points", "list", "--vm", vm, "--kind", "app")["pairs"]
        everything = lab.json("points", "list", "--vm", vm)["pairs"]
        for pair, full in zip(listed, everything, strict=True):
            resynced = next(p["timestamp"] for p in full["points"] if p["kind"] == "resync-complete")
            times = [p["timestamp"] for p in pair["points"] if not p["pending"]]
            if not any(resynced + 1.0 < t < times[-1] - 1.0 for t in times):
                return None
        return listed

    found: list[dict[str, Any]] = _NEW_POINT.wait_for(ready, what=f"application points of {vm} past its resync")
    return found


def test_list_shows_every_application_bookmark_the_source_took_since_the_resync(lab: Lab):
    listed = _app_points_past_the_resync(lab, "web01")
    assert [p["pair"]["disk_index"] for p in listed] == [0, 1]
    everything = lab.json("points", "list", "--vm", "web01")["pairs"]
    oracle = lab.oracle("web01")
    for pair, full in zip(listed, everything, strict=True):
        assert pair["pair"]["state"] == "replicating"
        assert pair["pair"]["item_state"] == "replicating"
        points = pair["points"]
        assert points
        assert all(p["kind"] == "app" for p in points)
        # Every point but the resync's is a bookmark the source took, with its tag.
        for point in full["points"]:
            if point["kind"] != "resync-complete":
                assert oracle[point["id"]]["tag"] == point["tag"]
        # ...and every application bookmark taken between the resync and the newest point is a point.
        resynced = next(p["timestamp"] for p in full["points"] if p["kind"] == "resync-complete")
        newest = points[-1]["timestamp"]
        expected = {
            line["id"]
            for line in oracle.values()
            if line["kind"] == "app" and resynced + 1.0 < line["time"] < newest - 1.0
        }
        assert expected, "the workload took no application bookmark while replicating"
        assert expected <= {p["id"] for p in points}


def test_the_group_filter_lists_only_the_consistency_groups_points(lab: Lab):
    pair = lab.json("points", "list", "--vm", "app01", "--kind", "group")["pairs"][0]
    assert pair["pair"]["group"]
    assert pair["points"], "the lab's workloads take a multi-VM bookmark every few seconds"
    assert {p["group"] for p in pair["points"]} == {pair["pair"]["group"]}


def test_bring_to_a_past_point_makes_the_target_disk_equal_the_source_at_that_bookmark(lab: Lab):
    pair = _pair(lab, "app01")
    pair_id, disk_id = pair["pair"]["pair_id"], pair["pair"]["target_disk_id"]
    apps = [p for p in pair["points"] if p["kind"] == "app" and not p["pending"]]
    assert len(apps) >= 2
    past = apps[-2]  # not the newest: the master target must undo what came after it
    try:
        held = lab.json("points", "bring", "--pair", pair_id, "--point", past["id"])
        assert held["held"] is True
        assert held["point"]["id"] == past["id"]
        assert held["pair"]["state"] == "at-point"
        assert lab.item_state("app01") == "point-test"
        assert _digest_at(lab, "app01", disk_id) == _oracle_digest(lab, "app01", past["id"], disk_id)
    finally:
        cancelled = lab.json("points", "cancel", "--pair", pair_id)
    assert cancelled["held"] is False
    assert cancelled["pair"]["state"] == "replicating"
    assert lab.item_state("app01") == "replicating"


def test_cancel_returns_the_disk_to_latest_and_replication_carries_on_from_there(lab: Lab):
    pair = _pair(lab, "db01")
    pair_id, disk_id = pair["pair"]["pair_id"], pair["pair"]["target_disk_id"]
    first = next(p for p in pair["points"] if p["kind"] == "app")
    lab.json("points", "bring", "--pair", pair_id, "--point", first["id"])
    newest_seq = max(p["seq"] for p in pair["points"])
    cancelled = lab.json("points", "cancel", "--pair", pair_id)
    assert (cancelled["pair"]["state"], cancelled["point"]) == ("replicating", None)
    # The disk went back to everything acknowledged: the blocks undone for the old point are back, and what
    # arrives now lands on them. A point taken after the cancel holds exactly the source at its bookmark.
    later = _wait_for_app_point_after(lab, pair_id, newest_seq)
    try:
        held = lab.json("points", "bring", "--pair", pair_id, "--point", later["id"])
        assert held["point"]["id"] == later["id"]
        assert _digest_at(lab, "db01", disk_id) == _oracle_digest(lab, "db01", later["id"], disk_id)
    finally:
        lab.json("points", "cancel", "--pair", pair_id)
    assert lab.item_state("db01") == "replicating"


def test_bring_to_a_time_holds_the_newest_point_at_or_before_it(lab: Lab):
    pair = _pair(lab, "web01", 1)
    pair_id = pair["pair"]["pair_id"]
    points = [p for p in pair["points"] if not p["pending"]]
    target, following = points[-3], points[-2]
    # Half a millisecond before the following point: the newest point at or before that time is the target.
    when = dt.datetime.fromtimestamp(following["timestamp"] - 0.000_5, dt.UTC).isoformat()
    try:
        held = lab.json("points", "bring", "--pair", pair_id, "--time", when)
        assert held["point"]["id"] == target["id"]
    finally:
        lab.json("points", "cancel", "--pair", pair_id)


def test_bad_input_is_refused_with_what_to_fix_and_changes_nothing(lab: Lab):
    pair_id = _pair(lab, "app01")["pair"]["pair_id"]
    refusals = [
        (("points", "bring", "--pair", "fb-no-such-pair", "--latest"), 1, "no protected VM has a replication pair"),
        (("points", "bring", "--pair", pair_id, "--point", "gone-point"), 1, "holds no point 'gone-point'"),
        (("points", "bring", "--pair", pair_id, "--time", "2001-01-01T00:00:00Z"), 1, "holds no point at or before"),
        (("points", "bring", "--pair", pair_id, "--time", "yesterday"), 2, "is not an ISO 8601 time"),
        (("points", "bring", "--pair", pair_id, "--time", "2026-01-01T00:00:00"), 2, "has no time zone"),
        (("points", "list", "--vm", "no-such-vm"), 1, "failback knows no VM named 'no-such-vm'"),
        (("points", "cancel", "--pair", "fb-no-such-pair"), 1, "no protected VM has a replication pair"),
    ]
    for args, code, message in refusals:
        result = lab.ctl(*args)
        assert (result.returncode, message in result.stderr) == (code, True), (args, result.stderr)
    after = _pair(lab, "app01")
    assert after["pair"]["state"] == "replicating"
    assert lab.item_state("app01") == "replicating"


def test_a_workflow_cannot_start_on_a_vm_whose_disk_is_held_at_a_test_point(lab: Lab):
    pair_id = _pair(lab, "app01")["pair"]["pair_id"]
    lab.json("points", "bring", "--pair", pair_id, "--latest-app")
    try:
        jobs = {j["id"] for j in lab.json("jobs")["jobs"]}
        failover = lab.ctl("failover", "--plan", "lab", "--item", "app01", "--wait", timeout=300)
        # Refused when submitted, whatever the doctor would say of a VM whose replication is paused: no job.
        assert failover.returncode == 1
        assert "failover of app01 refused: it is point-test" in failover.stderr
        assert {j["id"] for j in lab.json("jobs")["jobs"]} == jobs
        assert _pair(lab, "app01")["pair"]["state"] == "at-point"
    finally:
        lab.json("points", "cancel", "--pair", pair_id)
    assert lab.item_state("app01") == "replicating"


def test_retention_shows_the_volume_holding_the_journals_and_each_pairs_points_and_rpo(lab: Lab):
    report = lab.json("retention")
    mt = next(m for m in report["master_targets"] if m["name"] == "mt-lab")
    assert mt["error"] is None
    retention_dir = Path(lab.status["master_target"]["retention"])
    volume = max(
        (v for v in mt["volumes"] if str(retention_dir).startswith(v["mountpoint"].rstrip("/") + "/")),
        key=lambda v: len(v["mountpoint"]),
    )
    stat = os.statvfs(retention_dir)
    assert volume["capacity_bytes"] == stat.f_blocks * stat.f_frsize
    assert abs(volume["free_bytes"] - stat.f_bavail * stat.f_frsize) < 256 << 20  # others write to it meanwhile
    assert volume["used_bytes"] == volume["capacity_bytes"] - volume["free_bytes"]
    pairs = {p["pair"]["pair_id"]: p for p in report["pairs"]}
    assert {p["pair"]["vm"] for p in pairs.values()} == {"web01", "app01", "db01"}
    for vm in ("web01", "app01", "db01"):
        for listed in lab.json("points", "list", "--vm", vm)["pairs"]:
            entry = pairs[listed["pair"]["pair_id"]]
            ids = [p["id"] for p in listed["points"]]
            assert entry["oldest"]["id"] == ids[0]
            # The workload keeps bookmarking: the later listing holds what the report saw, and more.
            assert entry["newest"]["id"] in ids
            seen = [p for p in listed["points"] if p["timestamp"] <= entry["newest"]["timestamp"]]
            assert entry["points"] == len(seen)
            assert entry["rpo_threshold_seconds"] == 900.0
            assert 0.0 <= entry["rpo_seconds"] < 60.0
            assert (entry["rpo_ok"], entry["health"], entry["error"]) == (True, "ok", None)
            assert entry["oldest"]["history_bytes"] >= entry["newest"]["history_bytes"]


def test_a_vm_a_failover_has_is_refused_and_the_failovers_point_is_left_alone(lab: Lab):
    pair_id = _pair(lab, "db01")["pair"]["pair_id"]
    failover = lab.ctl(
        "failover", "--plan", "lab", "--item", "db01", "--kind", "unplanned", "--point", "latest-app", "--wait",
        timeout=900,
    )  # fmt: skip
    assert failover.returncode == 0, failover.stdout + failover.stderr
    assert lab.item_state("db01") == "failed-over"
    held = lab.json("points", "list", "--pair", pair_id)["pairs"][0]
    assert held["pair"]["state"] == "at-point"
    for args in (("points", "bring", "--pair", pair_id, "--latest"), ("points", "cancel", "--pair", pair_id)):
        result = lab.ctl(*args)
        assert result.returncode == 1, result.stdout
        assert "db01 is failed-over: a workflow has its disks" in result.stderr
        assert "failbackctl cancel-failover" in result.stderr
    after = lab.json("points", "list", "--pair", pair_id)["pairs"][0]
    assert after["pair"]["state"] == "at-point"
    assert lab.item_state("db01") == "failed-over"


def test_zz_a_master_target_that_does_not_answer_is_named_with_what_to_do(lab: Lab):
    # Last in this module: it stops the lab's master target for good.
    pair_id = _pair(lab, "app01")["pair"]["pair_id"]
    process = next(p for p in lab.status["processes"] if p["name"] == "mt-lab")
    os.kill(process["pid"], signal.SIGKILL)
    result = lab.ctl("points", "bring", "--pair", pair_id, "--latest")
    assert result.returncode == 1
    assert "master target mt-lab at" in result.stderr
    assert "does not answer" in result.stderr
    assert "the controller" not in result.stderr.split("(")[0]
    assert lab.item_state("app01") == "replicating"
    report = lab.json("retention")
    mt = next(m for m in report["master_targets"] if m["name"] == "mt-lab")
    assert mt["error"]
    assert mt["volumes"] == []
    assert {p["health"] for p in report["pairs"]} == {"unknown"}
