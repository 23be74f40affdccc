"""The orchestration benchmark cannot rot: a 4-VM run end to end on the lab, and its placement check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "bench"))

from orchestration import check  # noqa: E402


@pytest.mark.vcsim
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_small_plan_reprotects_and_fails_over_across_both_master_targets(
    tmp_path_factory: pytest.TempPathFactory, vcsim_binary: Path
) -> None:
    where = tmp_path_factory.mktemp("orch")  # a short path: the lab's readiness sockets live under it
    # Four VMs in four protection groups, at most two disks per master target: only a spread over both passes.
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench" / "orchestration.py"),
            "--vms=4",
            "--disk-mib=1",
            "--group-size=1",
            "--disk-limit=2",
            f"--dir={where}",
        ],
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["vms"] == 4
    assert figures["master_targets"] == 2
    assert figures["disks_per_master_target"] == {"mt-lab": 2, "mt-lab-2": 2}
    assert figures["reprotect_s"] > 0
    assert figures["failover_s"] > 0
    assert figures["baseline_s"] > 0
    # Printed figures are rounded; the ratio is of the unrounded ones.
    assert figures["ratio"] == pytest.approx(figures["failover_s"] / figures["baseline_s"], rel=0.1)
    assert set(figures["failover_steps_s"]) >= {"release-disks", "attach-to-vm", "power-on"}
    assert list(where.iterdir()) == []  # the lab is down and its directory gone


def test_the_check_refuses_a_master_target_past_the_limit() -> None:
    with pytest.raises(SystemExit, match="past the 2-disk limit"):
        check({"mt-lab": 3, "mt-lab-2": 1}, {"mt-lab": 3, "mt-lab-2": 1}, vms=4, disk_limit=2)


def test_the_check_refuses_disks_the_simulator_does_not_show_where_the_controller_placed_them() -> None:
    with pytest.raises(SystemExit, match="the controller placed"):
        check({"mt-lab": 2, "mt-lab-2": 2}, {"mt-lab": 4}, vms=4, disk_limit=60)


def test_the_check_accepts_every_disk_placed_within_the_limit() -> None:
    check({"mt-lab": 50, "mt-lab-2": 50}, {"mt-lab": 50, "mt-lab-2": 50}, vms=100, disk_limit=60)
