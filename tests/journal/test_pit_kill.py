"""T16: SIGKILL a real process at random moments while it brings the disk to points and back; after every kill,
reopening ends at the previous state or the chosen point, exactly, never a mix reported as recovered."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from agent.journal import JournalOptions, PairState
from tests.journal.support import Source, open_journal, read

SIZE = 8 << 20
OPTIONS = JournalOptions(background_apply=False)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_sigkill_during_bring_to_point_leaves_the_previous_state_or_the_chosen_point(tmp_path) -> None:
    root = str(tmp_path)
    source = Source(SIZE)
    journal = open_journal(root, SIZE, options=OPTIONS)
    journal.append(source.initial_sync())
    for name in ("one", "two"):
        # About 3 MiB of churn behind each point, so bringing the disk back takes long enough to be interrupted.
        journal.append(source.batch([source.random_write(64) for _ in range(48)] + [source.bookmark(name)]))
    journal.append(source.batch([source.random_write(64) for _ in range(48)]))
    journal.apply_pending()
    journal.close()
    latest = bytes(source.content)
    rng = random.Random(16)
    env = dict(os.environ, PYTHONPATH=REPO)
    outcomes: dict[str, int] = {}
    for _ in range(40):
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.journal.pit_child",
                os.path.join(root, "journal"),
                os.path.join(root, "disk"),
                str(SIZE),
                "one",
                "two",
            ],
            stdout=subprocess.PIPE,
            env=env,
            cwd=REPO,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == b"ready\n"
            time.sleep(rng.uniform(0, 0.4))  # the fault's timing, not a wait for a condition
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            child.stdout.close()
        reopened = open_journal(root, SIZE, options=OPTIONS)
        try:
            content = read(reopened.target.path)
            if reopened.pair_state is PairState.AT_POINT:
                held = reopened.state.failover["point"]
                assert content == source.at_point[held], f"disk reported at {held} holds something else"
                outcomes[held] = outcomes.get(held, 0) + 1
            else:
                assert reopened.pair_state is PairState.REPLICATING
                assert content == latest, "disk reported at latest holds something else"
                outcomes["latest"] = outcomes.get("latest", 0) + 1
        finally:
            reopened.close()
    assert len(outcomes) >= 2, f"kills landed in too few states to test anything: {outcomes}"
