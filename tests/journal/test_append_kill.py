"""SIGKILL a real process at random moments while it appends (with the background applier running); after every
kill, the reopened journal holds every acknowledged batch, latest is the source at durable_seq, every point is exact,
and the sender resumes from durable_seq + 1 without a gap or a double apply."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from agent.journal import BookmarkKind, PairJournal, PairSpec, PointId
from tests.journal.append_child import OPTIONS, SIZE, batch_for
from tests.journal.support import make_target, read

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Model:
    """The source content after each batch and at every bookmark, built forward as durable_seq grows."""

    def __init__(self) -> None:
        self.seq = 0
        self.content = bytearray(SIZE)
        self.points: dict[str, bytes] = {}

    def advance(self, upto: int) -> None:
        for seq in range(self.seq + 1, upto + 1):
            for entry in batch_for(seq).entries:
                if hasattr(entry, "data"):
                    self.content[entry.offset : entry.offset + len(entry.data)] = entry.data
                elif entry.kind in (BookmarkKind.APP, BookmarkKind.RESYNC_COMPLETE):
                    self.points[entry.id] = bytes(self.content)
        self.seq = max(self.seq, upto)


@pytest.mark.slow
def test_sigkill_while_appending_loses_no_acknowledged_batch_and_no_point(tmp_path) -> None:
    directory, target = str(tmp_path / "journal"), make_target(str(tmp_path / "disk"), SIZE)
    rng = random.Random(3)
    env = dict(os.environ, PYTHONPATH=REPO)
    acked = 0
    source = Model()
    for _ in range(25):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.journal.append_child", directory, target],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=REPO,
        )
        time.sleep(rng.uniform(0.2, 0.6))  # the fault's timing, not a wait for a condition
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.stdout is not None
        lines = child.stdout.read().split()
        child.stdout.close()
        assert child.stdin is not None
        child.stdin.close()
        acked = max([acked, *(int(line) for line in lines)])
        journal = PairJournal.open(directory, PairSpec("pair-1", 1, SIZE), target, options=OPTIONS)
        try:
            assert journal.durable_seq >= acked, "an acknowledged batch was lost"
            source.advance(journal.durable_seq)
            points = source.points
            journal.apply_pending()
            assert read(target) == bytes(source.content), "latest is not the source at durable_seq"
            listed = [p.id for p in journal.points()]
            assert listed == list(points), "points lost or invented"
            for point_id in rng.sample(listed, min(3, len(listed))):
                journal.bring_to(PointId(point_id))
                assert read(target) == points[point_id], point_id
            journal.cancel()
        finally:
            journal.close()
    assert acked > 100, f"the children acknowledged too little to test anything ({acked} batches)"
