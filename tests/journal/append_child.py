"""Child process for the SIGKILL-during-replication test: a sender that resumes from the journal's durable seq.

Batches are a pure function of their seq (see :func:`batch_for`), so the parent can rebuild the source model."""

from __future__ import annotations

import random
import sys

import blake3

from agent.journal import Batch, BlockWrite, Bookmark, BookmarkKind, JournalOptions, PairJournal, PairSpec

SIZE = 8 << 20
LAST = 400  # the sender's whole stream: bounded, so the parent's model stays cheap
BLOCKS = SIZE // 4096
OPTIONS = JournalOptions(apply_round_bytes=1 << 20, wal_segment_bytes=4 << 20, undo_segment_bytes=1 << 20)


def batch_for(seq: int) -> Batch:
    rng = random.Random(seq)
    if seq == 1:
        data = rng.randbytes(SIZE)
        return Batch(
            1, 1, [BlockWrite(0, data, blake3.blake3(data).digest()), Bookmark("synced", BookmarkKind.RESYNC_COMPLETE)]
        )
    entries: list[BlockWrite | Bookmark] = []
    for _ in range(4):
        blocks = rng.randint(1, 32)
        block = rng.randrange(0, BLOCKS - blocks)
        data = rng.randbytes(blocks * 4096)
        entries.append(BlockWrite(block * 4096, data, blake3.blake3(data).digest()))
    if seq % 5 == 0:
        entries.insert(2, Bookmark(f"app-{seq}", BookmarkKind.APP))
    return Batch(1, seq, entries)


def main() -> None:
    directory, target = sys.argv[1:3]
    journal = PairJournal.open(directory, PairSpec("pair-1", 1, SIZE), target, options=OPTIONS)
    for seq in range(journal.durable_seq + 1, LAST + 1):
        journal.append(batch_for(seq))
        print(seq, flush=True)
    sys.stdin.read()  # stay alive (stdin is the parent's pipe) until killed


if __name__ == "__main__":
    main()
