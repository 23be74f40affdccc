"""Child process for the SIGKILL test: opens a journal and moves its disk between points until it is killed."""

from __future__ import annotations

import sys

from agent.journal import JournalOptions, PairJournal, PairSpec, PointId


def main() -> None:
    directory, target, size, *points = sys.argv[1:]
    journal = PairJournal.open(
        directory, PairSpec("pair-1", 1, int(size)), target, options=JournalOptions(background_apply=False)
    )
    print("ready", flush=True)
    while True:
        for point in points:
            journal.bring_to(PointId(point))
        journal.cancel()


if __name__ == "__main__":
    main()
