"""T5/T7 for the process server's durable state, through the I/O layer it shares with the storage engine.

Crash states (agent.journal.crash_states: every prefix of the recorded op log, un-fsynced operations kept, dropped or
torn) of the backlog and of the change tracker are materialised and reopened with the real I/O layer: opening must
succeed in every state and lose nothing that was durable when the code said so. Faults (EIO on the Nth fsync, ENOSPC
or a short write on the Nth write) fail the call or are completed, never acknowledged wrongly; reopening recovers.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from agent.dataplane import BLOCK_SIZE, Backlog, Bookmark, BookmarkKind, EncodedBatch, Tracker, encode_block
from agent.dataplane.errors import BacklogFailed, TrackerFailed
from agent.journal import FaultPlan, RecordingIO, crash_states

DISK = 16 * BLOCK_SIZE


def batch(seq: int, rng: random.Random) -> EncodedBatch:
    data = rng.randbytes(BLOCK_SIZE) if seq % 2 else bytes([seq]) * BLOCK_SIZE
    mark = Bookmark(f"b{seq}", BookmarkKind.CRASH, None, None, float(seq))
    return EncodedBatch(seq, (encode_block((seq % 16) * BLOCK_SIZE, data), mark), seq * 10, float(seq))


def backlog_workload(root: str, io: RecordingIO | None, sent: dict[int, EncodedBatch]) -> None:
    """Append 9 batches in syncs of 2-3 (segments of ~2 frames roll), acknowledging as a receiver would."""
    rng = random.Random(5)
    with Backlog(os.path.join(root, "backlog"), pair="p", generation=1, segment_bytes=9000, io=io) as backlog:
        for group in ((1, 2), (3, 4, 5), (6, 7), (8, 9)):
            for seq in group:
                sent[seq] = batch(seq, rng)
                backlog.append(sent[seq])
            backlog.sync()
            if io is not None:
                io.mark(f"synced:{group[-1]}")
            if group[-1] >= 5:
                if io is not None:  # from here on the receiver's watermark is at least this: it told us so
                    io.mark(f"acked:{group[0] - 1}")
                backlog.acknowledge(group[0] - 1)


def test_every_crash_state_of_the_backlog_reopens_with_every_synced_batch(tmp_path: Path):
    root = str(tmp_path / "rec")
    os.makedirs(root)
    io = RecordingIO(root)
    sent: dict[int, EncodedBatch] = {}
    backlog_workload(root, io, sent)
    states = 0
    for state in crash_states(io):
        states += 1
        where = str(tmp_path / f"s{states}")
        state.materialize(root, where)
        synced = max((int(m.split(":")[1]) for m in state.marks if m.startswith("synced:")), default=0)
        acked = max((int(m.split(":")[1]) for m in state.marks if m.startswith("acked:")), default=0)
        with Backlog(os.path.join(where, "backlog"), pair="p", generation=1, segment_bytes=9000) as reopened:
            assert reopened.next_seq - 1 >= synced, f"state {state.prefix}/{state.variant}: a synced batch was lost"
            reopened.acknowledge(acked)
            again = {b.seq: b for b in reopened.unacknowledged()}
            for seq in range(acked + 1, synced + 1):
                assert again[seq].entries[0].digest == sent[seq].entries[0].digest  # type: ignore[union-attr]
                assert bytes(again[seq].entries[0].compressed) == bytes(sent[seq].entries[0].compressed)  # type: ignore[union-attr]
            assert reopened.resume_cursor == (reopened.next_seq - 1) * 10
    assert states > 20


@pytest.mark.parametrize("fault", ["fsync", "enospc", "short"])
def test_a_failed_backlog_write_or_sync_is_never_taken_for_durable(tmp_path: Path, fault: str):
    counter = RecordingIO(str(tmp_path))
    backlog_workload(str(tmp_path / "count"), counter, {})
    total = counter.fsyncs if fault == "fsync" else counter.writes
    failures = 0
    for n in range(1, total + 1):
        root = tmp_path / f"{fault}-{n}"
        root.mkdir()
        plan = {
            "fsync": FaultPlan(fail_fsync_at=n),
            "enospc": FaultPlan(enospc_write_at=n),
            "short": FaultPlan(short_write_at=n, short_then_enospc=False),
        }[fault]
        io = RecordingIO(str(root), plan)
        sent: dict[int, EncodedBatch] = {}
        try:
            backlog_workload(str(root), io, sent)
        except BacklogFailed:
            failures += 1
        synced = max(
            (int(op.path.split(":")[1]) for op in io.ops if op.kind == "mark" and "synced" in op.path), default=0
        )
        with Backlog(root / "backlog", pair="p", generation=1, segment_bytes=9000) as reopened:
            assert reopened.next_seq - 1 >= synced
    if fault == "short":
        assert failures == 0, "short writes must be completed, not reported"
    else:
        assert failures >= total // 2


def tracker_workload(root: str, io: RecordingIO | None, snapshots: dict[int, bytes]) -> None:
    """Acknowledged writes (each durable on return), a bookmark, segment rolls and a trim."""
    rng = random.Random(9)
    disk = os.path.join(root, "disk")
    content = bytearray(Path(disk).read_bytes())
    with Tracker(disk, os.path.join(root, "log"), segment_bytes=3 * (BLOCK_SIZE + 64), io=io) as tracker:
        snapshots[tracker.end_position] = bytes(content)
        for i in range(8):
            offset = rng.randrange(0, DISK // BLOCK_SIZE - 1) * BLOCK_SIZE
            data = rng.randbytes(BLOCK_SIZE * rng.randint(1, 2))
            end = tracker.write(offset, data)
            content[offset : offset + len(data)] = data
            snapshots[end] = bytes(content)
            if io is not None:
                io.mark(f"written:{end}")
            if i == 3:
                tracker.bookmark(BookmarkKind.CRASH, bookmark_id="mid")
                snapshots[tracker.end_position] = bytes(content)
            if i == 5:
                tracker.trim(end)


def make_tracker_root(root: Path) -> None:
    root.mkdir()
    with open(root / "disk", "wb") as handle:
        handle.write(random.Random(1).randbytes(DISK))


def test_every_crash_state_of_the_tracker_recovers_the_disk_to_its_log(tmp_path: Path):
    root = tmp_path / "rec"
    make_tracker_root(root)
    io = RecordingIO(str(root))
    snapshots: dict[int, bytes] = {}
    tracker_workload(str(root), io, snapshots)
    states = 0
    for state in crash_states(io):
        states += 1
        where = tmp_path / f"s{states}"
        state.materialize(str(root), str(where))
        written = max((int(m.split(":")[1]) for m in state.marks if m.startswith("written:")), default=0)
        with Tracker(where / "disk", where / "log", segment_bytes=3 * (BLOCK_SIZE + 64)) as tracker:
            end = tracker.end_position
        where_end = f"state {state.prefix}/{state.variant}"
        assert end >= written, f"{where_end}: an acknowledged write was lost"
        assert (where / "disk").read_bytes() == snapshots[end], f"{where_end}: the disk is not its log replayed"
    assert states > 50


@pytest.mark.parametrize("fault", ["fsync", "enospc", "short"])
def test_a_failed_tracker_write_or_sync_stops_it_and_reopening_recovers(tmp_path: Path, fault: str):
    counting = tmp_path / "count"
    make_tracker_root(counting)
    counter = RecordingIO(str(counting))
    tracker_workload(str(counting), counter, {})
    total = counter.fsyncs if fault == "fsync" else counter.writes
    failures = 0
    for n in range(1, total + 1, 2):
        root = tmp_path / f"{fault}-{n}"
        make_tracker_root(root)
        plan = {
            "fsync": FaultPlan(fail_fsync_at=n),
            "enospc": FaultPlan(enospc_write_at=n),
            "short": FaultPlan(short_write_at=n, short_then_enospc=False),
        }[fault]
        io = RecordingIO(str(root), plan)
        snapshots: dict[int, bytes] = {}
        try:
            tracker_workload(str(root), io, snapshots)
        except TrackerFailed:
            failures += 1
        written = max((int(op.path.split(":")[1]) for op in io.ops if op.kind == "mark"), default=0)
        with Tracker(root / "disk", root / "log", segment_bytes=3 * (BLOCK_SIZE + 64)) as tracker:
            assert tracker.end_position >= written
            end = tracker.end_position
        if end in snapshots:
            assert (root / "disk").read_bytes() == snapshots[end]
    if fault == "short":
        assert failures == 0, "short writes must be completed, not reported"
    else:
        assert failures > 0
