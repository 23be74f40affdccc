"""Errors of the Azure adapter (Site Recovery and Compute), translated from azure-core at the adapter's edge.

::

    FailbackError
    └── AzureAdapterError              every error below; carries ``status``, ``code`` and ``job_id`` when known
        ├── AzureTemporaryError        (TemporaryError) the same call may succeed later
        │   ├── AzureThrottled         429: ARM throttled us; ``retry_after`` says when to come back
        │   ├── AzureUnavailable       5xx, connection refused or dropped before the request was sent
        │   ├── AzureConflict          409: another operation holds the item or plan; retry when its job ends
        │   ├── OperationStatusUnknown an action was (or may have been) accepted, then we lost sight of it:
        │   │                          read the item or ``job_id`` before repeating it, never repeat blindly
        │   └── OperationTimedOut      (also DeadlineExceeded) our deadline passed while ASR was still running the
        │                              job; ``job_id`` names it so the caller can wait for it instead of re-issuing
        └── AzurePermanentError        (PermanentError) repeating the call unchanged fails the same way
            ├── AzureAuthError         401/403 or the credential could not get a token
            ├── AzureTlsError          the endpoint's certificate is not trusted by ``connection_verify``
            ├── AzureNotFound          404: the vault, item, plan, job or VM does not exist
            ├── AzureRequestRejected   400 and other 4xx: ASR refused the input or the item's state
            ├── OperationFailed        the long-running operation (the ASR job) ended Failed; ``job_id`` names it
            └── InvalidRequest         our own check refused the input before anything was sent

Messages say what failed and on what; ``remedy`` says what to do, taken from ASR's ``recommendedAction`` when it
sends one. No message ever contains a credential.
"""

from __future__ import annotations

from failback.errors import DeadlineExceeded, FailbackError, PermanentError, TemporaryError

__all__ = [
    "AzureAdapterError",
    "AzureAuthError",
    "AzureConflict",
    "AzureNotFound",
    "AzurePermanentError",
    "AzureRequestRejected",
    "AzureTemporaryError",
    "AzureThrottled",
    "AzureTlsError",
    "AzureUnavailable",
    "InvalidRequest",
    "OperationFailed",
    "OperationStatusUnknown",
    "OperationTimedOut",
]


class AzureAdapterError(FailbackError):
    """Anything the Azure adapter raises. ``status`` is the HTTP status, ``code`` Azure's error code."""

    status: int | None = None
    code: str | None = None
    job_id: str | None = None


class AzureTemporaryError(AzureAdapterError, TemporaryError):
    def __init__(
        self,
        message: str,
        *,
        remedy: str | None = None,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
        job_id: str | None = None,
    ) -> None:
        TemporaryError.__init__(self, message, remedy=remedy, retry_after=retry_after)
        self.status, self.code, self.job_id = status, code, job_id


class AzurePermanentError(AzureAdapterError, PermanentError):
    def __init__(
        self,
        message: str,
        *,
        remedy: str | None = None,
        status: int | None = None,
        code: str | None = None,
        job_id: str | None = None,
    ) -> None:
        PermanentError.__init__(self, message, remedy=remedy)
        self.status, self.code, self.job_id = status, code, job_id


class AzureThrottled(AzureTemporaryError):
    """ARM answered 429; wait ``retry_after`` seconds."""


class AzureUnavailable(AzureTemporaryError):
    """ARM or the resource provider failed (5xx) or could not be reached."""


class AzureConflict(AzureTemporaryError):
    """Another operation is running on the same item or plan."""


class OperationStatusUnknown(AzureTemporaryError):
    """An action may be running in Azure but we could not follow it to its end."""


class OperationTimedOut(AzureTemporaryError, DeadlineExceeded):
    """Our deadline for a long-running operation passed; the ASR job may still be running."""


class AzureAuthError(AzurePermanentError):
    """The credential is wrong, expired, or lacks a role on the vault or the VM."""


class AzureTlsError(AzurePermanentError):
    """TLS verification of the endpoint failed."""


class AzureNotFound(AzurePermanentError):
    """The named resource does not exist."""


class AzureRequestRejected(AzurePermanentError):
    """Azure refused the request (bad input, or an operation the item's state does not allow)."""


class OperationFailed(AzurePermanentError):
    """The operation was accepted and then failed; ``job_id`` names the ASR job with the details."""


class InvalidRequest(AzurePermanentError):
    """The adapter refused the input before calling Azure; nothing was changed."""
