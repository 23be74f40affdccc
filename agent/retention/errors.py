"""Errors of retention management (volumes and consistency groups).

::

    RetentionError
    └── PermanentError (failback.errors)
        ├── VolumeNotFound        no mounted volume matches the mount point or drive letter given
        ├── VolumeIneligible      the volume may not hold retention journals; ``reasons`` say why and what to do
        └── GroupError            a consistency group is unknown, empty, or has no point every member holds

Running out of space on an eligible volume is the engine's :class:`agent.journal.RetentionFull` (temporary).
"""

from __future__ import annotations

from failback.errors import FailbackError, PermanentError

__all__ = ["GroupError", "RetentionError", "VolumeIneligible", "VolumeNotFound"]


class RetentionError(FailbackError):
    """Any error raised on purpose by retention management."""


class VolumeNotFound(RetentionError, PermanentError):
    """No mounted volume matches the name given."""


class VolumeIneligible(RetentionError, PermanentError):
    """The volume is refused as a retention volume."""

    def __init__(self, message: str, *, reasons: tuple[str, ...], remedy: str | None = None) -> None:
        super().__init__(message, remedy=remedy)
        self.reasons = reasons


class GroupError(RetentionError, PermanentError):
    """A consistency-group request cannot be met."""
