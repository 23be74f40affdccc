"""T7: EIO on the Nth fsync, ENOSPC, short writes: the call fails, nothing more is acknowledged, ever, and the pair is
marked for verify; reopening recovers every batch acknowledged before the failure (the PostgreSQL fsync lesson)."""

from __future__ import annotations

import os
import shutil

import pytest

from agent.journal import (
    BookmarkKind,
    FaultPlan,
    HealthState,
    JournalFailed,
    PairJournal,
    PairState,
    PointId,
    RecordingIO,
)
from tests.journal.support import Clock, Source, make_target, open_journal, read

SIZE = 16 * 4096


def workload(journal: PairJournal, source: Source, acked: list[int], contents: dict[int, bytes]) -> None:
    for i in range(4):
        batch = source.batch([source.random_write(3), source.bookmark(f"p{i}"), source.random_write(2)])
        contents[batch.seq] = bytes(source.content)  # a failed append may still have become durable
        acked.append(journal.append(batch))
        if i % 2:
            journal.apply_pending()
    journal.bring_to(PointId("p1"))
    journal.cancel()
    journal.apply_pending()


def prepared(root: str) -> tuple[Source, dict[int, bytes]]:
    source = Source(SIZE)
    journal = open_journal(root, SIZE)
    journal.append(source.initial_sync())
    journal.close()
    return source, {1: bytes(source.content)}


def count_faultable(tmp_path) -> tuple[int, int]:
    root = str(tmp_path / "count")
    source, contents = prepared(root)
    io = RecordingIO(root)
    journal = open_journal(root, SIZE, io=io, clock=Clock())
    fsyncs, writes = io.fsyncs, io.writes
    workload(journal, source, [], contents)
    journal.close()
    shutil.rmtree(root)
    return io.fsyncs - fsyncs, io.writes - writes


def run_with_fault(tmp_path, name: str, make_plan) -> int:
    """Run the workload with the fault injected; check the aftermath. Returns how many runs hit the fault."""
    fsyncs, writes = count_faultable(tmp_path)
    hits = 0
    for n in range(1, (fsyncs if name == "fsync" else writes) + 1):
        root = str(tmp_path / f"{name}-{n}")
        source, contents = prepared(root)
        io = RecordingIO(root)
        journal = open_journal(root, SIZE, io=io, clock=Clock())
        io.faults = make_plan(io, n)
        acked: list[int] = []
        try:
            workload(journal, source, acked, contents)
        except JournalFailed:
            hits += 1
            assert journal.health().state is HealthState.ERROR
            assert journal.needs_verify
            # The device works again, but the journal must not believe it: no success after a failure.
            for _ in range(2):
                with pytest.raises(JournalFailed):
                    journal.append(source.batch([source.random_write(1)]))
            with pytest.raises(JournalFailed):
                journal.apply_pending()
        else:
            continue
        finally:
            journal.close()
        reopened = open_journal(root, SIZE, clock=Clock())
        assert reopened.durable_seq >= max(acked, default=1), f"fault at {name} #{n} lost an acknowledged batch"
        if reopened.pair_state is PairState.AT_POINT:
            # The failure hit while bringing the disk to p1 or back: recovery finished going there, never a mix.
            assert read(reopened.target.path) == source.at_point["p1"]
            reopened.cancel()
        assert read(reopened.target.path) == contents[reopened.durable_seq]
        assert reopened.needs_verify, f"fault at {name} #{n} did not mark the pair for verify"
        reopened.mark_verified()
        reopened.close()
        assert open_journal(root, SIZE).needs_verify is None
        shutil.rmtree(root)
    return hits


def test_eio_on_any_fsync_stops_acknowledging_and_marks_the_pair(tmp_path) -> None:
    hits = run_with_fault(tmp_path, "fsync", lambda io, n: FaultPlan(fail_fsync_at=io.fsyncs + n))
    assert hits == count_faultable(tmp_path)[0]


def test_enospc_on_any_write_stops_acknowledging_and_marks_the_pair(tmp_path) -> None:
    hits = run_with_fault(tmp_path, "write", lambda io, n: FaultPlan(enospc_write_at=io.writes + n))
    assert hits == count_faultable(tmp_path)[1]


def test_a_short_write_followed_by_enospc_fails_the_call(tmp_path) -> None:
    hits = run_with_fault(tmp_path, "write", lambda io, n: FaultPlan(short_write_at=io.writes + n))
    assert hits > 0


def test_a_short_write_that_the_device_then_completes_is_not_an_error(tmp_path) -> None:
    root = str(tmp_path)
    source, contents = prepared(root)
    io = RecordingIO(root)
    journal = open_journal(root, SIZE, io=io, clock=Clock())
    io.faults = FaultPlan(short_write_at=io.writes + 1, short_then_enospc=False)
    acked: list[int] = []
    workload(journal, source, acked, contents)
    assert acked == [2, 3, 4, 5]
    assert read(journal.target.path) == bytes(source.content)
    assert journal.needs_verify is None
    journal.close()
    assert os.path.exists(root)


def test_eio_during_the_initial_sync_stops_acknowledging_and_resending_converges(tmp_path) -> None:
    hits = 0
    for n in range(1, 12):
        root = str(tmp_path / f"sync-{n}")
        os.makedirs(root)
        source = Source(SIZE)
        batches = [
            source.batch([source.write(0, 8)]),
            source.batch([source.write(8, 8)]),
            source.batch([source.write(4, 2), source.bookmark("synced", BookmarkKind.RESYNC_COMPLETE)]),
        ]
        make_target(os.path.join(root, "disk"), SIZE)
        io = RecordingIO(root)
        journal = open_journal(root, SIZE, io=io, clock=Clock())
        io.faults = FaultPlan(fail_fsync_at=io.fsyncs + n)
        acked = 0
        try:
            for batch in batches:
                acked = journal.append(batch)
        except JournalFailed:
            hits += 1
            with pytest.raises(JournalFailed):
                journal.append(batches[-1])
        finally:
            journal.close()
        reopened = open_journal(root, SIZE, clock=Clock())
        assert reopened.durable_seq >= acked
        for batch in batches[reopened.durable_seq :]:
            reopened.append(batch)
        reopened.bring_to(PointId("synced"))
        assert read(reopened.target.path) == source.at_point["synced"]
        reopened.close()
    assert hits >= 6, f"only {hits} runs hit the injected fault"
