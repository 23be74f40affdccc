"""azure-core and azure-storage-blob exceptions -> this package's error tree; Azure calls under our deadline.

The only place that looks at azure-core exceptions. Callers say what they were doing (``what``) and what a 404 means
there (``not_found``), so messages name the operation and the remedy says what the operator can do.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any, TypeVar

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from agent.snapshots.errors import (
    AzureAuthError,
    AzureConflict,
    AzureRejected,
    AzureThrottled,
    AzureUnavailable,
    ImageGone,
    InvalidConfig,
    PreviousImageUnusable,
    SasRejected,
    SnapshotError,
    SnapshotPermanentError,
)
from failback.errors import TemporaryError
from failback.retry import Policy

__all__ = ["azure_call", "error_code", "retry_after", "translate"]

T = TypeVar("T")

_AUTH_REMEDY = (
    "check the managed identity or service principal, and that it holds the actions in docs/azure-permissions.md on "
    "the VM's and the snapshots' resource groups"
)
# The blob service's codes for a previous-snapshot URL it cannot diff against.
_PREVIOUS_CODES = {"PreviousSnapshotNotFound", "PreviousSnapshotOperationNotSupported", "PreviousSnapshotCannotBeNewer"}
# Never wait longer than this on one Retry-After (a wrong header must not stall a pair for hours).
_MAX_RETRY_AFTER = 120.0


def retry_after(error: HttpResponseError) -> float | None:
    headers: Any = getattr(error.response, "headers", None) or {}
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def error_code(error: HttpResponseError) -> str | None:
    """Azure's error code: the blob service's ``x-ms-error-code`` header, or ARM's ``error.code``."""
    headers: Any = getattr(error.response, "headers", None) or {}
    code = headers.get("x-ms-error-code")
    if code:
        return str(code)
    if error.error is not None and error.error.code:
        return str(error.error.code)
    return None


def _is_tls(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "inner_exception", None)
    return False


def translate(error: AzureError, *, what: str, not_found: type[SnapshotPermanentError] = ImageGone) -> SnapshotError:
    """Our error for ``error`` raised while doing ``what``; a 404 becomes ``not_found``."""
    if isinstance(error, ClientAuthenticationError) and error.status_code is None:
        return AzureAuthError(f"could not get an Azure token for {what}: {error.message}", remedy=_AUTH_REMEDY)
    if isinstance(error, ServiceRequestError):
        if _is_tls(error):
            return InvalidConfig(
                f"TLS verification failed for {what}: the endpoint's certificate is not trusted",
                remedy="set connection_verify to the CA bundle that signed the endpoint's certificate",
            )
        return AzureUnavailable(f"could not reach Azure for {what}", remedy="check the network and DNS")
    if isinstance(error, ServiceResponseError):
        return AzureUnavailable(f"the connection dropped during {what}", remedy="retried automatically")
    if not isinstance(error, HttpResponseError):
        return AzureUnavailable(f"{what} failed: {type(error).__name__}")
    status = error.status_code
    code = error_code(error)
    message = error.error.message if error.error is not None and error.error.message else (error.reason or "")
    # A storage error's message ends with request id and time on new lines; the first line is the message.
    text = f"{what} failed: {message.splitlines()[0] if message else status}" + (f" ({code})" if code else "")
    wait = retry_after(error)
    if code in _PREVIOUS_CODES:
        return PreviousImageUnusable(text, status=status, code=code)
    if status == 403 and code in {"AuthenticationFailed", "NoAuthenticationInformation"}:
        return SasRejected(text, remedy="the read grant expired or was revoked", status=status, code=code)
    if status in (401, 403):
        return AzureAuthError(text, remedy=_AUTH_REMEDY, status=status, code=code)
    if status == 404:
        return not_found(text, status=status, code=code)
    if status == 409:
        return AzureConflict(
            text, remedy="retried after the conflicting operation", retry_after=wait, status=status, code=code
        )
    if status == 429 or (status == 503 and code == "ServerBusy"):
        return AzureThrottled(
            text, remedy="Azure is throttling; retried after its delay", retry_after=wait, status=status, code=code
        )
    if status is not None and status >= 500:
        return AzureUnavailable(text, remedy="retried automatically", retry_after=wait, status=status, code=code)
    return AzureRejected(text, status=status, code=code)


def azure_call(
    policy: Policy, what: str, fn: Callable[[], T], *, not_found: type[SnapshotPermanentError] = ImageGone
) -> T:
    """``fn()`` (one Azure call, with the SDK's own retries inside) retried on temporary errors until ``policy``'s
    deadline; a throttled answer's Retry-After is waited out (with the policy's sleep) before the next attempt."""

    def attempt() -> T:
        try:
            return fn()
        except AzureError as exc:
            error = translate(exc, what=what, not_found=not_found)
            if isinstance(error, TemporaryError) and error.retry_after:
                policy.sleep(min(error.retry_after, _MAX_RETRY_AFTER))
            raise error from exc

    return policy.call(attempt, what=what)
