"""ReprotectSource: a resync pass followed by the change log, behind one cursor space.

Reprotecting a disk starts change tracking at log position ``log_start`` and then scans: the scan sends what
differs, and the change log, replayed from ``log_start`` once the scan's RESYNC_COMPLETE bookmark is out, sends
every write made during and after the scan, so the remote converges on the source. One cursor space lets a single
backlog (and a restart) continue from wherever the pair stopped, in either phase::

    cursor < LOG_PHASE        scan phase: the ScanSource cursor (a disk offset)
    cursor >= LOG_PHASE       log phase: LOG_PHASE + the change log position

The RESYNC_COMPLETE bookmark carries ``LOG_PHASE + log_start``, so after it the pair is in the log phase.
"""

from __future__ import annotations

from collections.abc import Iterator

from agent.dataplane._scan import ScanSource
from agent.dataplane._source import ChangeSource, SourceEntry

__all__ = ["LOG_PHASE", "ReprotectSource"]

LOG_PHASE = 1 << 62


class ReprotectSource:
    """``scan`` then ``log`` (a change-log source whose records from ``log_start`` on must be retained until the
    log phase acknowledges them)."""

    def __init__(self, scan: ScanSource, log: ChangeSource, log_start: int) -> None:
        if not 0 <= log_start < LOG_PHASE:
            raise ValueError(f"log start {log_start} is out of range")
        self._scan = scan
        self._log = log
        self._log_start = log_start

    @staticmethod
    def log_position(cursor: int) -> int | None:
        """The change log position of a log-phase cursor (what the tracker may be trimmed to), else None."""
        return cursor - LOG_PHASE if cursor >= LOG_PHASE else None

    def changes(self, cursor: int) -> Iterator[SourceEntry]:
        if cursor < LOG_PHASE:
            for item in self._scan.changes(cursor):
                if item.cursor == self._scan.done_cursor:
                    item = item._replace(cursor=LOG_PHASE + self._log_start)
                yield item
            cursor = LOG_PHASE + self._log_start
        for item in self._log.changes(cursor - LOG_PHASE):
            yield item._replace(cursor=LOG_PHASE + item.cursor)
