"""A workload writing through the change tracker from a thread, remembering the source's digest at each bookmark
(what the recovery point of that bookmark must hold)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from pathlib import Path

from agent.dataplane import BLOCK_SIZE, BookmarkKind, Tracker, disk_digest


@dataclass
class Workload:
    """Writes through the tracker from a thread: random 4-64 KiB writes, an APP bookmark every 10 (its id and the
    source's digest then are recorded), and trims to what the process server reports acknowledged."""

    tracker: Tracker
    source: Path
    size: int
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    points: dict[str, bytes] = field(default_factory=dict)
    written: int = 0
    writes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    error: BaseException | None = None

    def start(self) -> None:
        """Start (or resume, after :meth:`halt`) writing."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(0.005):
                blocks = self.rng.randint(1, 16)
                offset = self.rng.randrange(self.size // BLOCK_SIZE - blocks) * BLOCK_SIZE
                self.tracker.write(offset, self.rng.randbytes(blocks * BLOCK_SIZE))
                self.written += blocks * BLOCK_SIZE
                self.writes += 1
                if self.writes % 10 == 0:
                    self.bookmark(f"app-{self.writes}")
                if self.writes % 100 == 0:
                    self.tracker.trim_acknowledged()
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def bookmark(self, point_id: str) -> None:
        self.tracker.bookmark(BookmarkKind.APP, "workload", bookmark_id=point_id)
        self.points[point_id] = disk_digest(str(self.source), self.size)

    def halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def stop(self) -> None:
        """Stop writing; the workload must not have failed."""
        self.halt()
        assert self.error is None, self.error
