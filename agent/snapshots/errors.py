"""Errors of the snapshot change source, translated from azure-core and azure-storage-blob at this package's edge.

::

    failback.errors.FailbackError
    └── SnapshotError                     everything this package raises on purpose; ``status``/``code`` when known
        ├── SnapshotTemporaryError        (TemporaryError) the same call may succeed later; the pair's loop retries
        │   ├── AzureThrottled            429, or the blob service's 503 ServerBusy; ``retry_after`` when sent
        │   ├── AzureUnavailable          5xx, connection refused, reset or timed out
        │   ├── AzureConflict             409 from Compute: another operation holds the resource, or Azure's
        │   │                             snapshot rate limit (7 per disk in 5 minutes) was reached
        │   └── AzureTimedOut             (also DeadlineExceeded) our deadline passed on an Azure call
        └── SnapshotPermanentError        (PermanentError) repeating the call unchanged fails the same way
            ├── AzureAuthError            401/403 from ARM, or no token: the identity lacks a role (see
            │   │                         docs/azure-permissions.md)
            │   └── SasRejected           the blob service refused a read grant (expired or revoked); the reader
            │                             renews the grant once before giving up
            ├── AzureRejected             400 and other 4xx: Azure refused the request as sent
            ├── ImageGone                 the snapshot or restore point was deleted (or its blob is gone)
            ├── PreviousImageUnusable     Azure cannot list changes against the previous image (deleted, other
            │                             family, disk resized): the source falls back to a hash resync
            ├── InvalidPageList           Azure's page list is unaligned, unsorted or outside the disk
            ├── InvalidConfig             a policy or setting outside what Azure allows; nothing was changed
            ├── UnknownDisk               a pair names a disk the VM does not have
            └── StateCorrupt              the durable state file is damaged or belongs to another group

:class:`ImageGone` and :class:`PreviousImageUnusable` are handled inside the source (a new snapshot, or a resync);
callers see them only from the lower-level classes. No message ever contains a SAS URL or a credential.
"""

from __future__ import annotations

from failback.errors import DeadlineExceeded, FailbackError, PermanentError, TemporaryError

__all__ = [
    "AzureAuthError",
    "AzureConflict",
    "AzureRejected",
    "AzureThrottled",
    "AzureTimedOut",
    "AzureUnavailable",
    "ImageGone",
    "InvalidConfig",
    "InvalidPageList",
    "PreviousImageUnusable",
    "SasRejected",
    "SnapshotError",
    "SnapshotPermanentError",
    "SnapshotTemporaryError",
    "StateCorrupt",
    "UnknownDisk",
]


class SnapshotError(FailbackError):
    """Anything this package raises on purpose. ``status`` is the HTTP status and ``code`` Azure's error code."""

    status: int | None = None
    code: str | None = None


class SnapshotTemporaryError(SnapshotError, TemporaryError):
    def __init__(
        self,
        message: str,
        *,
        remedy: str | None = None,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        TemporaryError.__init__(self, message, remedy=remedy, retry_after=retry_after)
        self.status, self.code = status, code


class SnapshotPermanentError(SnapshotError, PermanentError):
    def __init__(
        self, message: str, *, remedy: str | None = None, status: int | None = None, code: str | None = None
    ) -> None:
        PermanentError.__init__(self, message, remedy=remedy)
        self.status, self.code = status, code


class AzureThrottled(SnapshotTemporaryError):
    """Azure throttled us; wait ``retry_after`` seconds."""


class AzureUnavailable(SnapshotTemporaryError):
    """Azure failed (5xx) or could not be reached."""


class AzureConflict(SnapshotTemporaryError):
    """Another operation holds the resource, or a per-disk rate limit was reached."""


class AzureTimedOut(SnapshotTemporaryError, DeadlineExceeded):
    """Our deadline for an Azure call passed."""


class AzureAuthError(SnapshotPermanentError):
    """The credential is wrong or lacks a role."""


class SasRejected(AzureAuthError):
    """The blob service refused the SAS (expired or revoked)."""


class AzureRejected(SnapshotPermanentError):
    """Azure refused the request as sent."""


class ImageGone(SnapshotPermanentError):
    """The snapshot or restore point no longer exists."""


class PreviousImageUnusable(SnapshotPermanentError):
    """Azure cannot list the changes since the previous image."""


class InvalidPageList(SnapshotPermanentError):
    """The page ranges Azure returned break the page blob contract."""


class InvalidConfig(SnapshotPermanentError):
    """A setting is outside what Azure or this package allows."""


class UnknownDisk(SnapshotPermanentError):
    """A pair names a managed disk that the VM does not have."""


class StateCorrupt(SnapshotPermanentError):
    """The durable state cannot be used."""
