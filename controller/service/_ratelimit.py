"""Failed-registration limits per caller address: guessing tokens must be slow even from many token ids."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

__all__ = ["FailureLimiter", "peer_host"]


def peer_host(peer: str) -> str:
    """gRPC's ``ipv4:10.0.0.5:51000`` / ``ipv6:[::1]:51000`` without the port."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1 : rest.index("]")]
    return rest.rsplit(":", 1)[0] if kind == "ipv4" else peer


class FailureLimiter:
    """At most ``limit`` failures per ``window`` seconds per key; past that, callers wait until the oldest ages out."""

    def __init__(self, limit: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._failures: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float:
        """0 when ``key`` may try now, otherwise the seconds until it may."""
        with self._lock:
            failures = self._recent(key)
            if len(failures) < self._limit:
                return 0.0
            return failures[0] + self._window - self._clock()

    def record_failure(self, key: str) -> None:
        with self._lock:
            self._recent(key).append(self._clock())

    def _recent(self, key: str) -> collections.deque[float]:
        failures = self._failures.setdefault(key, collections.deque())
        horizon = self._clock() - self._window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            # Forget idle callers so a scan from many addresses cannot grow this map without bound.
            del self._failures[key]
            failures = self._failures.setdefault(key, collections.deque())
        return failures
