"""Declared retry and wait policies: every wait in failback has a deadline, exponential backoff and jitter.

Steps never sleep-and-retry ad hoc; they declare a :class:`Policy` and call :meth:`Policy.call` or
:meth:`Policy.wait_for`. The clock and the sleep function are injectable so tests run without real waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

from failback.errors import DeadlineExceeded, TemporaryError

__all__ = ["Policy"]

T = TypeVar("T")


@dataclass(frozen=True)
class Policy:
    """How long to keep trying (``deadline`` seconds) and how to space attempts.

    ``retry_on`` lists the exception types worth another attempt; by default only :class:`TemporaryError`.
    """

    deadline: float
    initial: float = 0.05
    maximum: float = 5.0
    jitter: float = 0.05
    retry_on: tuple[type[BaseException], ...] = (TemporaryError,)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def __post_init__(self) -> None:
        if self.deadline <= 0:
            raise ValueError("a retry policy needs a positive deadline")

    def _retrying(self, retry: tenacity.retry_base, *, reraise: bool) -> tenacity.Retrying:
        return tenacity.Retrying(
            sleep=self.sleep,
            stop=_StopAfter(self.deadline, self.clock),
            wait=tenacity.wait_exponential_jitter(multiplier=self.initial, max=self.maximum, jitter=self.jitter),
            retry=retry,
            reraise=reraise,
        )

    def call(self, fn: Callable[[], T], *, what: str) -> T:
        """Call ``fn`` until it returns, retrying on ``retry_on``; past the deadline the last error propagates."""
        del what  # kept for symmetry with wait_for, so call sites say what they are doing
        return self._retrying(tenacity.retry_if_exception_type(self.retry_on), reraise=True)(fn)

    def wait_for(self, probe: Callable[[], T | None], *, what: str) -> T:
        """Poll ``probe`` until it returns something other than None; raise :class:`DeadlineExceeded` otherwise.

        Exceptions in ``retry_on`` count as "not yet"; the last one becomes the ``__cause__`` of the deadline error.
        """
        retrying = self._retrying(
            tenacity.retry_if_result(lambda result: result is None) | tenacity.retry_if_exception_type(self.retry_on),
            reraise=False,
        )
        try:
            result = retrying(probe)
        except tenacity.RetryError as exc:
            last = exc.last_attempt.exception() if exc.last_attempt.failed else None
            raise DeadlineExceeded(f"gave up waiting for {what} after {self.deadline:g} s") from last
        assert result is not None
        return result


class _StopAfter(tenacity.stop.stop_base):
    """Stop once the injected clock says ``deadline`` seconds have passed since this policy run began."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self._deadline = deadline
        self._clock = clock
        self._start = clock()

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self._clock() - self._start >= self._deadline
