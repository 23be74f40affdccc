"""T5: enumerate crash states of append, bookmark publish, apply, prune and point-in-time over the recorded op log.

Every prefix of the op log, with the operations no barrier covered kept, dropped or torn (agent.journal.crash_states),
is materialised as files and recovered with the real I/O layer. Recovery must succeed in every state, lose no
acknowledged batch, expose only points whose content is exactly the source's, and never report a mixed disk.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest

from agent.journal import (
    Batch,
    BookmarkKind,
    JournalOptions,
    Latest,
    PairJournal,
    PairState,
    PointId,
    PointUnavailable,
    RecordingIO,
    crash_states,
)
from agent.retention import RetentionPolicy, ThinningRule
from tests.journal.support import Clock, Source, make_target, open_journal, read

SIZE = 16 * 4096
OPTIONS = JournalOptions(
    wal_segment_bytes=48 << 10,
    undo_segment_bytes=8 << 10,
    apply_round_bytes=24 << 10,
    max_pending_bytes=1 << 20,
    background_apply=False,
    catalog_compact_bytes=1 << 10,  # the catalog is rewritten (tmp, fsync, rename) during the workloads too
)


class Scenario:
    def __init__(self, root: str) -> None:
        self.root = root
        self.clock = Clock()
        self.source = Source(SIZE)
        self.by_seq: dict[int, bytes] = {0: bytes(SIZE)}
        self.pruned: set[str] = set()
        self.batches: dict[int, Batch] = {}
        self.policy = RetentionPolicy(window=3600, thinning=(ThinningRule(0, 0),))

    def open(self, io=None) -> PairJournal:
        return open_journal(self.root, SIZE, io=io, clock=self.clock, options=OPTIONS, policy=self.policy)

    def append(self, journal: PairJournal, entries, io: RecordingIO | None = None) -> None:
        batch = self.source.batch(entries)
        self.batches[batch.seq] = batch
        journal.append(batch)
        self.by_seq[batch.seq] = bytes(self.source.content)
        if io is not None:
            io.mark(f"acked:{batch.seq}")

    def prepare(self) -> None:
        """History before recording: an initial sync and a few points, applied."""
        journal = self.open()
        batch = self.source.initial_sync()
        journal.append(batch)
        self.by_seq[batch.seq] = bytes(self.source.content)
        for i in range(3):
            self.clock.advance(600)
            self.append(journal, [self.source.random_write(4), self.source.bookmark(f"old-{i}")])
        journal.apply_pending()
        journal.close()


def check_state(scenario: Scenario, state_root: str, marks: list[str], at_point: str | None) -> None:
    journal = PairJournal.open(
        os.path.join(state_root, "journal"),
        journal_spec(),
        os.path.join(state_root, "disk"),
        clock=scenario.clock,
        options=OPTIONS,
        policy=scenario.policy,
    )
    try:
        acked = max((int(m.split(":")[1]) for m in marks if m.startswith("acked:")), default=0)
        assert journal.durable_seq >= acked, "an acknowledged batch was lost"
        source = scenario.source
        if journal.pair_state is PairState.AT_POINT:
            held = journal.state.failover["point"]
            expected = scenario.by_seq[journal.durable_seq] if held is None else source.at_point[held]
            assert read(journal.target.path) == expected, f"disk held at {held} is a mix"
            journal.cancel()
        elif journal.pair_state is PairState.COMMITTED:
            assert at_point is not None
            assert read(journal.target.path) == source.at_point[at_point], "committed disk is not at the point"
            return
        if not journal.in_resync:
            assert read(journal.target.path) == scenario.by_seq[journal.durable_seq], "latest is not the source"
        points = journal.points()
        ids = {p.id for p in points}
        acked_points = {pid for seq in range(1, acked + 1) for pid in points_of(source, seq)}
        assert acked_points - scenario.pruned <= ids, "an acknowledged point disappeared"
        for point in points:
            journal.bring_to(PointId(point.id))
            assert read(journal.target.path) == source.at_point[point.id], f"point {point.id} is not the source"
        if journal.in_resync:
            # Inside the initial sync the disk means nothing yet (unacknowledged batches may already be on it):
            # what must hold is that no point shows and that resending from durable_seq + 1 converges.
            with pytest.raises(PointUnavailable):
                journal.bring_to(Latest())
            assert points == [], "a point was exposed inside the initial sync"
            for seq in range(journal.durable_seq + 1, max(scenario.batches) + 1):
                journal.append(scenario.batches[seq])
            journal.apply_pending()
            for point in journal.points():
                journal.bring_to(PointId(point.id))
                assert read(journal.target.path) == source.at_point[point.id], f"point {point.id} after resend"
            journal.cancel()
        else:
            journal.bring_to(Latest())
            journal.cancel()
        assert read(journal.target.path) == scenario.by_seq[journal.durable_seq]
    finally:
        journal.close()


def journal_spec():
    from agent.journal import PairSpec

    return PairSpec("pair-1", 1, SIZE)


def points_of(source: Source, seq: int) -> list[str]:
    return source.points_by_seq.get(seq, [])


def enumerate_and_check(
    tmp_path, work: Callable[[Scenario, PairJournal, RecordingIO], str | None], *, prepare: bool = True
) -> bool:
    """Run ``work`` under the recording I/O layer, check every crash state; True if the catalog was compacted."""
    run = str(tmp_path / "run")
    os.makedirs(run)
    scenario = Scenario(run)
    scenario.source.points_by_seq = {}
    if prepare:
        scenario.prepare()
    else:
        make_target(os.path.join(run, "disk"), SIZE)
    io = RecordingIO(run)
    journal = scenario.open(io)
    start = len(io.ops)
    at_point = work(scenario, journal, io)
    journal.close()
    compacted = any(op.kind == "rename" for op in io.ops[start:])
    count = 0
    for state in crash_states(io, start=start):
        dest = str(tmp_path / "state")
        state.materialize(run, dest)
        try:
            check_state(scenario, dest, state.marks, at_point)
        except AssertionError as exc:
            raise AssertionError(f"crash state after {state.prefix} ops ({state.variant}): {exc}") from exc
        finally:
            shutil.rmtree(dest)
        count += 1
    assert count > 20, "the workload produced too few crash states to mean anything"
    return compacted


def _append_with_points(scenario: Scenario, journal: PairJournal, io: RecordingIO) -> None:
    source = scenario.source
    for i in range(4):
        scenario.clock.advance(10)
        entries = [source.random_write(3)]
        if i % 2:
            # A point inside the batch: its history starts in the middle of the round's undo record.
            entries.append(source.bookmark(f"new-{i}"))
            source.points_by_seq[source.seq + 1] = [f"new-{i}"]
        entries.append(source.random_write(2))
        scenario.append(journal, entries, io)


def test_append_publish_and_apply_recover_in_every_crash_state(tmp_path) -> None:
    def work(scenario: Scenario, journal: PairJournal, io: RecordingIO) -> None:
        _append_with_points(scenario, journal, io)
        journal.apply_pending()
        return

    enumerate_and_check(tmp_path, work)


def test_the_initial_sync_written_straight_to_the_target_recovers_in_every_crash_state(tmp_path) -> None:
    def work(scenario: Scenario, journal: PairJournal, io: RecordingIO) -> None:
        source = scenario.source
        scenario.append(journal, [source.write(0, 8)], io)
        scenario.append(
            journal,
            [source.write(8, 8), source.bookmark("synced", BookmarkKind.RESYNC_COMPLETE), source.write(2, 1)],
            io,
        )
        source.points_by_seq[source.seq] = ["synced"]
        scenario.append(journal, [source.random_write(3), source.bookmark("after")], io)
        source.points_by_seq[source.seq] = ["after"]
        journal.apply_pending()

    enumerate_and_check(tmp_path, work, prepare=False)


def test_prune_recovers_in_every_crash_state(tmp_path) -> None:
    def work(scenario: Scenario, journal: PairJournal, io: RecordingIO) -> None:
        _append_with_points(scenario, journal, io)
        journal.apply_pending()
        scenario.clock.advance(3000)  # synced, old-0 and old-1 leave the one-hour window
        removed = journal.prune()
        assert set(removed) == {"synced", "old-0", "old-1"}
        scenario.pruned |= set(removed)
        return

    enumerate_and_check(tmp_path, work)


@pytest.mark.parametrize("finish", ["cancel", "commit"])
def test_bring_to_point_cancel_and_commit_recover_in_every_crash_state(tmp_path, finish: str) -> None:
    def work(scenario: Scenario, journal: PairJournal, io: RecordingIO) -> str:
        _append_with_points(scenario, journal, io)
        journal.bring_to(PointId("old-0"))
        io.mark("at:old-0")
        if finish == "cancel":
            journal.cancel()
            journal.bring_to(PointId("new-1"))
            return "new-1"
        journal.commit()
        return "old-0"

    enumerate_and_check(tmp_path, work)


def test_starting_a_new_generation_never_replays_the_old_generations_batches(tmp_path) -> None:
    run = str(tmp_path / "run")
    os.makedirs(run)
    scenario = Scenario(run)
    scenario.source.points_by_seq = {}
    scenario.prepare()
    journal = scenario.open()
    scenario.append(journal, [scenario.source.random_write(3)])  # left unapplied in the redo journal
    journal.close()
    io = RecordingIO(run)
    open_journal(run, SIZE, io=io, options=OPTIONS, generation=2).close()
    count = 0
    for state in crash_states(io):
        dest = str(tmp_path / "state")
        state.materialize(run, dest)
        try:
            renewed = open_journal(dest, SIZE, options=OPTIONS, generation=2)
            assert renewed.durable_seq == 0, f"after {state.prefix} ops ({state.variant}): old batches replayed"
            assert renewed.points() == []
            renewed.close()
        finally:
            shutil.rmtree(dest)
        count += 1
    assert count > 5
