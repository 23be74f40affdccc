"""Snapshot cycles end to end through the real SDKs and the data path: the first full cycle, incremental cycles that
send exactly what the guest changed, the target equal to the snapshot at every bookmark, the schedule, paging of
page lists, read pacing and the RPO report."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.dataplane import BLOCK_SIZE, BandwidthLimiter, BookmarkKind, DiskHasher
from agent.snapshots import SnapshotPolicy, SnapshotSource
from lab.azure import LocalAzure
from lab.azure._disks import ManagedDisk
from tests.dataplane._helpers import SimulatedClock

from ._helpers import Guest, Replica, SimClock, blocks_of, expected_blocks
from .conftest import DISK_SIZE, GroupFactory

INTERVAL = 300.0


def replica(tmp_path: Path, lab: LocalAzure, disk: ManagedDisk, source: SnapshotSource) -> Replica:
    return Replica(
        tmp_path, source, pair=source.pair, size=disk.size, lab=lab, disk=disk, on_acknowledged=source.acknowledged
    )


def snapshot_names(lab: LocalAzure) -> set[str]:
    return {s.name for s in lab.disks.snapshots.values()}


def data_gets(lab: LocalAzure) -> list[str]:
    return [r.headers.get("x-ms-range", "") for r in lab.requests if r.path.endswith("/abcd") and "comp" not in r.query]


def test_first_cycle_reads_only_the_allocated_ranges_and_the_target_equals_the_snapshot(
    tmp_path: Path, lab: LocalAzure, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    guest = Guest(os_disk, seed=1)
    guest.scribble(40, align=BLOCK_SIZE)
    allocated = expected_blocks(guest.mark())[0]
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1", target_empty=True)
    rep = replica(tmp_path, lab, os_disk, source)
    assert rep.pump() > 0
    (bookmark,) = rep.verified
    assert (bookmark.kind, bookmark.tag, bookmark.group) == (BookmarkKind.CRASH, "azure-incremental-snapshot", None)
    assert blocks_of(rep.blocks[0]) == allocated
    stats = source.last_cycle
    assert stats is not None
    assert stats.mode == "full-empty"
    assert stats.read.data_bytes == len(allocated) * BLOCK_SIZE == lab.blob_traffic.data_bytes
    assert not any("x-ms-previous-snapshot-url" in r.headers for r in lab.requests)


def test_first_cycle_onto_an_unknown_target_writes_zeros_where_the_snapshot_has_no_data(
    tmp_path: Path, lab: LocalAzure, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    Guest(os_disk, seed=2).scribble(10, align=BLOCK_SIZE)
    target = tmp_path / "old-target"
    target.write_bytes(b"\xee" * DISK_SIZE)  # stale data everywhere: only a full pass can clear it
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1")
    rep = Replica(
        tmp_path,
        source,
        pair="p1",
        size=DISK_SIZE,
        lab=lab,
        disk=os_disk,
        on_acknowledged=source.acknowledged,
        target=target,
    )
    rep.pump()
    assert len(rep.verified) == 1  # the digest check passed: the stale bytes are gone
    stats = source.last_cycle
    assert stats is not None
    assert stats.mode == "full"
    assert stats.read.data_bytes < DISK_SIZE // 4  # the zeros were sent without reading them


def test_an_incremental_cycle_sends_exactly_the_blocks_the_guest_changed(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    guest = Guest(os_disk, seed=3)
    guest.scribble(30)
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1", target_empty=True)
    rep = replica(tmp_path, lab, os_disk, source)
    rep.pump()
    guest.mark()
    guest.scribble(80, trims=0.25)  # 512-byte aligned writes and TRIMs: widened to 4 KiB, cleared blocks as zeros
    read, zero = expected_blocks(guest.mark())
    clock.advance(INTERVAL)
    lab.clear_requests()
    rep.pump()
    assert len(rep.verified) == 2
    assert blocks_of(rep.blocks[1]) == read | zero
    stats = source.last_cycle
    assert stats is not None
    assert stats.mode == "diff"
    assert stats.read.data_bytes == len(read) * BLOCK_SIZE
    assert stats.zero_bytes == len(zero) * BLOCK_SIZE
    (diff,) = [r for r in lab.requests if r.param("comp") == "pagelist"]
    assert "x-ms-previous-snapshot-url" in diff.headers
    assert sum(int(h.split("-")[1]) - int(h[6:].split("-")[0]) + 1 for h in data_gets(lab)) == stats.read.data_bytes


def test_every_bookmark_matches_its_snapshot_and_only_needed_snapshots_are_kept(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    guest = Guest(os_disk, seed=4)
    group = make_group({"p1": os_disk}, policy=SnapshotPolicy(interval=INTERVAL, max_points=3))
    source = SnapshotSource(group, "p1", target_empty=True)
    rep = replica(tmp_path, lab, os_disk, source)
    for cycle in range(6):
        guest.scribble(25, trims=0.1)
        rep.pump()
        assert len(rep.verified) == cycle + 1
        assert len(snapshot_names(lab)) <= 3
        clock.advance(INTERVAL)
    group.tidy()
    assert snapshot_names(lab) == {group.points()[-1].images["p1"].name}  # the acknowledged one, nothing else


def test_no_snapshot_is_taken_before_the_interval_has_passed(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1", target_empty=True)
    rep = replica(tmp_path, lab, os_disk, source)
    rep.pump()
    taken = clock()
    clock.advance(INTERVAL - 1)
    assert rep.pump() == 0
    assert len([r for r in lab.requests if r.method == "PUT" and "/snapshots/" in r.path]) == 1
    assert group.next_due() == taken + INTERVAL
    clock.advance(1)
    assert rep.pump() > 0
    assert len(rep.verified) == 2


def test_page_lists_longer_than_one_answer_are_followed_through_next_marker(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    lab.disks.page_list_limit = 3
    guest = Guest(os_disk, seed=5)
    guest.scribble(20, align=BLOCK_SIZE)
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1", target_empty=True)
    rep = replica(tmp_path, lab, os_disk, source)
    rep.pump()
    guest.mark()
    guest.scribble(20, align=BLOCK_SIZE, trims=0.2)
    read, zero = expected_blocks(guest.mark())
    clock.advance(INTERVAL)
    rep.pump()
    assert blocks_of(rep.blocks[1]) == read | zero
    markers = [r for r in lab.requests if r.param("comp") == "pagelist" and r.param("marker")]
    assert len(markers) >= 2


def test_reads_are_paced_by_the_bandwidth_limiter(
    tmp_path: Path, lab: LocalAzure, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    Guest(os_disk, seed=6).scribble(30, align=BLOCK_SIZE)
    limiter_clock = SimulatedClock()
    limiter = BandwidthLimiter(1 << 20, burst=256 << 10, clock=limiter_clock)
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1", target_empty=True, limiter=limiter)
    started = limiter_clock.now
    replica(tmp_path, lab, os_disk, source).pump()
    stats = source.last_cycle
    assert stats is not None
    assert limiter.granted_bytes("p1") == stats.read.data_bytes
    # At 1 MiB/s, reading N bytes takes about N / 1 MiB seconds (less the burst and one request of debt).
    assert limiter_clock.now - started >= (stats.read.data_bytes - (256 << 10) - (1 << 20)) / (1 << 20)


def test_the_achieved_rpo_is_the_age_of_the_acknowledged_point(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    guest = Guest(os_disk, seed=7)
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1", target_empty=True)
    rep = replica(tmp_path, lab, os_disk, source)
    assert source.rpo() is None
    first = clock()
    rep.pump()
    clock.advance(42)
    assert source.rpo() == pytest.approx(42)
    clock.advance(INTERVAL - 42)
    guest.scribble(5)
    second = clock()
    rep.pump()
    assert source.rpo() == pytest.approx(0)
    # Just before the second point landed, the first one was INTERVAL old: the worst RPO so far.
    assert source.worst_rpo() == pytest.approx(second - first)


def test_failback_onto_an_older_copy_sends_only_what_differs_and_reads_only_allocated_data(
    tmp_path: Path, lab: LocalAzure, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    guest = Guest(os_disk, seed=8)
    guest.scribble(60, align=BLOCK_SIZE)
    target = tmp_path / "original-vm-disk"
    target.write_bytes(os_disk.path.read_bytes())  # the original VM's disk, as it was at failover
    guest.mark()
    guest.scribble(20, align=BLOCK_SIZE, trims=0.2)  # what the failed-over VM wrote since
    read, zero = expected_blocks(guest.mark())
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1", remote=DiskHasher(target))
    rep = Replica(
        tmp_path,
        source,
        pair="p1",
        size=DISK_SIZE,
        lab=lab,
        disk=os_disk,
        on_acknowledged=source.acknowledged,
        target=target,
    )
    rep.pump()
    assert len(rep.verified) == 1
    stats = source.last_cycle
    assert stats is not None
    assert stats.mode == "scan"
    assert blocks_of(rep.blocks[0]) <= read | zero  # blocks the guest did not touch never cross the wire
    assert stats.read.data_bytes == os_disk.allocated.total  # unallocated parts of the snapshot are not read


def test_an_acknowledgement_past_a_bookmark_acknowledges_that_cycle(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    guest = Guest(os_disk, seed=9)
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1", target_empty=True)
    rep = Replica(
        tmp_path,
        source,
        pair="p1",
        size=DISK_SIZE,
        lab=lab,
        disk=os_disk,
        on_acknowledged=source.acknowledged,
        ack=False,
    )
    first = clock()
    rep.pump()  # cycle 1 delivered, its bookmark not acknowledged
    assert source.rpo() is None
    clock.advance(INTERVAL)
    guest.scribble(60, align=BLOCK_SIZE)
    acked: list[int] = []

    def ack_mid_cycle(batches: int) -> None:
        # The first acknowledgement covers a batch inside cycle 2: cycle 1's bookmark is before it.
        if not acked and rep.blocks[-1]:
            acked.append(rep.receiver.watermark)
            rep.sender.acknowledge(rep.receiver.watermark)

    rep.on_batch = ack_mid_cycle
    rep.pump()
    assert acked
    assert source.rpo() == pytest.approx(clock() - first)


def test_no_sas_signature_reaches_a_log_or_the_state_file(
    tmp_path: Path,
    lab: LocalAzure,
    clock: SimClock,
    os_disk: ManagedDisk,
    make_group: GroupFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    guest = Guest(os_disk, seed=10)
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1", target_empty=True)
    rep = replica(tmp_path, lab, os_disk, source)
    for _ in range(2):
        guest.scribble(10)
        rep.pump()
        clock.advance(INTERVAL)
    signatures = {r.param("sig") for r in lab.requests if r.param("sig")}
    assert signatures
    state = (tmp_path / "state" / "snapshots-vm1.json").read_text()
    assert not any(sig in caplog.text or sig in state for sig in signatures if sig)
