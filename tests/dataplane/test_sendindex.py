"""The send index: a durable seq -> cursor map instead of a copy of every batch, for sources that can be read again."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from agent.dataplane import (
    BLOCK_SIZE,
    BatchEncoder,
    ChangeLogSource,
    DiskHasher,
    EncodedBatch,
    InflightWindow,
    PairSender,
    ProgressRecorder,
    ReprotectSource,
    ScanSource,
    SendIndex,
    Tracker,
    disk_digest,
)
from agent.dataplane.errors import WatermarkAhead, WatermarkBehind
from agent.journal import RecordingIO, crash_states

from ._helpers import FileReceiver, block_data, make_disk


def batch(seq: int) -> EncodedBatch:
    return EncodedBatch(seq, (), seq * 100, 1000.0 + seq)


def open_index(path: Path, **kwargs) -> SendIndex:
    return SendIndex(path, pair="p1", generation=1, initial_cursor=7, **kwargs)


def test_a_restart_forgets_the_batches_after_the_watermark_and_resumes_from_its_cursor(tmp_path: Path):
    with open_index(tmp_path) as index:
        assert (index.next_seq, index.resume_cursor, index.cursor_at(0)) == (1, 7, 7)
        for seq in range(1, 11):
            index.append(batch(seq))
        index.sync()
        assert index.acknowledge(4) == 400
        assert index.restart(6) == []
        assert (index.next_seq, index.resume_cursor, index.pending_batches) == (7, 600, 2)
    with open_index(tmp_path) as reopened:
        assert (reopened.next_seq, reopened.resume_cursor) == (7, 600)
        reopened.append(batch(7))


def test_watermarks_the_index_cannot_explain_need_a_resync(tmp_path: Path):
    with open_index(tmp_path, compact_after=4) as index:
        for seq in range(1, 21):
            index.append(batch(seq))
        index.sync()
        with pytest.raises(WatermarkAhead, match="resync"):
            index.acknowledge(21)
        index.acknowledge(15)  # compacts: the records before 15 go
        with pytest.raises(WatermarkBehind, match="resync"):
            index.acknowledge(3)
        assert index.acknowledge(15) == 1500
    with open_index(tmp_path) as reopened:
        assert reopened.acknowledged == 15
        assert reopened.cursor_at(15) == 1500
        with pytest.raises(WatermarkBehind):
            reopened.acknowledge(10)


def workload(root: str, io: RecordingIO | None) -> None:
    with SendIndex(os.path.join(root, "index"), pair="p1", generation=1, compact_after=3, io=io) as index:
        for group in ((1, 2), (3, 4, 5), (6, 7, 8, 9)):
            for seq in group:
                index.append(batch(seq))
            index.sync()
            if io is not None:
                io.mark(f"synced:{group[-1]}")
            acked = group[0]
            if io is not None:
                io.mark(f"acked:{acked}")
            index.acknowledge(acked)
        if io is not None:  # the receiver's watermark is 7: batches 8 and 9 were never durable there
            io.mark("restarted:7")
        index.restart(7)
        index.append(batch(8))
        index.sync()
        if io is not None:
            io.mark("synced:8")


def test_every_crash_state_of_the_index_reopens_knowing_every_synced_batch(tmp_path: Path):
    root = str(tmp_path / "rec")
    os.makedirs(root)
    io = RecordingIO(root)
    workload(root, io)
    states = 0
    for state in crash_states(io):
        states += 1
        where = tmp_path / f"s{states}"
        state.materialize(root, str(where))
        marks = state.marks
        if "restarted:7" in marks:  # the restart forgot 8 and 9 on purpose; 8 is then appended again
            marks = marks[marks.index("restarted:7") :]
            synced = 8 if "synced:8" in marks else 7
        else:
            synced = max((int(m.split(":")[1]) for m in marks if m.startswith("synced:")), default=0)
        acked = max((int(m.split(":")[1]) for m in state.marks if m.startswith("acked:")), default=0)
        with SendIndex(where / "index", pair="p1", generation=1, compact_after=3) as reopened:
            assert reopened.next_seq - 1 >= synced, f"state {state.prefix}/{state.variant}: a synced batch was lost"
            assert reopened.acknowledge(acked) == acked * 100
    assert states > 20


def test_a_reconnecting_sender_on_the_index_resends_no_batch_twice_and_converges(tmp_path: Path):
    size = 4 << 20
    make_disk(tmp_path / "source", size, seed=1, fill=0.5)
    make_disk(tmp_path / "target", size)
    rng = random.Random(3)
    with Tracker(tmp_path / "source", tmp_path / "log") as tracker:
        start = tracker.end_position
        scan = ScanSource(tmp_path / "source", DiskHasher(tmp_path / "target"), window=1 << 20, resync_id="r1")
        log = ChangeLogSource(tmp_path / "log")
        source = ReprotectSource(scan, log, start, durable_position=log.durable_position)
        receiver = FileReceiver(tmp_path / "target", size)
        with BatchEncoder(threads=2) as encoder, SendIndex(tmp_path / "index", pair="p1", generation=1) as index:
            sender = PairSender(
                "p1",
                source=source,
                backlog=index,
                encoder=encoder,
                window=InflightWindow(max_batches=8),
                progress=ProgressRecorder("p1", 1),
                batch_bytes=64 << 10,
                timeout=5.0,
            )

            class Flaky:
                """Delivers, acknowledging every third batch; drops the stream after ``cut`` batches."""

                def __init__(self, cut: int | None) -> None:
                    self.cut, self.count = cut, 0

                def send(self, encoded: EncodedBatch) -> None:
                    self.count += 1
                    if self.cut is not None and self.count > self.cut:
                        raise ConnectionResetError("stream reset")
                    receiver.receive(encoded)
                    if self.count % 3 == 0:
                        sender.acknowledge(receiver.watermark)

            for cut in (10, 7, None):
                for _ in range(25):
                    blocks = rng.randint(1, 4)
                    tracker.write(rng.randrange(size // BLOCK_SIZE - blocks) * BLOCK_SIZE, block_data(rng, blocks))
                link = Flaky(cut)
                sender.connect(receiver.watermark, link)
                try:
                    sender.pump(link)
                except ConnectionResetError:
                    continue
            sender.acknowledge(receiver.watermark)
        scan.close()
    assert receiver.skipped == []  # the index re-reads from the watermark's cursor: nothing at or below it resent
    assert receiver.applied == list(range(1, receiver.watermark + 1))
    assert disk_digest(tmp_path / "target", size) == disk_digest(tmp_path / "source", size)
