"""The change tracker and the change log source: order, durability, crash recovery, trim, I/O failures."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.dataplane import (
    BLOCK_SIZE,
    BlockWrite,
    Bookmark,
    BookmarkKind,
    ChangeLogSource,
    SourceEntry,
    Tracker,
)
from agent.dataplane.errors import (
    BadCursor,
    ChangeLogError,
    CursorTrimmed,
    InUse,
    InvalidInput,
    LogCorrupt,
    TrackerFailed,
)
from agent.journal import Buffer, Handle, OsIO

from ._helpers import make_disk

ROOT = Path(__file__).resolve().parents[2]
SIZE = 4 << 20


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    return make_disk(tmp_path / "disk", SIZE)


def entries(log_dir: Path, cursor: int = 0) -> list[SourceEntry]:
    return list(ChangeLogSource(log_dir).changes(cursor))


def replay(log: Sequence[SourceEntry], size: int) -> bytes:
    image = bytearray(size)
    for item in log:
        if isinstance(item.entry, BlockWrite):
            image[item.entry.offset : item.entry.offset + item.entry.length] = item.entry.data
    return bytes(image)


def test_writes_reach_the_disk_and_the_log_in_order(tmp_path: Path, disk: Path):
    with Tracker(disk, tmp_path / "log") as tracker:
        tracker.write(0, b"a" * BLOCK_SIZE)
        tracker.write(BLOCK_SIZE, b"b" * 2 * BLOCK_SIZE)
        tracker.write(0, b"c" * 2 * BLOCK_SIZE)
        tracker.bookmark(BookmarkKind.APP, "vss-writers", "group-1", bookmark_id="app-1")
    log = entries(tmp_path / "log")
    assert [bytes(i.entry.data[:1]) for i in log[:3]] == [b"a", b"b", b"c"]  # type: ignore[union-attr]
    assert log[3].entry == Bookmark("app-1", BookmarkKind.APP, "vss-writers", "group-1", log[3].entry.source_time)  # type: ignore[union-attr]
    assert disk.read_bytes()[: 3 * BLOCK_SIZE] == b"c" * 2 * BLOCK_SIZE + b"b" * BLOCK_SIZE
    assert disk.read_bytes() == replay(log, SIZE)
    assert [i.cursor for i in log] == sorted(i.cursor for i in log)


def test_log_entries_carry_the_blake3_digest_of_their_data(tmp_path: Path, disk: Path):
    import blake3

    with Tracker(disk, tmp_path / "log") as tracker:
        tracker.write(8 * BLOCK_SIZE, os.urandom(3 * BLOCK_SIZE))
    (item,) = entries(tmp_path / "log")
    assert isinstance(item.entry, BlockWrite)
    assert item.entry.digest == blake3.blake3(item.entry.data).digest()


def test_readers_see_only_durable_records(tmp_path: Path, disk: Path):
    with Tracker(disk, tmp_path / "log") as tracker:
        tracker.write(0, b"x" * BLOCK_SIZE)
        end = tracker.write(BLOCK_SIZE, b"y" * BLOCK_SIZE, wait=False)
        assert tracker.durable_position < end
        assert len(entries(tmp_path / "log")) == 1
        tracker.sync()
        assert len(entries(tmp_path / "log")) == 2


def test_resuming_from_a_cursor_yields_the_records_after_it(tmp_path: Path, disk: Path):
    with Tracker(disk, tmp_path / "log", segment_bytes=64 << 10) as tracker:
        for i in range(40):
            tracker.write(i * BLOCK_SIZE, bytes([i]) * BLOCK_SIZE)
    log = entries(tmp_path / "log")
    assert [i.entry for i in entries(tmp_path / "log", log[16].cursor)] == [i.entry for i in log[17:]]
    with pytest.raises(BadCursor):
        entries(tmp_path / "log", log[-1].cursor + 1)


def test_writes_outside_the_disk_or_unaligned_are_refused_and_change_nothing(tmp_path: Path, disk: Path):
    with Tracker(disk, tmp_path / "log") as tracker:
        for offset, data in (
            (SIZE, bytes(BLOCK_SIZE)),
            (100, bytes(BLOCK_SIZE)),
            (0, b"x" * 100),
            (-BLOCK_SIZE, bytes(BLOCK_SIZE)),
        ):
            with pytest.raises(InvalidInput):
                tracker.write(offset, data)
        assert tracker.end_position == 0
    assert entries(tmp_path / "log") == []


def test_concurrent_writers_share_fsyncs_and_keep_each_writers_order(tmp_path: Path, disk: Path):
    class CountingIO(OsIO):
        syncs = 0

        def fdatasync(self, handle: Handle) -> None:
            CountingIO.syncs += 1
            time.sleep(0.002)  # a slow device, so commits overlap
            super().fdatasync(handle)

    with Tracker(disk, tmp_path / "log", io=CountingIO()) as tracker:

        def writer(thread: int) -> None:
            for n in range(50):
                tracker.write((thread * 64 + n % 64) * BLOCK_SIZE, bytes([thread, n]) * (BLOCK_SIZE // 2))

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert CountingIO.syncs < 400 / 2  # group commit: far fewer fsyncs than writes
    log = entries(tmp_path / "log")
    for thread in range(8):
        mine = [bytes(i.entry.data[1:2])[0] for i in log if bytes(i.entry.data[:1])[0] == thread]  # type: ignore[union-attr]
        assert mine == list(range(50))
    assert disk.read_bytes() == replay(log, SIZE)


def test_trim_deletes_only_segments_before_the_cursor(tmp_path: Path, disk: Path):
    with Tracker(disk, tmp_path / "log", segment_bytes=32 << 10) as tracker:
        for i in range(60):
            tracker.write(i * BLOCK_SIZE, bytes([i + 1]) * BLOCK_SIZE)
        log = entries(tmp_path / "log")
        cursor = log[30].cursor
        tracker.trim(cursor)
        assert log[0].cursor <= tracker.first_position <= cursor
        assert [i.entry for i in entries(tmp_path / "log", cursor)] == [i.entry for i in log[31:]]
        with pytest.raises(CursorTrimmed):
            entries(tmp_path / "log", 0)
        with pytest.raises(ValueError, match="durable"):
            tracker.trim(tracker.durable_position + 1)
    with Tracker(disk, tmp_path / "log", segment_bytes=32 << 10) as tracker:
        assert tracker.end_position == log[-1].cursor
    assert disk.read_bytes()[: 60 * BLOCK_SIZE] == b"".join(bytes([i + 1]) * BLOCK_SIZE for i in range(60))


def test_torn_tail_is_truncated_on_open_and_writing_continues(tmp_path: Path, disk: Path):
    with Tracker(disk, tmp_path / "log") as tracker:
        tracker.write(0, b"a" * BLOCK_SIZE)
        end = tracker.write(BLOCK_SIZE, b"b" * BLOCK_SIZE)
    segment = sorted((tmp_path / "log").glob("*.log"))[-1]
    whole = segment.read_bytes()
    segment.write_bytes(whole + whole[: 64 + 1000])  # a record header and part of its data
    with Tracker(disk, tmp_path / "log") as tracker:
        assert tracker.end_position == end
        tracker.write(2 * BLOCK_SIZE, b"c" * BLOCK_SIZE)
    assert [bytes(i.entry.data[:1]) for i in entries(tmp_path / "log")] == [b"a", b"b", b"c"]  # type: ignore[union-attr]


def test_damage_before_the_tail_is_log_corruption(tmp_path: Path, disk: Path):
    with Tracker(disk, tmp_path / "log", segment_bytes=16 << 10) as tracker:
        for i in range(20):
            tracker.write(i * BLOCK_SIZE, bytes([i]) * BLOCK_SIZE)
    first = sorted((tmp_path / "log").glob("*.log"))[0]
    data = bytearray(first.read_bytes())
    data[64 + 100] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(LogCorrupt):
        entries(tmp_path / "log")


class FaultyIO(OsIO):
    """Real I/O that fails the chosen call the chosen way."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_fsync_after: int | None = None
        self.fail_disk_writes = False
        self.fail_appends_with: int | None = None
        self.short_writes = False
        self.fsyncs = 0

    def fdatasync(self, handle: Handle) -> None:
        self.fsyncs += 1
        if self.fail_fsync_after is not None and self.fsyncs > self.fail_fsync_after:
            raise OSError(errno.EIO, "Input/output error")
        super().fdatasync(handle)

    def writev(self, handle: Handle, buffers: Sequence[Buffer]) -> int:
        if self.fail_appends_with is not None:
            raise OSError(self.fail_appends_with, os.strerror(self.fail_appends_with))
        if self.short_writes and sum(len(b) for b in buffers) > 1:
            first = memoryview(buffers[0]).cast("B")
            return super().writev(handle, [first[: max(1, len(first) // 2)]])
        return super().writev(handle, buffers)

    def pwrite(self, handle: Handle, data: Buffer, offset: int) -> int:
        if self.fail_disk_writes and handle.path.endswith("disk"):
            raise OSError(errno.EIO, "Input/output error")
        return super().pwrite(handle, data, offset)


def test_failed_fsync_stops_acknowledging_until_reopened(tmp_path: Path, disk: Path):
    io = FaultyIO()
    tracker = Tracker(disk, tmp_path / "log", io=io)
    tracker.write(0, b"a" * BLOCK_SIZE)
    io.fail_fsync_after = io.fsyncs
    with pytest.raises(TrackerFailed, match="fdatasync"):
        tracker.write(BLOCK_SIZE, b"b" * BLOCK_SIZE)
    io.fail_fsync_after = None  # the device recovers, but the tracker must not trust its page cache any more
    with pytest.raises(TrackerFailed):
        tracker.write(2 * BLOCK_SIZE, b"c" * BLOCK_SIZE)
    with pytest.raises(TrackerFailed):
        tracker.trim(0)
    tracker.close()
    with Tracker(disk, tmp_path / "log") as reopened:
        reopened.write(3 * BLOCK_SIZE, b"d" * BLOCK_SIZE)
    log = entries(tmp_path / "log")
    assert bytes(log[0].entry.data[:1]) == b"a"  # type: ignore[union-attr]
    assert b"c" not in [bytes(i.entry.data[:1]) for i in log]  # type: ignore[union-attr]
    assert disk.read_bytes() == replay(log, SIZE)


def test_no_space_for_the_log_fails_the_write_and_reopen_recovers(tmp_path: Path, disk: Path):
    io = FaultyIO()
    tracker = Tracker(disk, tmp_path / "log", io=io)
    tracker.write(0, b"a" * BLOCK_SIZE)
    io.fail_appends_with = errno.ENOSPC
    with pytest.raises(TrackerFailed, match="No space"):
        tracker.write(BLOCK_SIZE, b"b" * BLOCK_SIZE)
    tracker.close()
    with Tracker(disk, tmp_path / "log") as reopened:
        assert [bytes(i.entry.data[:1]) for i in entries(tmp_path / "log")] == [b"a"]  # type: ignore[union-attr]
        assert reopened.end_position == entries(tmp_path / "log")[-1].cursor


def test_short_writes_are_completed(tmp_path: Path, disk: Path):
    io = FaultyIO()
    io.short_writes = True
    with Tracker(disk, tmp_path / "log", io=io) as tracker:
        tracker.write(0, os.urandom(4 * BLOCK_SIZE))
        tracker.bookmark(BookmarkKind.CRASH)
    assert len(entries(tmp_path / "log")) == 2


def test_a_logged_write_lost_before_reaching_the_disk_is_redone_on_open(tmp_path: Path, disk: Path):
    io = FaultyIO()
    tracker = Tracker(disk, tmp_path / "log", io=io)
    io.fail_disk_writes = True
    with pytest.raises(TrackerFailed, match="source disk"):
        tracker.write(5 * BLOCK_SIZE, b"z" * BLOCK_SIZE)
    tracker.close()
    assert disk.read_bytes()[5 * BLOCK_SIZE : 6 * BLOCK_SIZE] == bytes(BLOCK_SIZE)
    Tracker(disk, tmp_path / "log").close()
    assert disk.read_bytes()[5 * BLOCK_SIZE : 6 * BLOCK_SIZE] == b"z" * BLOCK_SIZE


@pytest.mark.slow
def test_sigkill_while_writing_loses_no_acknowledged_write(tmp_path: Path, disk: Path):
    """Kill a writer process at random moments, 25 times over the same disk and log: every acknowledged write and
    bookmark survives, each writer's order is kept, and the disk equals the log replayed."""
    rng = random.Random(1234)
    log_dir = tmp_path / "log"
    acked_writes: dict[int, tuple[int, int]] = {}
    acked_bookmarks: set[str] = set()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for round_ in range(25):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.dataplane._tracker_child", str(disk), str(log_dir), str(round_ + 1)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == "READY\n"
        time.sleep(rng.uniform(0.01, 0.3))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        for line in out.splitlines():
            if not line.endswith(tuple("0123456789")) and not line.startswith("B "):
                continue  # the kill may cut the last line short
            kind, *fields = line.split()
            if kind == "W" and len(fields) == 3:
                acked_writes[int(fields[0])] = (int(fields[1]), int(fields[2]))
            elif kind == "B":
                acked_bookmarks.add(fields[0])

        Tracker(disk, log_dir, segment_bytes=256 << 10).close()  # recovery
        log = entries(log_dir)
        logged = [int.from_bytes(bytes(i.entry.data[:8]), "little") for i in log if isinstance(i.entry, BlockWrite)]
        assert set(acked_writes) <= set(logged), f"round {round_}: acknowledged writes lost"
        assert acked_bookmarks <= {i.entry.id for i in log if isinstance(i.entry, Bookmark)}
        by_thread: dict[tuple[int, int], list[int]] = {}
        for write_id in logged:
            by_thread.setdefault((write_id // 10**9, write_id // 10**7 % 100), []).append(write_id % 10**7)
        assert all(seq == sorted(seq) for seq in by_thread.values()), "a writer's order was not kept"
        assert disk.read_bytes() == replay(log, SIZE), f"round {round_}: disk differs from the log replayed"
    assert len(acked_writes) > 100


def test_a_change_log_has_one_tracker_at_a_time(tmp_path: Path, disk: Path):
    with Tracker(disk, tmp_path / "log"), pytest.raises(InUse):
        Tracker(disk, tmp_path / "log")
    Tracker(disk, tmp_path / "log").close()  # released on close


def test_a_missing_source_disk_is_a_clear_error_and_releases_the_log(tmp_path: Path):
    with pytest.raises(TrackerFailed, match="missing"):
        Tracker(tmp_path / "missing", tmp_path / "log")
    make_disk(tmp_path / "missing", SIZE)
    Tracker(tmp_path / "missing", tmp_path / "log").close()


def test_reading_a_change_log_that_does_not_exist_says_so(tmp_path: Path):
    with pytest.raises(ChangeLogError, match="no change log"):
        entries(tmp_path / "nowhere")
