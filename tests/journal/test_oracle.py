"""T1/T2: every recovery point reproduces the source exactly as it was at that bookmark, never a later write alone."""

from __future__ import annotations

import shutil
import tempfile
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.journal import Bookmark, BookmarkKind, JournalOptions, Latest, OsIO, PointId
from tests.journal.support import Clock, Source, open_journal, read

SIZE = 64 * 4096

# One step of the sender: a write (block, blocks), an application bookmark, an apply round, or a restart.
step = st.one_of(
    st.tuples(st.just("write"), st.integers(0, 63), st.integers(1, 8)),
    st.tuples(st.just("app"), st.just(0), st.just(0)),
    st.tuples(st.just("crash-tick"), st.just(0), st.just(0)),
    st.tuples(st.just("apply"), st.just(0), st.just(0)),
    st.tuples(st.just("reopen"), st.just(0), st.just(0)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.lists(step, min_size=1, max_size=6), min_size=1, max_size=10))
def test_every_point_holds_exactly_the_source_content_at_its_bookmark(steps: list[list[tuple[str, int, int]]]) -> None:
    root = tempfile.mkdtemp()
    try:
        clock = Clock()
        source = Source(SIZE)
        journal = open_journal(root, SIZE, clock=clock)
        journal.append(source.initial_sync())
        marks = 0
        for batch_steps in steps:
            entries = []
            for kind, block, blocks in batch_steps:
                if kind == "write":
                    entries.append(source.write(block, min(blocks, 64 - block)))
                elif kind == "app":
                    marks += 1
                    entries.append(source.bookmark(f"app-{marks}"))
                elif kind == "crash-tick":
                    clock.advance(31)
                elif kind == "apply":
                    journal.apply_pending()
                elif kind == "reopen":
                    journal.close()
                    journal = open_journal(root, SIZE, clock=clock)
            journal.append(source.batch(entries))
            # An engine crash point marks the state after the whole batch.
            for point in journal.points():
                if point.id.startswith("crash-") and point.id not in source.at_point:
                    source.at_point[point.id] = bytes(source.content)
        points = journal.points()
        assert {p.id for p in points} <= set(source.at_point)
        assert {"synced"} | {f"app-{i}" for i in range(1, marks + 1)} <= {p.id for p in points}
        for point in points:
            journal.bring_to(PointId(point.id))
            assert read(journal.target.path) == source.at_point[point.id], point.id
        journal.bring_to(Latest())
        assert read(journal.target.path) == bytes(source.content)
        journal.cancel()
        assert read(journal.target.path) == bytes(source.content)
        journal.close()
    finally:
        shutil.rmtree(root)


def test_crash_points_come_at_most_every_interval_and_hold_the_batch_boundary(tmp_path) -> None:
    clock = Clock()
    source = Source(SIZE)
    journal = open_journal(str(tmp_path), SIZE, clock=clock)
    journal.append(source.initial_sync())
    journal.append(source.batch([source.write(1, 1), source.bookmark("too-soon", BookmarkKind.CRASH)]))
    clock.advance(30)
    journal.append(source.batch([source.write(2, 1), source.bookmark("on-time", BookmarkKind.CRASH)]))
    after_on_time = bytes(source.content)
    clock.advance(30)
    journal.append(source.batch([source.write(3, 2)]))
    ids = [p.id for p in journal.points()]
    assert ids == ["synced", "on-time", "crash-g1-s4"]
    journal.bring_to(PointId("on-time"))
    assert read(journal.target.path) == after_on_time
    journal.bring_to(PointId("crash-g1-s4"))
    assert read(journal.target.path) == bytes(source.content)
    journal.close()


def test_a_crash_bookmark_at_the_state_of_the_last_point_is_a_point_whatever_the_interval(tmp_path) -> None:
    """A snapshot cycle closes with RESYNC_COMPLETE and then its point's CRASH bookmark (same batch or the next), both
    at once: the sender is acknowledged for that bookmark, so it must be a point one can bring the disk to."""
    clock = Clock()
    source = Source(SIZE)
    journal = open_journal(str(tmp_path), SIZE, clock=clock)
    journal.append(source.initial_sync())
    opened = Bookmark("cycle1-open", BookmarkKind.RESYNC_START)
    journal.append(
        source.batch(
            [
                opened,
                source.write(1, 2),
                source.bookmark("cycle1-resync", BookmarkKind.RESYNC_COMPLETE),
                source.bookmark("cycle1", BookmarkKind.CRASH),
            ]
        )
    )
    opened = Bookmark("cycle2-open", BookmarkKind.RESYNC_START)
    journal.append(
        source.batch([opened, source.write(5, 1), source.bookmark("cycle2-resync", BookmarkKind.RESYNC_COMPLETE)])
    )
    journal.append(source.batch([source.bookmark("cycle2", BookmarkKind.CRASH)]))
    # A CRASH bookmark after a write still waits for the interval: the rate limit holds for new states.
    journal.append(source.batch([source.write(9, 1), source.bookmark("too-soon", BookmarkKind.CRASH)]))
    ids = [p.id for p in journal.points()]
    assert ids == ["synced", "cycle1-resync", "cycle1", "cycle2-resync", "cycle2"]
    for point in ("cycle1", "cycle2"):
        journal.bring_to(PointId(point))
        assert read(journal.target.path) == source.at_point[point], point
    journal.cancel()
    journal.close()


class SlowTargetIO(OsIO):
    """Target writes that take a while, so the next round's capture always overlaps the previous round's writes."""

    def pwrite(self, handle, data, offset):
        if handle.path.endswith("disk"):
            time.sleep(0.002)
        return super().pwrite(handle, data, offset)


def test_points_stay_exact_while_the_next_round_is_captured_during_target_writes(tmp_path) -> None:
    size = 4 << 20
    options = JournalOptions(apply_round_bytes=256 << 10, background_apply=False)
    source = Source(size)
    journal = open_journal(str(tmp_path), size, io=SlowTargetIO(), options=options)
    journal.append(source.initial_sync())
    for name in ("one", "two", "three"):
        # Each batch rewrites the same hot region, spread over several rounds.
        journal.append(source.batch([source.write(16 * i, 16) for i in range(8)] + [source.bookmark(name)]))
    journal.append(source.batch([source.write(16 * i + 4, 8) for i in range(8)]))
    journal.apply_pending()
    for name in ("synced", "one", "two", "three"):
        journal.bring_to(PointId(name))
        assert read(journal.target.path) == source.at_point[name], name
    journal.cancel()
    assert read(journal.target.path) == bytes(source.content)
    journal.close()


class SlowReadsIO(OsIO):
    """Before-image reads that take a while, so a capture outlives the previous round's writes while appends go on."""

    def pread(self, handle, size, offset):
        if handle.path.endswith("disk"):
            time.sleep(0.001)
        return super().pread(handle, size, offset)


def test_points_stay_exact_while_appends_continue_during_slow_captures(tmp_path) -> None:
    size = 2 << 20
    options = JournalOptions(apply_round_bytes=64 << 10, max_pending_bytes=512 << 10, background_apply=True)
    source = Source(size)
    journal = open_journal(str(tmp_path), size, io=SlowReadsIO(), options=options)
    journal.append(source.initial_sync())
    for i in range(300):
        # Every batch rewrites part of the same hot region, so each capture reads the previous round's blocks.
        entries = [source.write((i * 3 + j * 5) % 48, 4) for j in range(4)]
        if i % 3 == 2:
            entries.append(source.bookmark(f"p{i}"))
        journal.append(source.batch(entries))
    journal.apply_pending()
    for point in journal.points():
        journal.bring_to(PointId(point.id))
        assert read(journal.target.path) == source.at_point[point.id], point.id
    journal.cancel()
    assert read(journal.target.path) == bytes(source.content)
    journal.close()
