"""A process server killed with SIGKILL (a real child process) between taking a snapshot and its acknowledgement:
after the restart no snapshot is left behind, the cycle resumes from the durable cursor, and the target equals the
snapshot at the bookmark."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.dataplane import BLOCK_SIZE, disk_digest
from agent.snapshots import AzureConfig, AzureImages, SnapshotGroup, SnapshotSource
from failback.retry import Policy
from lab.azure import LocalAzure
from lab.azure._disks import ManagedDisk

from ._helpers import TOKEN, DurablePair, Guest, StaticToken, image_for
from .conftest import DISK_SIZE, disk_id

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def real_lab(tmp_path: Path) -> Iterator[LocalAzure]:
    """The endpoint on the real clock: the child process lives in real time."""
    with LocalAzure(tls_dir=tmp_path / "tls", token=TOKEN, disk_dir=tmp_path / "lab-disks") as local:
        yield local


@pytest.fixture
def disk(real_lab: LocalAzure) -> ManagedDisk:
    disk = real_lab.disks.add_disk("web01-os", DISK_SIZE, vm="web01")
    Guest(disk, seed=41).scribble(60, align=BLOCK_SIZE)
    return disk


def run_child(
    lab: LocalAzure, work: Path, disk: ManagedDisk, mode: str, kill_after: int
) -> subprocess.CompletedProcess[str]:
    args = [lab.base_url, lab.ca_file, lab.estate.subscription_id, str(work), disk_id(lab, disk), str(disk.size)]
    return subprocess.run(
        [sys.executable, "-m", "tests.snapshots._child", *args, mode, str(kill_after)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def restart(lab: LocalAzure, work: Path, disk: ManagedDisk) -> tuple[SnapshotGroup, SnapshotSource]:
    config = AzureConfig(
        base_url=lab.base_url,
        connection_verify=lab.ca_file,
        polling_interval=0,
        retry_total=0,
        call_policy=Policy(deadline=30),
    )
    group = SnapshotGroup(
        "vm1",
        vm_resource_group="rg-dr",
        vm_name="web01",
        pairs={"p1": disk_id(lab, disk)},
        azure=AzureImages(StaticToken(), lab.estate.subscription_id, config=config),
        state_dir=work / "state",
    )
    return group, SnapshotSource(group, "p1", target_empty=True)


def finish(lab: LocalAzure, work: Path, disk: ManagedDisk, group: SnapshotGroup, source: SnapshotSource) -> None:
    """Run the pair to its bookmark and check the target against the snapshot, then that nothing else is left."""
    pair = DurablePair(work / "pair", source, disk.size, on_acknowledged=source.acknowledged)
    try:
        pair.pump()
        (bookmark,) = pair.bookmarks
        assert disk_digest(pair.target, disk.size) == disk_digest(image_for(lab, bookmark, disk).path, disk.size)
    finally:
        pair.close()
    group.tidy()
    assert {s.name for s in lab.disks.snapshots.values()} == {i.name for p in group.points() for i in p.images.values()}
    assert len(lab.disks.snapshots) == 1
    group.close()
    group.azure.close()


def test_sigkill_after_the_snapshot_was_created_leaves_an_orphan_that_the_restart_deletes(
    tmp_path: Path, real_lab: LocalAzure, disk: ManagedDisk
) -> None:
    work = tmp_path / "work"
    child = run_child(real_lab, work, disk, "after-create", 0)
    assert child.returncode == -9, child.stderr
    orphan = child.stdout.split("created ", 1)[1].split()[0]
    assert {s.name for s in real_lab.disks.snapshots.values()} == {orphan}
    group, source = restart(real_lab, work, disk)
    assert group.start().deleted == (f"snapshot {orphan}",)
    assert real_lab.disks.snapshots == {}
    finish(real_lab, work, disk, group, source)


def test_sigkill_mid_cycle_resumes_from_the_durable_cursor_without_a_new_snapshot(
    tmp_path: Path, real_lab: LocalAzure, disk: ManagedDisk
) -> None:
    work = tmp_path / "work"
    child = run_child(real_lab, work, disk, "mid-stream", 2)
    assert child.returncode == -9, child.stderr
    taken = {s.name for s in real_lab.disks.snapshots.values()}
    assert len(taken) == 1
    group, source = restart(real_lab, work, disk)
    assert group.start().deleted == ()  # the snapshot belongs to the cycle in flight
    finish(real_lab, work, disk, group, source)
    assert {s.name for s in real_lab.disks.snapshots.values()} == taken  # resumed, not retaken
    puts = [r for r in real_lab.requests if r.method == "PUT" and "/snapshots/" in r.path]
    assert len(puts) == 1
