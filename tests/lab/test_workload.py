"""The workload of an "Azure VM": its oracle (a digest of every disk at every bookmark) agrees with the tracker's
change log replayed over the disk's first state, and it stops writing when the VM stops."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from agent.dataplane import BlockWrite, disk_digest
from agent.dataplane._changelog import list_segments, scan_records, segment_path
from failback.retry import Policy
from lab.world._workload import Workload, WorkloadDisk, WorkloadSettings

FAST = WorkloadSettings(bytes_per_second=16 << 20, app_every=0.15, crash_every=0.05)
WAIT = Policy(deadline=20.0, initial=0.02, maximum=0.2)


def _disk(path: Path, size: int, fill: int) -> Path:
    path.write_bytes(bytes([fill]) * size)
    return path


def _oracle(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _replayed(base: Path, log_dir: Path, position: int, into: Path) -> bytes:
    """The disk as the change log says it was at ``position``: its first state plus every write before it."""
    shutil.copyfile(base, into)
    with into.open("r+b") as out:
        for start in list_segments(str(log_dir)):
            for record in scan_records(segment_path(str(log_dir), start), start, start, position):
                if isinstance(record.entry, BlockWrite):
                    out.seek(record.entry.offset)
                    out.write(bytes(record.entry.data))
    return disk_digest(into, into.stat().st_size)


@pytest.fixture
def vm(tmp_path: Path):
    disks = []
    for index, size in enumerate((1 << 20, 2 << 20)):
        source = _disk(tmp_path / f"d{index}.disk", size, index + 1)
        shutil.copyfile(source, tmp_path / f"d{index}.base")
        disks.append(WorkloadDisk(f"disk-{index}", source, tmp_path / f"log{index}"))
    running = threading.Event()
    running.set()
    workload = Workload("web01", disks, tmp_path / "bookmarks.jsonl", running.is_set, FAST, seed=7)
    stop = threading.Event()
    thread = threading.Thread(target=workload.run, args=(stop,))
    thread.start()
    yield workload, running, tmp_path
    stop.set()
    thread.join(timeout=10)
    assert workload.failed is None


def test_every_bookmark_digest_equals_the_change_log_replayed_to_it(vm):
    workload, _running, tmp_path = vm
    lines = WAIT.wait_for(
        lambda: (
            lines if len(lines := _oracle(workload.oracle)) >= 6 and any(x["kind"] == "app" for x in lines) else None
        ),
        what="six bookmarks",
    )
    assert workload.bytes_written > 0
    for line in lines:
        for index, disk in enumerate(workload.disks):
            recorded = line["disks"][disk.disk_id]
            replayed = _replayed(tmp_path / f"d{index}.base", disk.change_log, recorded["position"], tmp_path / "r")
            assert replayed.hex() == recorded["digest"], f"bookmark {line['id']} of {disk.disk_id}"


def test_bookmarks_of_a_vm_share_one_id_across_its_disks(vm):
    workload, _running, _tmp = vm
    lines = WAIT.wait_for(lambda: _oracle(workload.oracle) or None, what="a bookmark")
    assert set(lines[0]["disks"]) == {"disk-0", "disk-1"}
    assert lines[0]["id"].startswith("web01-")


def test_a_stopped_vm_takes_a_shutdown_bookmark_and_writes_nothing_more(vm):
    workload, running, _tmp = vm
    WAIT.wait_for(lambda: _oracle(workload.oracle) or None, what="a bookmark")
    running.clear()
    last = WAIT.wait_for(
        lambda: lines[-1] if (lines := _oracle(workload.oracle)) and lines[-1]["tag"] == "shutdown" else None,
        what="the shutdown bookmark",
    )
    assert last["kind"] == "app"
    digests = [disk_digest(d.source, d.source.stat().st_size).hex() for d in workload.disks]
    assert digests == [last["disks"][d.disk_id]["digest"] for d in workload.disks]
    written = workload.bytes_written
    threading.Event().wait(0.5)  # a stopped VM: nothing may happen during it
    assert workload.bytes_written == written
    assert _oracle(workload.oracle)[-1]["id"] == last["id"]
