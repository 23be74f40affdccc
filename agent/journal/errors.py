"""Errors of the master-target storage engine (journal, apply, recovery points, point-in-time).

::

    JournalError
    ├── TemporaryError (failback.errors)          stop acknowledging; the same call may succeed later
    │   └── RetentionFull                         retention volume over its threshold and pruning freed too little
    └── PermanentError (failback.errors)          repeating the call unchanged fails the same way
        ├── InvalidBatch                          bad input (bounds, alignment, digest, ids): nothing was written
        │   ├── OutOfBounds                       a write (or a read) outside the target disk
        │   ├── SequenceGap                       seq skips past durable_seq + 1: the sender must resend the gap
        │   └── StaleGeneration                   a batch or open for an older generation than the journal holds
        ├── JournalFailed                         an fsync or write failed: nothing more is acknowledged until the
        │                                         journal is reopened (recovery) and the pair verified or resynced
        ├── JournalCorrupt                        a record inside the durable region fails its checksum
        ├── TargetUnusable                        the target disk cannot be opened or is smaller than the pair
        ├── PairNotReplicating                    append while the disk is brought to a point (commit or cancel)
        └── PointUnavailable                      the requested recovery point does not exist (or not any more)

``JournalFailed`` is the PostgreSQL fsync lesson: after a failed fsync the kernel may have dropped the dirty pages, so
retrying the fsync and reporting success would be a lie. The engine refuses every further call instead.
"""

from __future__ import annotations

from failback.errors import FailbackError, PermanentError, TemporaryError

__all__ = [
    "InvalidBatch",
    "JournalCorrupt",
    "JournalError",
    "JournalFailed",
    "OutOfBounds",
    "PairNotReplicating",
    "PointUnavailable",
    "RetentionFull",
    "SequenceGap",
    "StaleGeneration",
    "TargetUnusable",
]


class JournalError(FailbackError):
    """Any error raised on purpose by the storage engine."""


class RetentionFull(JournalError, TemporaryError):
    """The retention volume is over its threshold and pruning could not free room: do not acknowledge, retry later."""


class InvalidBatch(JournalError, PermanentError):
    """The batch (or call argument) is malformed; nothing was written."""


class OutOfBounds(InvalidBatch):
    """An offset or length falls outside the target disk or is not a multiple of the block size."""


class SequenceGap(InvalidBatch):
    """The batch's seq is beyond durable_seq + 1; the sender must resend from ``expected``."""

    def __init__(self, message: str, *, expected: int, remedy: str | None = None) -> None:
        super().__init__(message, remedy=remedy)
        self.expected = expected


class StaleGeneration(InvalidBatch):
    """The batch or open names an older generation of the pair than the one the journal holds."""


class JournalFailed(JournalError, PermanentError):
    """A durable operation failed; the engine acknowledges nothing more. Reopen, then verify or resync the pair."""


class JournalCorrupt(JournalError, PermanentError):
    """A record that should be durable fails its checksum (not a torn tail): the retention volume is damaged."""


class TargetUnusable(JournalError, PermanentError):
    """The target disk cannot be opened, sized or written as the pair requires."""


class PairNotReplicating(JournalError, PermanentError):
    """The disk is held at a recovery point (failover); appends resume after ``cancel()``."""


class PointUnavailable(JournalError, PermanentError):
    """No recovery point matches the request."""
