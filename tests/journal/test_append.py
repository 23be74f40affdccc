"""The append contract with the receive path: durability, replays, gaps, generations, bad input, resync windows."""

from __future__ import annotations

import os

import pytest

from agent.journal import (
    Batch,
    BlockWrite,
    Bookmark,
    BookmarkKind,
    InvalidBatch,
    Latest,
    OutOfBounds,
    PairJournal,
    PairSpec,
    PointUnavailable,
    SequenceGap,
    StaleGeneration,
    TargetUnusable,
)
from failback.retry import Policy
from tests.journal.support import SMALL, Source, block_write, make_target, open_journal, read

SIZE = 64 * 4096


def journal_files(root: str) -> dict[str, int]:
    sizes = {}
    for folder, _, files in os.walk(os.path.join(root, "journal")):
        for name in files:
            sizes[os.path.join(folder, name)] = os.path.getsize(os.path.join(folder, name))
    return sizes


@pytest.fixture
def synced(tmp_path):
    source = Source(SIZE)
    journal = open_journal(str(tmp_path), SIZE)
    journal.append(source.initial_sync())
    yield source, journal
    journal.close()


def test_an_acknowledged_batch_is_on_the_target_after_reopen_even_if_never_applied(tmp_path) -> None:
    source = Source(SIZE)
    journal = open_journal(str(tmp_path), SIZE)
    assert journal.append(source.initial_sync()) == 1
    assert journal.applied_seq == 0
    journal.close()
    reopened = open_journal(str(tmp_path), SIZE)
    assert reopened.durable_seq == 1
    assert read(reopened.target.path) == bytes(source.content)
    reopened.close()


def test_a_replayed_batch_is_ignored_and_never_applied_twice(synced) -> None:
    source, journal = synced
    first = source.batch([source.write(5, 1, fill=1)])
    journal.append(first)
    journal.append(source.batch([source.write(5, 1, fill=2)]))
    assert journal.append(first) == 3
    journal.apply_pending()
    assert read(journal.target.path) == bytes(source.content)


def test_a_gap_in_seq_is_refused_with_the_seq_to_resend(synced) -> None:
    source, journal = synced
    with pytest.raises(SequenceGap) as info:
        journal.append(Batch(1, 5, [source.write(1, 1)]))
    assert info.value.expected == 2
    assert journal.durable_seq == 1


def test_a_batch_of_another_generation_is_refused(synced) -> None:
    source, journal = synced
    with pytest.raises(StaleGeneration):
        journal.append(Batch(0, 2, [source.write(1, 1)]))


def test_opening_an_older_generation_is_refused_and_a_newer_one_starts_afresh(tmp_path) -> None:
    source = Source(SIZE)
    journal = open_journal(str(tmp_path), SIZE, generation=2)
    source.generation = 2
    journal.append(source.initial_sync())
    journal.close()
    with pytest.raises(StaleGeneration):
        open_journal(str(tmp_path), SIZE, generation=1)
    renewed = open_journal(str(tmp_path), SIZE, generation=3)
    assert renewed.durable_seq == 0
    assert renewed.points() == []
    assert renewed.in_resync
    renewed.close()


BAD_WRITES = [
    pytest.param(BlockWrite(-4096, bytes(4096), bytes(32)), id="negative"),
    pytest.param(BlockWrite(100, bytes(4096), bytes(32)), id="unaligned-offset"),
    pytest.param(BlockWrite(0, bytes(100), bytes(32)), id="unaligned-length"),
    pytest.param(BlockWrite(SIZE, bytes(4096), bytes(32)), id="past-end"),
    pytest.param(BlockWrite(SIZE - 4096, bytes(8192), bytes(32)), id="straddles-end"),
    pytest.param(BlockWrite(2**63, bytes(4096), bytes(32)), id="2^63"),
    pytest.param(BlockWrite(0, b"", bytes(32)), id="zero-length"),
]


@pytest.mark.parametrize("bad", BAD_WRITES)
def test_an_out_of_bounds_write_is_refused_and_changes_nothing(synced, tmp_path, bad: BlockWrite) -> None:
    source, journal = synced
    before = journal_files(str(tmp_path))
    with pytest.raises(OutOfBounds):
        journal.append(source.batch([source.write(1, 1), bad]))
    assert journal.durable_seq == 1
    assert journal_files(str(tmp_path)) == before


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(BlockWrite(0, bytes(4096), b"short"), id="digest-size"),
        pytest.param(Bookmark("synced", BookmarkKind.APP), id="reused-bookmark-id"),
        pytest.param(Bookmark("", BookmarkKind.APP), id="empty-bookmark-id"),
        pytest.param(Bookmark("x" * 300, BookmarkKind.APP), id="long-bookmark-id"),
        pytest.param("not an entry", id="foreign-entry"),
    ],
)
def test_a_malformed_entry_is_refused_and_changes_nothing(synced, tmp_path, entry) -> None:
    _source, journal = synced
    before = journal_files(str(tmp_path))
    with pytest.raises(InvalidBatch):
        journal.append(Batch(1, 2, [block_write(0, bytes(4096)), entry]))
    assert journal.durable_seq == 1
    assert journal_files(str(tmp_path)) == before


def test_the_initial_sync_keeps_no_before_images_and_exposes_no_point_until_it_completes(tmp_path) -> None:
    source = Source(SIZE)
    journal = open_journal(str(tmp_path), SIZE)
    journal.append(source.batch([source.write(0, 32), source.bookmark("too-early")]))
    journal.apply_pending()
    assert journal.points() == []
    with pytest.raises(PointUnavailable):
        journal.bring_to(Latest())
    journal.append(source.batch([source.write(32, 32), source.bookmark("done", BookmarkKind.RESYNC_COMPLETE)]))
    journal.apply_pending()
    assert [p.id for p in journal.points()] == ["done"]
    assert journal.undo.total_bytes() == 0
    journal.close()


def test_a_resync_window_on_a_consistent_disk_hides_points_but_keeps_older_ones_reachable(synced) -> None:
    source, journal = synced
    journal.append(source.batch([source.write(1, 2), source.bookmark("before")]))
    journal.append(source.batch([Bookmark("resync", BookmarkKind.RESYNC_START), source.write(1, 4)]))
    journal.append(source.batch([source.write(7, 1), source.bookmark("inside")]))
    assert journal.in_resync
    journal.append(source.batch([source.write(9, 1), source.bookmark("after", BookmarkKind.RESYNC_COMPLETE)]))
    assert [p.id for p in journal.points()] == ["synced", "before", "after"]
    from agent.journal import PointId

    journal.bring_to(PointId("before"))
    assert read(journal.target.path) == source.at_point["before"]
    journal.cancel()


def test_a_target_smaller_than_the_pair_is_refused(tmp_path) -> None:
    make_target(str(tmp_path / "disk"), SIZE // 2)
    with pytest.raises(TargetUnusable):
        PairJournal.open(str(tmp_path / "journal"), PairSpec("pair-1", 1, SIZE), str(tmp_path / "disk"))


def test_the_background_applier_brings_the_target_to_latest(tmp_path) -> None:
    from dataclasses import replace

    source = Source(SIZE)
    journal = open_journal(str(tmp_path), SIZE, options=replace(SMALL, background_apply=True))
    journal.append(source.initial_sync())
    journal.append(source.batch([source.random_write() for _ in range(5)]))
    Policy(deadline=10).wait_for(lambda: journal.applied_seq == 2 or None, what="the applier to catch up")
    assert read(journal.target.path) == bytes(source.content)
    journal.close()
