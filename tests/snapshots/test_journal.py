"""Snapshot cycles into the master target's storage engine (agent.journal, without the network): each cycle becomes
one recovery point, bringing the target disk to it gives exactly the snapshot's content, and no point falls inside
a cycle."""

from __future__ import annotations

from pathlib import Path

from agent.dataplane import (
    BLOCK_SIZE,
    Backlog,
    BatchEncoder,
    Bookmark,
    BookmarkKind,
    EncodedBatch,
    InflightWindow,
    PairSender,
    ProgressRecorder,
    decode_batch,
    disk_digest,
)
from agent.journal import JournalOptions, PairJournal, PairSpec, PointId
from agent.snapshots import SnapshotSource
from lab.azure import LocalAzure
from lab.azure._disks import ManagedDisk

from ._helpers import Guest, SimClock, image_for
from .conftest import GroupFactory

INTERVAL = 300.0


class JournalLink:
    """The receive path without gRPC: validate each batch (decode_batch), append it to the pair's journal, and
    acknowledge the journal's durable sequence number. ``tick`` seconds pass on the journal's clock per batch."""

    def __init__(self, tmp: Path, size: int, clock: SimClock, source: SnapshotSource) -> None:
        self.size = size
        self.clock = clock
        self.tick = 0.0
        target = tmp / "target"
        with open(target, "wb") as handle:
            handle.truncate(size)
        options = JournalOptions(background_apply=False)
        self.journal = PairJournal.open(tmp / "journal", PairSpec("p1", 1, size), target, clock=clock, options=options)
        self.bookmarks: list[Bookmark] = []
        self.sender = PairSender(
            "p1",
            source=source,
            backlog=Backlog(tmp / "backlog", pair="p1", generation=1),
            encoder=BatchEncoder(threads=1),
            window=InflightWindow(),
            progress=ProgressRecorder("p1", 1),
            on_acknowledged=source.acknowledged,
            batch_bytes=256 << 10,
        )
        self.sender.connect(self.journal.durable_seq, self)

    def send(self, batch: EncodedBatch) -> None:
        self.clock.advance(self.tick)
        decoded = decode_batch(batch.seq, batch.entries, self.size, generation=1)
        self.bookmarks.extend(entry for entry in decoded.entries if isinstance(entry, Bookmark))
        self.sender.acknowledge(self.journal.append(decoded))


def test_every_snapshot_cycle_is_a_recovery_point_equal_to_its_snapshot(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    guest = Guest(os_disk, seed=51)
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1", target_empty=True)
    link = JournalLink(tmp_path, os_disk.size, clock, source)
    expected = []
    for _ in range(3):
        guest.scribble(40, trims=0.1)
        link.sender.pump(link)
        bookmark = link.bookmarks[-1]
        # The cycle's RESYNC_COMPLETE closes its window and is a point; the point's own CRASH bookmark, at the same
        # state right after it (well inside the journal's 30 s crash-point interval), is one too: the source is
        # acknowledged for it, so the master target must hold it under the snapshot's name.
        closing = link.bookmarks[-2]
        assert closing.kind is BookmarkKind.RESYNC_COMPLETE
        assert bookmark.kind is BookmarkKind.CRASH
        assert closing.source_time == bookmark.source_time
        expected += [closing.id, bookmark.id]
        image = image_for(lab, bookmark, os_disk)
        for point in (closing.id, bookmark.id):
            link.journal.bring_to(PointId(point))
            assert disk_digest(link.journal.target.path, os_disk.size) == disk_digest(image.path, os_disk.size)
        link.journal.cancel()
        clock.advance(INTERVAL)
    assert [p.id for p in link.journal.points()] == expected
    link.journal.close()


def test_no_recovery_point_falls_inside_a_cycle_that_outlasts_the_crash_point_interval(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    """The journal adds crash points of its own after a batch once ``crash_interval`` passed; inside a snapshot
    cycle (blocks in offset order) such a point would be a state the source never had."""
    guest = Guest(os_disk, seed=52)
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1", target_empty=True)
    link = JournalLink(tmp_path, os_disk.size, clock, source)
    guest.scribble(20, align=BLOCK_SIZE)
    link.sender.pump(link)
    clock.advance(INTERVAL)
    guest.scribble(80, align=BLOCK_SIZE)
    link.tick = 31.0  # every batch of the cycle arrives after the journal's 30 s crash-point interval
    link.sender.pump(link)
    ids = {p.id for p in link.journal.points()}
    assert ids <= {b.id for b in link.bookmarks}  # only states the source had: no crash point of the journal's own
    assert {b.id for b in link.bookmarks if b.kind is BookmarkKind.RESYNC_COMPLETE} <= ids
    link.journal.close()
