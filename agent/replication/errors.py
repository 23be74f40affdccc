"""Errors of the replication pairs: their records, the master target's receive side and the process server's sender.

::

    failback.errors.FailbackError
    └── ReplicationError                   everything this package raises on purpose
        ├── PermanentError (failback.errors)
        │   ├── InvalidPair                a pair record or request field is invalid      -> INVALID_ARGUMENT
        │   ├── PairNotFound               no pair with this id on this agent             -> NOT_FOUND
        │   ├── PairConflict               a stale generation, or a disk/size change
        │   │                              without a new generation                       -> FAILED_PRECONDITION
        │   ├── SenderRefused              the caller is not the pair's process server    -> PERMISSION_DENIED
        │   ├── WrongGeneration            a stream or call names another generation      -> FAILED_PRECONDITION
        │   ├── PairUnavailable            the pair takes no data now: failed (verify or
        │   │                              resync), held at a point, committed            -> FAILED_PRECONDITION
        │   ├── SessionSuperseded          a newer stream of the same pair took over      -> ABORTED
        │   ├── DiskMismatch               the source disk's size differs from the master
        │                                  target's pair: the pair stops (FAILED)
        │   ├── NoChangeLog                the pair reads its source without a change log: no
        │                                  bookmark to attest at                          -> FAILED_PRECONDITION
        │   └── ProtocolViolation          the stream broke the protocol (no open first,
        │                                  a second open, an empty message)               -> INVALID_ARGUMENT
        └── TemporaryError (failback.errors)
            └── StreamBroken               the stream to the master target ended; the sender reconnects with
                                           its declared backoff and resumes from the durable watermark

Errors of the layers below (agent.dataplane, agent.journal) pass through unchanged; the servicers map them.
"""

from __future__ import annotations

from failback.errors import FailbackError, PermanentError, TemporaryError

__all__ = [
    "DiskMismatch",
    "InvalidPair",
    "NoChangeLog",
    "PairConflict",
    "PairNotFound",
    "PairUnavailable",
    "ProtocolViolation",
    "ReplicationError",
    "SenderRefused",
    "SessionSuperseded",
    "StreamBroken",
    "WrongGeneration",
]


class ReplicationError(FailbackError):
    """Any error raised on purpose by the replication package."""


class InvalidPair(ReplicationError, PermanentError):
    """A field of a pair (or of a request about one) is invalid; the message names it."""


class PairNotFound(ReplicationError, PermanentError):
    """No pair with this id exists on this agent."""


class PairConflict(ReplicationError, PermanentError):
    """The update contradicts the pair as it is: an older generation, or a new disk without a new generation."""


class SenderRefused(ReplicationError, PermanentError):
    """The caller is not the process server this pair is bound to."""


class WrongGeneration(ReplicationError, PermanentError):
    """The caller names a generation other than the pair's."""


class PairUnavailable(ReplicationError, PermanentError):
    """The pair cannot take data now; the message says why and what the controller must do."""


class SessionSuperseded(ReplicationError, PermanentError):
    """A newer stream for the same pair was opened; this one is fenced off."""


class DiskMismatch(ReplicationError, PermanentError):
    """The two sides of a pair do not describe the same disk."""


class NoChangeLog(ReplicationError, PermanentError):
    """The call needs the pair's change log, and the pair has none."""


class ProtocolViolation(ReplicationError, PermanentError):
    """The stream's messages are not in the order the protocol prescribes."""


class StreamBroken(ReplicationError, TemporaryError):
    """The stream to the master target ended (network, restart, refusal); reconnect and resume. ``status`` is the
    gRPC status code's name when the master target (or the channel) gave one."""

    def __init__(self, message: str, *, status: str | None = None, remedy: str | None = None) -> None:
        super().__init__(message, remedy=remedy)
        self.status = status
