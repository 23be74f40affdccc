"""Child process for the tracker crash test: writes through a Tracker from several threads and prints each
acknowledged write (``W <id> <thread> <n>``) and bookmark (``B <id>``) as soon as the call returns."""

from __future__ import annotations

import random
import sys
import threading

from agent.dataplane import BLOCK_SIZE, BookmarkKind, Tracker

THREADS = 3


def payload(write_id: int, blocks: int, rng: random.Random) -> bytes:
    head = write_id.to_bytes(8, "little")
    return (head + rng.randbytes(BLOCK_SIZE - 8)) + rng.randbytes((blocks - 1) * BLOCK_SIZE)


def main() -> None:
    disk, log_dir, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tracker = Tracker(disk, log_dir, segment_bytes=256 << 10)
    lock = threading.Lock()
    blocks_on_disk = tracker.size // BLOCK_SIZE

    def writer(thread: int) -> None:
        rng = random.Random(seed * 100 + thread)
        n = 0
        while True:
            n += 1
            write_id = seed * 10**9 + thread * 10**7 + n
            if rng.random() < 0.05:
                bookmark = tracker.bookmark(BookmarkKind.CRASH, bookmark_id=f"bm-{write_id}")
                line = f"B {bookmark.id}\n"
            else:
                blocks = rng.randint(1, 16)
                offset = rng.randrange(blocks_on_disk - blocks + 1) * BLOCK_SIZE
                tracker.write(offset, payload(write_id, blocks, rng))
                line = f"W {write_id} {thread} {n}\n"
            with lock:
                sys.stdout.write(line)
                sys.stdout.flush()

    print("READY", flush=True)
    threads = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
