"""End to end without a network: tracker -> reprotect source -> PairSender -> a file-backed receiver.

The receiver applies each validated batch to a target file; the pair is in sync when the target's disk digest
equals the source's. Process-server restarts are new objects over the same backlog directory."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from agent.dataplane import (
    BLOCK_SIZE,
    Backlog,
    BatchEncoder,
    BookmarkKind,
    ChangeLogSource,
    DiskHasher,
    EncodedBatch,
    InflightWindow,
    PairSender,
    ProgressRecorder,
    ReprotectSource,
    ScanSource,
    Tracker,
    disk_digest,
)
from agent.dataplane.errors import WatermarkAhead

from ._helpers import FileReceiver, block_data, make_disk

SIZE = 8 << 20


class Link:
    """Delivers batches to the receiver and acknowledges every ``ack_every`` batches; breaks (as a dropped
    connection does) when ``break_at`` batches have been offered."""

    def __init__(self, receiver: FileReceiver, *, ack_every: int = 1, break_at: int | None = None) -> None:
        self.receiver = receiver
        self.ack_every = ack_every
        self.break_at = break_at
        self.offered = 0
        self.sender: PairSender | None = None

    def send(self, batch: EncodedBatch) -> None:
        self.offered += 1
        if self.break_at is not None and self.offered >= self.break_at:
            raise ConnectionResetError("stream reset")
        self.receiver.receive(batch)
        if self.offered % self.ack_every == 0 and self.sender is not None:
            self.sender.acknowledge(self.receiver.watermark)


class ProcessServer:
    """The sender side of one pair as a process would build it at start-up."""

    def __init__(
        self, tmp: Path, tracker: Tracker, log_start: int, *, batch_bytes: int = 256 << 10, window_batches: int = 8
    ) -> None:
        self.scan = ScanSource(tmp / "source", DiskHasher(tmp / "target"), window=1 << 20, resync_id="resync-1")
        log = ChangeLogSource(tmp / "log")
        saved = tmp / "resync-end"  # what a process server persists with the pair
        self.source = ReprotectSource(
            self.scan,
            log,
            log_start,
            durable_position=log.durable_position,
            resync_end=int(saved.read_text()) if saved.exists() else None,
            on_resync_end=lambda end: saved.write_text(str(end)),
        )
        self.backlog = Backlog(tmp / "backlog", pair="p1", generation=1, segment_bytes=256 << 10)
        self.encoder = BatchEncoder(threads=2)
        self.progress = ProgressRecorder("p1", 1)
        self.sender = PairSender(
            "p1",
            source=self.source,
            backlog=self.backlog,
            encoder=self.encoder,
            window=InflightWindow(max_bytes=4 << 20, max_batches=window_batches),
            progress=self.progress,
            on_acknowledged=self.trim,
            batch_bytes=batch_bytes,
            timeout=5.0,
        )
        self.tracker = tracker

    def trim(self, cursor: int) -> None:
        position = ReprotectSource.log_position(cursor)
        if position is not None:
            self.tracker.trim(position)

    def close(self) -> None:
        self.encoder.close()
        self.backlog.close()
        self.scan.close()


def workload(tracker: Tracker, rng: random.Random, writes: int) -> None:
    for _ in range(writes):
        blocks = rng.randint(1, 8)
        tracker.write(rng.randrange(SIZE // BLOCK_SIZE - blocks) * BLOCK_SIZE, block_data(rng, blocks))
    tracker.bookmark(BookmarkKind.CRASH)


@pytest.fixture
def pair(tmp_path: Path):
    make_disk(tmp_path / "source", SIZE, seed=1, fill=0.6)
    target = tmp_path / "target"
    image = bytearray((tmp_path / "source").read_bytes())
    rng = random.Random(2)
    for block in rng.sample(range(SIZE // BLOCK_SIZE), 200):  # the old copy differs in places
        image[block * BLOCK_SIZE : (block + 1) * BLOCK_SIZE] = os.urandom(BLOCK_SIZE)
    target.write_bytes(bytes(image))
    tracker = Tracker(tmp_path / "source", tmp_path / "log", segment_bytes=256 << 10)
    yield tmp_path, tracker
    tracker.close()


def test_reprotect_converges_the_target_on_the_source(pair):
    tmp, tracker = pair
    rng = random.Random(3)
    receiver = FileReceiver(tmp / "target", SIZE)
    server = ProcessServer(tmp, tracker, tracker.end_position)
    link = Link(receiver, ack_every=2)
    link.sender = server.sender
    try:
        assert server.sender.connect(0, link) == 0
        workload(tracker, rng, 30)  # writes made during the resync
        server.sender.pump(link)
        workload(tracker, rng, 30)
        server.sender.pump(link)
        server.sender.acknowledge(receiver.watermark)
        assert disk_digest(tmp / "target", SIZE) == disk_digest(tmp / "source", SIZE)
        kinds = [e.kind for b in receiver.batches for e in b.entries if hasattr(e, "kind")]
        # The writes made during the scan are replayed inside the resync window (between RESYNC_START and
        # RESYNC_COMPLETE: their bookmarks are no points, the disk is a mix there); the later ones after it.
        assert kinds.count(BookmarkKind.RESYNC_COMPLETE) == kinds.count(BookmarkKind.RESYNC_START) == 1
        assert kinds.index(BookmarkKind.RESYNC_START) < kinds.index(BookmarkKind.CRASH)
        assert kinds.index(BookmarkKind.RESYNC_COMPLETE) < len(kinds) - 1 - kinds[::-1].index(BookmarkKind.CRASH)
        snap = server.progress.snapshot()
        assert snap.plain_bytes_acknowledged == snap.plain_bytes_sent > 0
        assert (snap.backlog_batches, snap.lag_seconds) == (0, 0.0)
        assert tracker.first_position > 0  # acknowledged log segments were trimmed
        assert receiver.applied == list(range(1, receiver.watermark + 1))
    finally:
        server.close()


def test_process_server_restart_resends_exactly_the_unacknowledged_batches(pair):
    tmp, tracker = pair
    rng = random.Random(4)
    receiver = FileReceiver(tmp / "target", SIZE)
    workload(tracker, rng, 40)
    log_start = 0

    first = ProcessServer(tmp, tracker, log_start, batch_bytes=64 << 10)
    link = Link(receiver, ack_every=3, break_at=12)
    link.sender = first.sender
    first.sender.connect(0, link)
    with pytest.raises(ConnectionResetError):
        first.sender.pump(link)
    acknowledged = first.backlog.acknowledged
    first.close()  # the process server dies; nothing of it survives but its directories
    assert acknowledged < receiver.watermark < first.backlog.next_seq - 1  # acks lost, last batch undelivered

    second = ProcessServer(tmp, tracker, log_start, batch_bytes=64 << 10)
    link = Link(receiver, ack_every=3)
    link.sender = second.sender
    try:
        held, watermark = second.backlog.next_seq - 1, receiver.watermark
        resent = second.sender.connect(watermark, link)  # the master target's durable watermark
        assert resent == held - watermark >= 1
        workload(tracker, rng, 20)
        second.sender.pump(link)
        second.sender.acknowledge(receiver.watermark)
    finally:
        second.close()
    assert receiver.skipped == []  # nothing at or below the watermark was sent again
    assert receiver.applied == list(range(1, receiver.watermark + 1))  # no gap, no duplicate
    assert disk_digest(tmp / "target", SIZE) == disk_digest(tmp / "source", SIZE)


def test_a_process_server_that_lost_its_backlog_cannot_resume(pair):
    tmp, tracker = pair
    receiver = FileReceiver(tmp / "target", SIZE)
    server = ProcessServer(tmp, tracker, 0)
    link = Link(receiver)
    link.sender = server.sender
    server.sender.connect(0, link)
    server.sender.pump(link)
    server.close()
    os.rename(tmp / "backlog", tmp / "lost")
    fresh = ProcessServer(tmp, tracker, 0)
    try:
        with pytest.raises(WatermarkAhead, match="resync"):
            fresh.sender.connect(receiver.watermark, Link(receiver))
    finally:
        fresh.close()


def test_a_window_smaller_than_the_sync_group_does_not_stall_the_sender(pair):
    tmp, tracker = pair
    workload(tracker, random.Random(5), 40)
    receiver = FileReceiver(tmp / "target", SIZE)
    server = ProcessServer(tmp, tracker, 0, batch_bytes=32 << 10, window_batches=2)  # the sync group is 8
    link = Link(receiver)
    link.sender = server.sender
    try:
        server.sender.connect(0, link)
        assert server.sender.pump(link) > 8
    finally:
        server.close()
    assert disk_digest(tmp / "target", SIZE) == disk_digest(tmp / "source", SIZE)


class WritingDuringTheScan:
    """The target's hashes, answered while the workload writes the source: before each window is compared, a few
    writes land on blocks the scan already read and on blocks it has yet to read. ``snapshots`` maps the change log
    position after each write to the source disk's content then."""

    def __init__(self, hasher: DiskHasher, tracker: Tracker, disk: Path, snapshots: dict[int, bytes]) -> None:
        self.hasher, self.tracker, self.disk, self.snapshots = hasher, tracker, disk, snapshots
        self.rng = random.Random(6)

    def hashes(self, extents, unit):
        if unit == 64 << 10:
            for _ in range(6):
                offset = self.rng.randrange(SIZE // BLOCK_SIZE) * BLOCK_SIZE
                end = self.tracker.write(offset, self.rng.randbytes(BLOCK_SIZE))
                self.snapshots[end] = self.disk.read_bytes()
        return self.hasher.hashes(extents, unit)


def test_the_resync_complete_point_is_the_source_at_the_resync_end_though_the_disk_changed_during_the_scan(pair):
    tmp, tracker = pair
    snapshots: dict[int, bytes] = {}
    remote = WritingDuringTheScan(DiskHasher(tmp / "target"), tracker, tmp / "source", snapshots)
    scan = ScanSource(tmp / "source", remote, window=1 << 20, resync_id="resync-9")
    log = ChangeLogSource(tmp / "log")
    source = ReprotectSource(scan, log, tracker.end_position, durable_position=log.durable_position)
    target = tmp / "target"
    at_complete: list[bytes] = []

    class Receiver(FileReceiver):
        def receive(self, encoded: EncodedBatch) -> None:
            super().receive(encoded)
            if any(getattr(e, "kind", None) is BookmarkKind.RESYNC_COMPLETE for e in encoded.entries):
                at_complete.append(target.read_bytes())

    receiver = Receiver(target, SIZE)
    with BatchEncoder(threads=2) as encoder, Backlog(tmp / "backlog", pair="p1", generation=1) as backlog:
        sender = PairSender(
            "p1",
            source=source,
            backlog=backlog,
            encoder=encoder,
            window=InflightWindow(),
            progress=ProgressRecorder("p1", 1),
            batch_bytes=128 << 10,
            timeout=5.0,
        )
        link = Link(receiver)
        link.sender = sender
        sender.connect(0, link)
        sender.pump(link)
    scan.close()
    assert len(snapshots) >= 6 * 8  # the disk changed under every window of the scan
    assert source.resync_end is not None
    assert at_complete == [snapshots[source.resync_end]], "the point is a mix of the scan and the log"
    assert disk_digest(target, SIZE) == disk_digest(tmp / "source", SIZE)
