"""T8: a 64 MiB retention volume (real ext4 and xfs on a loop device) filled by a fast stream of appends: pruning
first, then back-pressure with a clear reason, resuming by itself when space returns; every remaining point exact."""

from __future__ import annotations

import errno
import os

import pytest

from agent.journal import HealthState, JournalOptions, PairJournal, PairSpec, PointId, RetentionFull
from agent.retention import RetentionPolicy
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


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.parametrize("fstype", ["ext4", "xfs"])
def test_a_full_retention_volume_prunes_then_pushes_back_then_resumes(tmp_path, fstype: str) -> None:
    with loop_volume(str(tmp_path), fstype) as volume:
        clock = Clock()
        source = Source(DISK)
        target = make_target(str(tmp_path / "disk"), DISK)
        journal = PairJournal.open(
            os.path.join(volume.mountpoint, "pair-1"),
            PairSpec("pair-1", 1, DISK),
            target,
            clock=clock,
            options=OPTIONS,
            policy=RetentionPolicy(threshold_pct=60),
        )
        try:
            journal.append(source.initial_sync())
            # Phase 1: ~80 MiB of incompressible overwrites into a volume whose threshold is ~35 MiB.
            for i in range(160):
                clock.advance(10)
                journal.append(source.batch([source.random_write(64) for _ in range(2)] + [source.bookmark(f"p{i}")]))
            journal.apply_pending()
            ids = [p.id for p in journal.points()]
            assert "synced" not in ids, "nothing was pruned although the volume filled up"
            assert "p0" not in ids, "the oldest points survived although the volume filled up"
            assert ids[-1] == "p159", "the newest point was pruned"
            health = journal.health()
            assert health.state is HealthState.WARNING
            assert any("retention shortened" in reason for reason in health.reasons)
            # Phase 2: history is cut to the newest point, then another tenant fills the volume: nothing is left to
            # prune, so appends are pushed back.
            journal.prune(need_bytes=1 << 40)
            assert [p.id for p in journal.points()] == ["p159"]
            filler = os.path.join(volume.mountpoint, "filler")
            fill_leaving(filler, 4 << 20)
            blocked = source.batch([source.random_write(64), source.bookmark("after-full")])
            for _ in range(2):
                with pytest.raises(RetentionFull, match="acknowledgements are paused"):
                    journal.append(blocked)
            assert journal.durable_seq == blocked.seq - 1
            assert journal.health().state is HealthState.ERROR
            # Phase 3: space returns; the same batch goes through and health recovers.
            os.unlink(filler)
            assert journal.append(blocked) == blocked.seq
            assert journal.health().state is not HealthState.ERROR
            journal.apply_pending()
            for point in journal.points():
                journal.bring_to(PointId(point.id))
                assert read(target) == source.at_point[point.id], point.id
            journal.cancel()
            assert read(target) == bytes(source.content)
            assert journal.needs_verify is None
        finally:
            journal.close()


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
