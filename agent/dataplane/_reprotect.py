"""ReprotectSource: a resync pass followed by the change log, behind one cursor space.

Reprotecting a disk starts change tracking at log position ``log_start`` and then scans while the workload keeps
writing. The scan sends what differs; it reads a moving disk, so when it ends the target holds a fuzzy mix of older
and newer blocks. It is consistent only once the change log has been replayed from ``log_start`` up to a position
``resync_end`` covering every write the scan may have seen: the log's durable position read after the scan's last
read (the tracker publishes a record's position before it writes the disk, so a block the scan read is never ahead of
the published position). The stream therefore carries::

    scan blocks ... RESYNC_START ("<id>-scanned")  log [log_start, resync_end) ... RESYNC_COMPLETE ("<id>")  log ...

The receiver holds no recovery point between the two (bookmarks replayed from the log there are not points: the
disk is still a mix), and the RESYNC_COMPLETE point is exactly the source at ``resync_end``. ``resync_end`` is
reported through ``on_resync_end`` when the scan ends (the caller persists it and passes it back after a restart).

Cursors (what a restart resumes from)::

    cursor < LOG_PHASE                  scan phase: the ScanSource cursor (a disk offset)
    LOG_PHASE + 2 * position            log phase: after the log record ending at ``position``
    LOG_PHASE + 2 * resync_end + 1      just after the RESYNC_COMPLETE bookmark

Log positions are doubled so that the bookmark's cursor differs from the cursor of a record ending at
``resync_end``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from agent.dataplane._model import Bookmark, BookmarkKind
from agent.dataplane._scan import ScanSource
from agent.dataplane._source import ChangeSource, SourceEntry
from agent.dataplane.errors import BadCursor, LogCorrupt

__all__ = ["LOG_PHASE", "ReprotectSource"]

LOG_PHASE = 1 << 62
_MAX_POSITION = (1 << 61) - 1


class ReprotectSource:
    """``scan`` then ``log`` (a change-log source whose records from ``log_start`` on must be retained until the
    log phase acknowledges them). ``durable_position()`` is the log's published durable position; ``resync_end``
    is the catch-up position recorded by an earlier run of this pass (None if the scan has not ended yet)."""

    def __init__(
        self,
        scan: ScanSource,
        log: ChangeSource,
        log_start: int,
        *,
        durable_position: Callable[[], int],
        resync_end: int | None = None,
        on_resync_end: Callable[[int], None] = lambda _position: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 <= log_start <= _MAX_POSITION:
            raise ValueError(f"log start {log_start} is out of range")
        if resync_end is not None and not log_start <= resync_end <= _MAX_POSITION:
            raise ValueError(f"resync end {resync_end} is not a log position after {log_start}")
        self._scan = scan
        self._log = log
        self._log_start = log_start
        self._durable = durable_position
        self._on_resync_end = on_resync_end
        self._clock = clock
        self.resync_end = resync_end

    @staticmethod
    def log_position(cursor: int) -> int | None:
        """The change log position of a log-phase cursor (what the tracker may be trimmed to), else None."""
        return (cursor - LOG_PHASE) // 2 if cursor >= LOG_PHASE else None

    @staticmethod
    def in_scan(cursor: int) -> bool:
        return cursor < LOG_PHASE

    def consistent(self, cursor: int) -> bool:
        """Whether the receiver's disk equals the source once everything up to ``cursor`` is applied."""
        return self.resync_end is not None and cursor >= LOG_PHASE + 2 * self.resync_end + 1

    def changes(self, cursor: int) -> Iterator[SourceEntry]:
        if cursor < LOG_PHASE:
            for item in self._scan.changes(cursor):
                entry = item.entry
                if isinstance(entry, Bookmark) and entry.kind is BookmarkKind.RESYNC_COMPLETE:
                    scan_end = max(self._durable(), self._log_start)
                    self.resync_end = scan_end
                    self._on_resync_end(scan_end)
                    scanned = Bookmark(f"{entry.id}-scanned", BookmarkKind.RESYNC_START, None, None, entry.source_time)
                    yield SourceEntry(scanned, LOG_PHASE + 2 * self._log_start, item.captured_at)
                    cursor = LOG_PHASE + 2 * self._log_start
                else:
                    yield item
            if cursor < LOG_PHASE:
                return  # the pass ended without completing (the source ran dry mid-window)
        if self.resync_end is None:
            raise BadCursor(
                f"cursor {cursor} is in the change log phase but the resync pass's end was not recorded",
                remedy="resync the pair",
            )
        end = self.resync_end
        position, odd = divmod(cursor - LOG_PHASE, 2)
        # The bookmark's cursor is odd; a record ending exactly at the end has the even cursor just below it, and
        # every record after the bookmark ends past the end.
        if not odd and position <= end:
            reached = position
            if position < end:
                for item in self._log.changes(position):
                    yield item._replace(cursor=LOG_PHASE + 2 * item.cursor)
                    reached = item.cursor
                    if reached >= end:
                        break
            if reached != end:
                # Short: the log was read up to what is durable now (the end was durable when recorded, so only a
                # racing reader gets here). Past: a record straddles a durable position, which cannot happen.
                if reached > end:
                    raise LogCorrupt(f"a change log record ends at {reached}, across the resync end {end}")
                return
            complete = Bookmark(self._scan.resync_id, BookmarkKind.RESYNC_COMPLETE, None, None, None)
            yield SourceEntry(complete, LOG_PHASE + 2 * end + 1, self._clock())
            position = end
        for item in self._log.changes(position):
            yield item._replace(cursor=LOG_PHASE + 2 * item.cursor)
