"""What every change source yields, and the interface they share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple, Protocol

from agent.dataplane._model import Entry

__all__ = ["ChangeSource", "SourceEntry"]


class SourceEntry(NamedTuple):
    """One entry to send. ``cursor`` is the source position just after it: passing it back to
    :meth:`ChangeSource.changes` resumes with the next entry. ``captured_at`` is the wall-clock time the source
    captured the entry (the write time for a change log, the read time for a scan); lag is measured from it."""

    entry: Entry
    cursor: int
    captured_at: float


class ChangeSource(Protocol):
    """A resumable, ordered stream of block writes and bookmarks for one disk."""

    def changes(self, cursor: int) -> Iterator[SourceEntry]:
        """Entries after ``cursor``, in write order, up to what the source holds now; the iterator ends there (call
        again later, from the last cursor, for more)."""
        ...
