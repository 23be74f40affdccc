"""Running one long-running Azure operation to its end, under our own deadline, remembering its ASR job.

The SDK polls ``Azure-AsyncOperation`` with :class:`ARMPolling`; :class:`_DeadlinePolling` keeps that protocol and
adds our :class:`failback.retry.Policy` deadline (its clock and sleep), so an operation that never finishes ends the
polling thread with :class:`OperationTimedOut` instead of leaving it running. The job id is read from the initial
answer's ``Location`` (``…/operationresults/{job}``) or ``Azure-AsyncOperation`` header.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError
from azure.core.pipeline import PipelineResponse
from azure.core.polling import LROPoller
from azure.core.polling.base_polling import OperationFailed as _SdkOperationFailed
from azure.mgmt.core.polling.arm_polling import ARMPolling

from controller.azure._translate import translate
from controller.azure.errors import (
    AzureAdapterError,
    AzureAuthError,
    OperationFailed,
    OperationStatusUnknown,
    OperationTimedOut,
)
from failback.retry import Policy

__all__ = ["run_operation"]

_log = logging.getLogger(__name__)

T = TypeVar("T")

# Slack on top of the deadline for the one request in flight when it expires (bounded by the read timeout).
_GRACE_SECONDS = 300.0


class _Expired(Exception):
    """Raised inside the polling thread when our deadline passes."""


class _DeadlinePolling(ARMPolling):
    def __init__(self, interval: float, policy: Policy, **kwargs: Any) -> None:
        super().__init__(interval, **kwargs)
        self._policy = policy
        self._expires = policy.clock() + policy.deadline

    def _delay(self) -> None:
        remaining = self._expires - self._policy.clock()
        if remaining <= 0:
            raise _Expired
        # Azure's Retry-After wins over our interval (as in the SDK), but never past our deadline.
        self._policy.sleep(min(self._extract_delay(), remaining))


def job_from_headers(headers: Any) -> str | None:
    location = headers.get("Location") or ""
    marker = "/operationresults/"
    index = location.lower().find(marker)
    if index >= 0:
        return location[index + len(marker) :].split("?")[0].strip("/") or None
    status = headers.get("Azure-AsyncOperation") or ""
    return status.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or None


def run_operation(
    start: Callable[..., LROPoller[T]],
    *,
    what: str,
    policy: Policy,
    interval: float,
    endpoint: str,
) -> tuple[T, str | None]:
    """Start an operation with ``start(polling=..., raw_response_hook=...)`` and wait for its result.

    Returns the result and the ASR job id. Failures: :class:`OperationFailed` when Azure reports the operation
    failed, :class:`OperationTimedOut` past the policy's deadline, :class:`OperationStatusUnknown` when polling broke
    after Azure accepted the operation; errors before acceptance are translated as for any call.
    """
    seen: dict[str, str | None] = {}

    def remember_job(response: PipelineResponse[Any, Any]) -> None:
        if "job" not in seen:
            seen["job"] = job_from_headers(response.http_response.headers)

    polling = _DeadlinePolling(interval, policy, path_format_arguments={"endpoint": endpoint})
    try:
        poller = start(polling=polling, raw_response_hook=remember_job)
    except AzureError as exc:
        raise translate(exc, what=what, sent=True) from exc
    job_id = seen.get("job")
    _log.info("%s accepted by Azure (job %s)", what, job_id or "unknown")
    try:
        result = poller.result(timeout=policy.deadline + _GRACE_SECONDS)
    except _Expired as exc:
        raise OperationTimedOut(
            f"{what} did not finish within {policy.deadline:g} s; ASR job {job_id} may still be running",
            remedy="wait for the job to end (wait_for_job) and re-read the item before doing anything else",
            job_id=job_id,
        ) from exc
    except HttpResponseError as exc:
        raise _polling_error(exc, what, job_id) from exc
    except AzureError as exc:
        raise OperationStatusUnknown(
            f"lost track of {what} (job {job_id}): {exc.message}",
            remedy="re-read the item and the job before repeating the action",
            job_id=job_id,
        ) from exc
    if not poller.done():
        raise OperationTimedOut(
            f"{what} gave no answer within {policy.deadline:g} s (job {job_id})",
            remedy="wait for the job to end (wait_for_job) and re-read the item before doing anything else",
            job_id=job_id,
        )
    return result, job_id


def _polling_error(exc: HttpResponseError, what: str, job_id: str | None) -> AzureAdapterError:
    if isinstance(exc.inner_exception, _SdkOperationFailed):
        code = exc.error.code if exc.error is not None else None
        message = exc.error.message if exc.error is not None and exc.error.message else "no details"
        return OperationFailed(
            f"{what} failed in Azure (job {job_id}): {message}" + (f" ({code})" if code else ""),
            remedy=f"read job {job_id} for the failed task and its recommended action, fix the cause, then retry",
            code=code,
            job_id=job_id,
        )
    translated = translate(exc, what=f"following {what}")
    if isinstance(translated, AzureAuthError) or isinstance(exc, ClientAuthenticationError):
        translated.job_id = job_id
        return translated
    return OperationStatusUnknown(
        f"lost track of {what} (job {job_id}): {translated.message}",
        remedy="re-read the item and the job before repeating the action",
        status=exc.status_code,
        job_id=job_id,
    )
