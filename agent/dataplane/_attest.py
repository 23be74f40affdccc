"""The source's digest at a bookmark, computed on the source side from the source disk itself, for attestation.

The change log keeps what was written, never what it replaced, so once later writes have landed on the disk its
state at an earlier bookmark is gone from the source. The digest at a bookmark is therefore computed only where it is
exact: when the source is *quiescent at the bookmark* - no change tracker has the log open (the VM is stopped, so
nothing can write) and the log holds no write after the bookmark. The disk is then the state at the bookmark, and the
log's lock (the tracker's own, :func:`agent.journal.lock_directory`) is held while it is hashed, so no tracker can
open it meanwhile. That is the state a planned failover makes - the VM shuts down, its last bookmark is the
shutdown's - and the one a failover's attestation compares the master target's point with.

Whether a tracker writes is read from ``/proc/locks`` (Linux lists every flock with its file's device and inode), so
looking never takes the lock a starting tracker needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from agent.dataplane._changelog import ChangeLogSource, list_segments, read_durable
from agent.dataplane._hashing import disk_digest
from agent.dataplane._model import BlockWrite, Bookmark
from agent.dataplane._source import SourceEntry
from agent.dataplane.errors import BookmarkNotFound, ChangeLogError, SourceNotQuiescent
from agent.journal import lock_directory

__all__ = ["SourceDigest", "digest_at_bookmark", "digest_at_end", "writer_active"]

_LOCK_FILE = "lock"


@dataclass(frozen=True, slots=True)
class SourceDigest:
    """The source disk's digest at ``bookmark`` (None: at the end of the log); ``position`` is the log position just
    after the bookmark (or the log's end)."""

    bookmark: Bookmark | None
    position: int
    digest: bytes
    size: int


def writer_active(log_dir: str | os.PathLike[str], *, proc_locks: str = "/proc/locks") -> bool:
    """Whether a process holds the change log's lock (a tracker has it open), without touching the lock."""
    try:
        st = os.stat(os.path.join(os.fspath(log_dir), _LOCK_FILE))
    except FileNotFoundError:
        return False  # no tracker ever opened this log
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open(proc_locks) as locks:
            return any(
                len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == wanted
                for fields in (line.split() for line in locks)
            )
    except OSError as exc:
        raise ChangeLogError(f"cannot tell whether a tracker writes {os.fspath(log_dir)}: {exc}") from exc


def digest_at_end(source: str, log_dir: str, *, acknowledged: Callable[[], int]) -> SourceDigest:
    """The digest of ``source`` as it is at the end of its change log: what a failover to latest holds once the
    master target has acknowledged the whole log (``acknowledged()``, a log position) and no tracker writes it; else
    :class:`SourceNotQuiescent` (the source holds writes the master target does not)."""
    lock = _lock(log_dir)
    try:
        end = read_durable(log_dir)
        held = acknowledged()
        if held < end:
            raise SourceNotQuiescent(
                f"the master target has acknowledged the change log of {source} up to {held}, not its end {end}: "
                "the source holds writes the master target does not",
                remedy="drain first (a planned failover does), or attest against a bookmark",
            )
        size = _size(source)
        return SourceDigest(None, end, disk_digest(source, size), size)
    finally:
        os.close(lock)


def _lock(log_dir: str) -> int:
    lock = lock_directory(log_dir)
    if lock is None:
        raise SourceNotQuiescent(
            f"the change tracker of {log_dir} has it open: the source may still be written",
            remedy="stop the source VM first (a planned failover powers it off and drains)",
        )
    return lock


def digest_at_bookmark(source: str, log_dir: str, bookmark_id: str | None = None) -> SourceDigest:
    """The digest of ``source`` at the bookmark ``bookmark_id`` of the change log in ``log_dir`` (None: the newest
    bookmark). Raises :class:`SourceNotQuiescent` unless the source is quiescent there, :class:`BookmarkNotFound`
    when the retained log holds no such bookmark."""
    lock = _lock(log_dir)
    try:
        found, writes_after = _find(log_dir, bookmark_id)
        if writes_after:
            raise SourceNotQuiescent(
                f"{writes_after} bytes were written to {source} after bookmark {_id(found)}: the source is no "
                "longer at that point",
                remedy="attest against the newest bookmark, taken after the last write (a clean shutdown's)",
            )
        size = _size(source)
        assert isinstance(found.entry, Bookmark)
        return SourceDigest(found.entry, found.cursor, disk_digest(source, size), size)
    finally:
        os.close(lock)


def _find(log_dir: str, bookmark_id: str | None) -> tuple[SourceEntry, int]:
    """The bookmark (the newest when ``bookmark_id`` is None) and how many bytes are written after it."""
    segments = list_segments(log_dir)
    if not segments:
        raise BookmarkNotFound(f"the change log {log_dir} holds no record")
    found: SourceEntry | None = None
    after = 0
    for item in ChangeLogSource(log_dir, durable_position=lambda: read_durable(log_dir)).changes(segments[0]):
        entry = item.entry
        if isinstance(entry, Bookmark):
            if bookmark_id is None or entry.id == bookmark_id:
                found, after = item, 0
        elif isinstance(entry, BlockWrite) and found is not None:
            after += len(entry.data)
    if found is None:
        what = f"bookmark {bookmark_id}" if bookmark_id else "a bookmark"
        raise BookmarkNotFound(
            f"the retained change log {log_dir} holds no {what} (trimmed, or never taken)",
            remedy="choose a bookmark the master target received after the log's oldest record",
        )
    return found, after


def _size(path: str) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def _id(item: SourceEntry) -> str:
    return item.entry.id if isinstance(item.entry, Bookmark) else "?"
