"""The on-disk backlog: exact resend after a restart, trimming on the watermark, torn tails, mismatches."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from agent.dataplane import BLOCK_SIZE, Backlog, Bookmark, BookmarkKind, EncodedBatch, encode_block
from agent.dataplane.errors import (
    BacklogCorrupt,
    BacklogFailed,
    BacklogMismatch,
    InUse,
    SequenceGap,
    WatermarkAhead,
    WatermarkBehind,
)
from agent.journal import Handle, OsIO


def batch(seq: int, blocks: int = 4) -> EncodedBatch:
    entries: list = [
        encode_block(i * BLOCK_SIZE, os.urandom(BLOCK_SIZE) if i % 2 else bytes([seq % 256]) * BLOCK_SIZE)
        for i in range(blocks)
    ]
    entries.append(Bookmark(f"bm-{seq}", BookmarkKind.CRASH, None, "grp", float(seq)))
    return EncodedBatch(seq, tuple(entries), seq * 100, 1000.0 + seq)


def same(a: EncodedBatch, b: EncodedBatch) -> bool:
    def key(e):
        return (e.offset, e.length, bytes(e.compressed), e.digest, e.codec) if hasattr(e, "codec") else e

    return (a.seq, a.cursor, a.captured_at, [key(e) for e in a.entries]) == (
        b.seq,
        b.cursor,
        b.captured_at,
        [key(e) for e in b.entries],
    )


def open_backlog(path: Path, **kwargs) -> Backlog:
    return Backlog(path, pair="pair-1", generation=3, segment_bytes=kwargs.pop("segment_bytes", 40 << 10), **kwargs)


def test_a_restart_resends_exactly_the_unacknowledged_batches(tmp_path: Path):
    written = [batch(seq) for seq in range(1, 21)]
    with open_backlog(tmp_path) as backlog:
        for b in written:
            backlog.append(b)
        backlog.sync()
        backlog.acknowledge(6)
    with open_backlog(tmp_path) as backlog:  # the process server restarted
        assert backlog.acknowledge(13) == written[12].cursor  # the master target's durable watermark
        resent = list(backlog.unacknowledged())
        assert [b.seq for b in resent] == list(range(14, 21))
        assert all(same(a, b) for a, b in zip(resent, written[13:], strict=True))
        assert backlog.next_seq == 21
        assert backlog.resume_cursor == written[-1].cursor


def test_acknowledging_deletes_whole_segments_at_or_below_the_watermark_but_keeps_the_newest(tmp_path: Path):
    with open_backlog(tmp_path) as backlog:
        for seq in range(1, 31):
            backlog.append(batch(seq))
        backlog.sync()
        segments_before = len(list(tmp_path.glob("*.blg")))
        backlog.acknowledge(30)
        assert len(list(tmp_path.glob("*.blg"))) == 1 < segments_before
        assert list(backlog.unacknowledged()) == []
        assert (backlog.pending_batches, backlog.pending_bytes) == (0, 0)
    with open_backlog(tmp_path) as backlog:
        assert backlog.next_seq == 31
        assert backlog.resume_cursor == 3000


def test_a_fresh_backlog_starts_at_seq_1_and_the_initial_cursor(tmp_path: Path):
    with open_backlog(tmp_path, initial_cursor=77) as backlog:
        assert (backlog.next_seq, backlog.resume_cursor) == (1, 77)
        assert backlog.acknowledge(0) is None


def test_batches_must_continue_the_sequence(tmp_path: Path):
    with open_backlog(tmp_path) as backlog:
        backlog.append(batch(1))
        with pytest.raises(SequenceGap):
            backlog.append(batch(3))
        with pytest.raises(SequenceGap):
            backlog.append(batch(1))


def test_a_watermark_past_the_backlog_needs_a_resync(tmp_path: Path):
    with open_backlog(tmp_path) as backlog:
        backlog.append(batch(1))
        with pytest.raises(WatermarkAhead, match="resync"):
            backlog.acknowledge(2)


def test_a_watermark_below_trimmed_batches_needs_a_resync(tmp_path: Path):
    with open_backlog(tmp_path) as backlog:
        for seq in range(1, 31):
            backlog.append(batch(seq))
        backlog.acknowledge(25)
        with pytest.raises(WatermarkBehind):
            backlog.acknowledge(2)


def test_a_lower_watermark_still_held_makes_those_batches_pending_again(tmp_path: Path):
    with open_backlog(tmp_path, segment_bytes=1 << 30) as backlog:
        for seq in range(1, 6):
            backlog.append(batch(seq))
        backlog.acknowledge(4)
        backlog.acknowledge(2)  # the receiver restarted from its durable state
        assert [b.seq for b in backlog.unacknowledged()] == [3, 4, 5]


def test_torn_tail_is_truncated_and_appending_continues(tmp_path: Path):
    with open_backlog(tmp_path, segment_bytes=1 << 30) as backlog:
        for seq in range(1, 4):
            backlog.append(batch(seq))
    segment = sorted(tmp_path.glob("*.blg"))[-1]
    data = segment.read_bytes()
    segment.write_bytes(data + data[:500])
    with open_backlog(tmp_path, segment_bytes=1 << 30) as backlog:
        assert backlog.next_seq == 4
        backlog.append(batch(4))
    with open_backlog(tmp_path, segment_bytes=1 << 30) as backlog:
        assert [b.seq for b in backlog.unacknowledged()] == [1, 2, 3, 4]


def test_a_segment_whose_first_frame_is_torn_is_dropped(tmp_path: Path):
    with open_backlog(tmp_path, segment_bytes=1) as backlog:  # one batch per segment
        for seq in range(1, 4):
            backlog.append(batch(seq))
    newest = sorted(tmp_path.glob("*.blg"))[-1]
    newest.write_bytes(newest.read_bytes()[:100])
    with open_backlog(tmp_path, segment_bytes=1) as backlog:
        assert backlog.next_seq == 3
        backlog.append(batch(3))
        assert [b.seq for b in backlog.unacknowledged()] == [1, 2, 3]


def test_damage_before_the_tail_is_corruption(tmp_path: Path):
    with open_backlog(tmp_path) as backlog:
        for seq in range(1, 30):
            backlog.append(batch(seq))
    oldest = sorted(tmp_path.glob("*.blg"))[0]
    data = bytearray(oldest.read_bytes())
    data[300] ^= 0x10
    oldest.write_bytes(bytes(data))
    with pytest.raises(BacklogCorrupt):
        open_backlog(tmp_path)


def test_a_backlog_belongs_to_one_pair_and_generation(tmp_path: Path):
    open_backlog(tmp_path).close()
    with pytest.raises(BacklogMismatch):
        Backlog(tmp_path, pair="pair-1", generation=4)
    with pytest.raises(BacklogMismatch):
        Backlog(tmp_path, pair="pair-2", generation=3)


def test_pending_counters_and_oldest_capture(tmp_path: Path):
    with open_backlog(tmp_path, segment_bytes=1 << 30) as backlog:
        for seq in range(1, 5):
            backlog.append(batch(seq))
        backlog.acknowledge(2)
        assert backlog.pending_batches == 2
        assert backlog.oldest_pending_capture == 1003.0
        assert backlog.pending_bytes > 2 * 2 * BLOCK_SIZE


class FailingIO(OsIO):
    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    def writev(self, handle: Handle, buffers) -> int:
        if self.fail:
            written = super().writev(handle, [memoryview(buffers[0])[:10]])  # a torn frame, then the error
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) if written else AssertionError
        return super().writev(handle, buffers)

    def fdatasync(self, handle: Handle) -> None:
        if self.fail:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        super().fdatasync(handle)


def test_after_a_failed_append_the_backlog_takes_nothing_until_reopened(tmp_path: Path):
    io = FailingIO()
    backlog = open_backlog(tmp_path, segment_bytes=1 << 30, io=io)
    backlog.append(batch(1))
    backlog.sync()
    io.fail = True
    with pytest.raises(BacklogFailed, match="No space"):
        backlog.append(batch(2))
    io.fail = False
    with pytest.raises(BacklogFailed):
        backlog.append(batch(2))
    with pytest.raises(BacklogFailed):
        backlog.sync()
    backlog.close()
    with open_backlog(tmp_path, segment_bytes=1 << 30) as reopened:  # the torn frame is cut off
        assert reopened.next_seq == 2
        reopened.append(batch(2))
        assert [b.seq for b in reopened.unacknowledged()] == [1, 2]


def test_a_failed_fsync_stops_the_backlog(tmp_path: Path):
    io = FailingIO()
    with open_backlog(tmp_path, io=io) as backlog:
        backlog.append(batch(1))
        io.fail = True
        with pytest.raises(BacklogFailed, match="fdatasync"):
            backlog.sync()
        io.fail = False
        with pytest.raises(BacklogFailed):
            backlog.append(batch(2))


def test_a_backlog_has_one_sender_at_a_time(tmp_path: Path):
    with open_backlog(tmp_path), pytest.raises(InUse):
        open_backlog(tmp_path)
    open_backlog(tmp_path).close()
