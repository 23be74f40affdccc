"""azure-core exceptions → the adapter's error tree (see :mod:`controller.azure.errors`).

This is the only place that looks at azure-core exceptions; callers say what they were doing (``what``) so the
message names the operation and the object, and the remedy says what the operator can do.
"""

from __future__ import annotations

import ssl

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from controller.azure.errors import (
    AzureAdapterError,
    AzureAuthError,
    AzureConflict,
    AzureNotFound,
    AzureRequestRejected,
    AzureThrottled,
    AzureTlsError,
    AzureUnavailable,
    OperationStatusUnknown,
)

__all__ = ["translate"]

_AUTH_REMEDY = (
    "check the tenant, client id and secret (or the managed identity), that the secret has not expired, and that "
    "the identity has the Site Recovery Contributor role on the vault (Virtual Machine Contributor on the VMs)"
)


def _retry_after(error: HttpResponseError) -> float | None:
    headers = getattr(error.response, "headers", None) or {}
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _details(error: HttpResponseError) -> tuple[str | None, str, str | None]:
    """Azure's error code, message and recommended action (ASR puts one in its error bodies)."""
    code = error.error.code if error.error is not None else None
    message = error.error.message if error.error is not None and error.error.message else error.reason or str(error)
    action = None
    read_json = getattr(error.response, "json", None)
    if read_json is not None:
        try:
            body = read_json()
        except (ValueError, TypeError):  # not JSON, or no body at all
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            action = body["error"].get("recommendedAction") or None
    return code, message, action


def _is_tls(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "inner_exception", None)
    return False


def translate(error: AzureError, *, what: str, sent: bool = False) -> AzureAdapterError:
    """Our error for ``error`` raised while doing ``what``.

    ``sent`` says the request may have reached Azure and changed something (an action's POST): a lost answer then
    becomes :class:`OperationStatusUnknown`, so nobody repeats the action blindly.
    """
    if isinstance(error, ClientAuthenticationError) and error.status_code is None:
        return AzureAuthError(f"could not get an Azure token for {what}: {error.message}", remedy=_AUTH_REMEDY)
    if isinstance(error, ServiceRequestError):
        if _is_tls(error):
            return AzureTlsError(
                f"TLS verification failed for {what}: the endpoint's certificate is not trusted",
                remedy="set connection_verify to the CA bundle that signed the endpoint's certificate",
            )
        return AzureUnavailable(f"could not reach Azure for {what}: {error.message}", remedy="check the network")
    if isinstance(error, ServiceResponseError):
        if sent:
            return OperationStatusUnknown(
                f"the connection dropped after {what} was sent; Azure may have started it",
                remedy="re-read the item or plan (and its current job) before repeating the action",
            )
        return AzureUnavailable(f"the connection dropped during {what}: {error.message}", remedy="retry later")
    if not isinstance(error, HttpResponseError):
        return AzureUnavailable(f"{what} failed: {error.message}")
    status = error.status_code
    code, message, action = _details(error)
    text = f"{what} failed: {message}" + (f" ({code})" if code else "")
    if isinstance(error, ClientAuthenticationError) or status in (401, 403):
        return AzureAuthError(text, remedy=action or _AUTH_REMEDY, status=status, code=code)
    if isinstance(error, ResourceNotFoundError) or status == 404:
        return AzureNotFound(
            text,
            remedy=action or "check the subscription, resource group and names; re-import the vault",
            status=status,
            code=code,
        )
    if isinstance(error, ResourceExistsError) or status == 409:
        return AzureConflict(
            text,
            remedy=action or "wait for the running ASR job on it to finish, then retry",
            retry_after=_retry_after(error),
            status=status,
            code=code,
        )
    if status == 429:
        return AzureThrottled(
            text,
            remedy=action or "Azure Resource Manager is throttling this identity; retry after the indicated delay",
            retry_after=_retry_after(error),
            status=status,
            code=code,
        )
    if status is not None and status >= 500:
        return AzureUnavailable(
            text, remedy=action or "retry later", retry_after=_retry_after(error), status=status, code=code
        )
    return AzureRequestRejected(
        text,
        remedy=action or "refresh the item's state and check the input against its allowed operations",
        status=status,
        code=code,
    )
