"""T8: a 64 MiB retention volume (real ext4 and xfs on a loop device) filled by a fast stream of appends: pruning by
policy first, then back-pressure with a clear reason, resuming by itself when space returns; every remaining point
exact. With a hard limit chosen instead, the oldest points go and replication never stops."""

from __future__ import annotations

import errno
import os

import pytest

from agent.journal import HealthState, JournalOptions, PairJournal, PairSpec, PointId, RetentionFull
from agent.retention import RetentionPolicy, ThinningRule
from failback.retry import Policy
from tests.journal.support import Clock, Source, make_target, read
from tests.retention.loopfs import loop_volume

DISK = 8 << 20
OPTIONS = JournalOptions(
    wal_segment_bytes=4 << 20,
    undo_segment_bytes=1 << 20,
    apply_round_bytes=4 << 20,
    max_pending_bytes=4 << 20,
    background_apply=False,
)


def stream(journal: PairJournal, source: Source, clock: Clock, count: int) -> None:
    """``count`` batches of 512 KiB of incompressible overwrites, a point each, ten seconds apart."""
    for i in range(count):
        clock.advance(10)
        journal.append(source.batch([source.random_write(64) for _ in range(2)] + [source.bookmark(f"p{i}")]))
    journal.apply_pending()


def check_every_point(journal: PairJournal, source: Source, target: str) -> None:
    for point in journal.points():
        journal.bring_to(PointId(point.id))
        assert read(target) == source.at_point[point.id], point.id
    journal.cancel()
    assert read(target) == bytes(source.content)


def fill_leaving(path: str, room: int) -> None:
    """Fill the volume to ENOSPC, then give back ``room`` bytes: sized by the file system itself, so space that xfs
    frees in the background after an unlink is taken too."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        chunk = b"\xff" * (1 << 20)
        written = 0
        while True:
            try:
                written += os.write(fd, chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        os.ftruncate(fd, max(0, written - room))
        os.fsync(fd)
    finally:
        os.close(fd)


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.parametrize("fstype", ["ext4", "xfs"])
def test_a_full_retention_volume_prunes_by_policy_then_pushes_back_then_resumes(tmp_path, fstype: str) -> None:
    with loop_volume(str(tmp_path), fstype) as volume:
        clock = Clock()
        source = Source(DISK)
        target = make_target(str(tmp_path / "disk"), DISK)
        # Five minutes of history: ~15 MiB of undo, well under the ~34 MiB threshold; the stream writes ~80 MiB.
        policy = RetentionPolicy(window=300, thinning=(ThinningRule(0, 0),), threshold_pct=60)
        journal = PairJournal.open(
            os.path.join(volume.mountpoint, "pair-1"),
            PairSpec("pair-1", 1, DISK),
            target,
            clock=clock,
            options=OPTIONS,
            policy=policy,
        )
        try:
            journal.append(source.initial_sync())
            stream(journal, source, clock, 160)
            points = journal.points()
            ids = {p.id for p in points}
            assert "synced" not in ids, "nothing was pruned although the volume filled up"
            assert {f"p{i}" for i in range(129, 160)} <= ids, "a point inside the five-minute window was pruned"
            assert journal.health().state is HealthState.OK
            # Another tenant fills the volume: nothing in the policy is left to prune, so appends are pushed back.
            filler = os.path.join(volume.mountpoint, "filler")
            fill_leaving(filler, 4 << 20)
            blocked = source.batch([source.random_write(64), source.bookmark("after-full")])
            for _ in range(2):
                with pytest.raises(RetentionFull, match="acknowledgements are paused"):
                    journal.append(blocked)
            assert journal.durable_seq == blocked.seq - 1
            assert journal.health().state is HealthState.ERROR
            window = {f"p{i}" for i in range(129, 160)}
            assert {p.id for p in journal.points()} == window, "back-pressure dropped a point the policy keeps"
            # Space returns (xfs frees an unlinked file in the background): the sender's retry of the same batch
            # goes through and health recovers.
            os.unlink(filler)
            assert Policy(deadline=30).call(lambda: journal.append(blocked), what="space to return") == blocked.seq
            assert journal.health().state is HealthState.OK
            journal.apply_pending()
            check_every_point(journal, source, target)
            assert journal.needs_verify is None
        finally:
            journal.close()


@pytest.mark.root
@pytest.mark.slow
def test_with_a_hard_limit_the_oldest_points_go_and_replication_never_stops(tmp_path) -> None:
    with loop_volume(str(tmp_path), "ext4") as volume:
        clock = Clock()
        source = Source(DISK)
        target = make_target(str(tmp_path / "disk"), DISK)
        policy = RetentionPolicy(threshold_pct=60, shorten_when_full=True)  # a 24 h window the volume cannot hold
        journal = PairJournal.open(
            os.path.join(volume.mountpoint, "pair-1"),
            PairSpec("pair-1", 1, DISK),
            target,
            clock=clock,
            options=OPTIONS,
            policy=policy,
        )
        try:
            journal.append(source.initial_sync())
            stream(journal, source, clock, 160)
            ids = [p.id for p in journal.points()]
            assert "synced" not in ids, "nothing was pruned although the volume filled up"
            assert "p0" not in ids, "the oldest points survived although the volume filled up"
            assert ids[-1] == "p159", "the newest point was pruned"
            health = journal.health()
            assert health.state is HealthState.WARNING
            assert any("retention shortened" in reason for reason in health.reasons)
            check_every_point(journal, source, target)
        finally:
            journal.close()
