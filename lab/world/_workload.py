"""The application inside an "Azure VM": writes its disks through the change tracker (the mobility service's role)
while the VM runs, with crash- and application-consistent bookmarks now and then, and records the oracle.

The oracle: at every bookmark the workload pauses its writes, so the source disks are exactly their state at the
bookmark, and it appends one JSON line to ``bookmarks.jsonl`` with each disk's digest
(:func:`agent.dataplane.disk_digest`) and the change-log position. A recovery point taken at that bookmark must have
that digest, whatever the replication did; the oracle never depends on the change log (which the process server may
trim).

The change log is trimmed here, by its writer, as the mobility service trims its own: after every bookmark the
workload drops the log segments the process server reports as acknowledged by the master target (the ``acknowledged``
file in the log directory, which the process server rewrites as acknowledgements arrive). The process server never
deletes the writer's files; the writer never trims past what the master target has made durable.

The VM's power state is the truth: when the endpoint's Azure VM stops (a planned failover shuts it down), the
workload takes a last application-consistent bookmark (a clean shutdown), closes its trackers and writes nothing
until the VM runs again. This module never writes a disk except through its tracker.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.dataplane import BookmarkKind, Tracker, disk_digest

__all__ = ["Workload", "WorkloadDisk", "WorkloadSettings"]

log = logging.getLogger(__name__)
_BLOCK = 4096
_PACE = 0.1  # longest wait between looks at the VM's power state


@dataclass(frozen=True)
class WorkloadDisk:
    disk_id: str
    source: Path
    change_log: Path


@dataclass(frozen=True)
class WorkloadSettings:
    bytes_per_second: int = 256 << 10
    app_every: float = 10.0
    crash_every: float = 4.0
    max_log_bytes: int = 256 << 20
    """A lab left up for hours must not fill the disk: past this, the workload stops writing (and says so)."""
    group_every: float = 6.0
    """Multi-VM consistency: every this many seconds (wall clock) each running VM of the group takes an
    application-consistent bookmark with the same id, so the group has a point every member holds."""


class Workload:
    """Writes ``disks`` of VM ``vm`` while ``running()`` says the VM runs; :meth:`run` until ``stop`` is set."""

    def __init__(
        self,
        vm: str,
        disks: list[WorkloadDisk],
        oracle: Path,
        running: Callable[[], bool],
        settings: WorkloadSettings | None = None,
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        group: str | None = None,
    ) -> None:
        self.vm = vm
        self.group = group
        self.disks = disks
        self.oracle = oracle
        self._running = running
        self.settings = settings or WorkloadSettings()
        self._rng = random.Random(seed)  # noqa: S311 - disk contents, not secrets
        self._clock = clock
        self._trackers: list[Tracker] = []
        self._count = 0
        self._group_slot = -1
        self.bytes_written = 0
        self.failed: BaseException | None = None

    def run(self, stop: threading.Event) -> None:
        """Write until ``stop``; a failure is kept in :attr:`failed` (the process reports it and exits)."""
        try:
            self._run(stop)
        except BaseException as exc:
            self.failed = exc
            log.exception("the workload of %s failed", self.vm)

    def _run(self, stop: threading.Event) -> None:
        next_app = next_crash = next_write = 0.0
        paused_for_space = False
        try:
            while not stop.is_set():
                running = self._running()
                if running and not self._trackers:
                    self._open()
                    now = time.monotonic()
                    next_app, next_crash = now + self.settings.app_every, now + self.settings.crash_every
                elif not running and self._trackers:
                    self.bookmark(BookmarkKind.APP, "shutdown")
                    self._close()
                if not self._trackers:
                    stop.wait(0.2)
                    continue
                now = time.monotonic()
                slot = int(self._clock() // self.settings.group_every)
                if self.group is not None and slot > self._group_slot:
                    # The slot's id is the same in every VM of the group: the multi-VM consistent point.
                    if self._group_slot >= 0:
                        self.bookmark(
                            BookmarkKind.APP, "multi-vm", group=self.group, bookmark_id=f"{self.group}-{slot}"
                        )
                    self._group_slot = slot
                if now >= next_app:
                    self.bookmark(BookmarkKind.APP)
                    self.trim()
                    next_app = now + self.settings.app_every
                elif now >= next_crash:
                    self.bookmark(BookmarkKind.CRASH)
                    self.trim()
                    next_crash = now + self.settings.crash_every
                if self._log_bytes() >= self.settings.max_log_bytes:
                    if not paused_for_space:
                        log.warning("%s: the change log holds %d bytes; writes pause", self.vm, self._log_bytes())
                        paused_for_space = True
                    stop.wait(1.0)
                    continue
                if now < next_write:
                    # Paced in short waits: a slow workload still sees its VM stop at once, as a guest would.
                    stop.wait(min(next_write - now, _PACE))
                    continue
                next_write = now + self._write_one() / self.settings.bytes_per_second
        finally:
            self._close()

    def bookmark(
        self, kind: BookmarkKind, tag: str | None = None, *, group: str | None = None, bookmark_id: str | None = None
    ) -> dict[str, object]:
        """Bookmark every disk at the same moment (one id; group: the VM unless given) and record the oracle line."""
        self._count += 1
        bookmark_id = bookmark_id or f"{self.vm}-{self._count:06d}-{uuid.uuid4().hex[:8]}"
        if kind is BookmarkKind.APP and tag is None:
            tag = f"lab-app-{self._count}"
        taken = None
        for tracker in self._trackers:
            taken = tracker.bookmark(kind, tag, group or self.vm, bookmark_id=bookmark_id)
        line: dict[str, object] = {
            "id": bookmark_id,
            "kind": "app" if kind is BookmarkKind.APP else "crash",
            "tag": tag,
            "group": group or self.vm,
            "time": taken.source_time if taken is not None else self._clock(),
            "disks": {
                disk.disk_id: {
                    "digest": disk_digest(disk.source, tracker.size).hex(),
                    "position": tracker.end_position,
                }
                for disk, tracker in zip(self.disks, self._trackers, strict=True)
            },
        }
        with self.oracle.open("a") as out:
            out.write(json.dumps(line, sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())
        return line

    def trim(self) -> None:
        """Drop the change log the master target has acknowledged (whole segments before that position)."""
        for tracker in self._trackers:
            tracker.trim_acknowledged()

    def _open(self) -> None:
        for disk in self.disks:
            self._trackers.append(Tracker(disk.source, disk.change_log, segment_bytes=16 << 20, clock=self._clock))
        log.info("%s runs: writing %d disk(s) through the tracker", self.vm, len(self.disks))

    def _close(self) -> None:
        trackers, self._trackers = self._trackers, []
        for tracker in trackers:
            tracker.close()

    def _log_bytes(self) -> int:
        return sum(t.end_position - t.first_position for t in self._trackers)

    def _write_one(self) -> int:
        index = self._rng.randrange(len(self._trackers))
        tracker = self._trackers[index]
        blocks = self._rng.choice((1, 2, 4, 8, 16))
        offset = self._rng.randrange(tracker.size // _BLOCK - blocks + 1) * _BLOCK
        # Half random, half a repeated pattern: compressible the way real disk data is.
        half = blocks * _BLOCK // 2
        data = self._rng.randbytes(half) + bytes([self._count % 251]) * half
        tracker.write(offset, data)
        self.bytes_written += len(data)
        return len(data)
