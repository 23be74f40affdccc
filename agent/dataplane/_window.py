"""The in-flight window: how much a sender may have sent and not yet seen acknowledged.

Backpressure for the stream: the sender acquires room for a batch before sending it and the acknowledgement reader
releases everything up to the receiver's durable watermark. Since batches are appended to the backlog only once they
have room here, the window also bounds the unacknowledged part of the backlog.
"""

from __future__ import annotations

import collections
import threading

from agent.dataplane._clock import SYSTEM_CLOCK, Clock
from failback.errors import DeadlineExceeded

__all__ = ["InflightWindow"]


class InflightWindow:
    """At most ``max_bytes`` and ``max_batches`` outstanding (a single batch larger than ``max_bytes`` is let
    through when nothing else is outstanding, so it cannot wedge the stream). Thread-safe."""

    def __init__(self, *, max_bytes: int = 32 << 20, max_batches: int = 64, clock: Clock = SYSTEM_CLOCK) -> None:
        if max_bytes <= 0 or max_batches <= 0:
            raise ValueError("the in-flight window needs room for at least one batch")
        self.max_bytes = max_bytes
        self.max_batches = max_batches
        self._clock = clock
        self._cond = threading.Condition()
        self._outstanding: collections.deque[tuple[int, int]] = collections.deque()
        self._bytes = 0

    @property
    def outstanding_bytes(self) -> int:
        with self._cond:
            return self._bytes

    @property
    def outstanding_batches(self) -> int:
        with self._cond:
            return len(self._outstanding)

    def has_room(self, nbytes: int) -> bool:
        """Whether :meth:`acquire` of ``nbytes`` would proceed without waiting now."""
        with self._cond:
            return self._has_room(nbytes)

    def _has_room(self, nbytes: int) -> bool:
        if not self._outstanding:
            return True
        return len(self._outstanding) < self.max_batches and self._bytes + nbytes <= self.max_bytes

    def acquire(self, seq: int, nbytes: int, *, timeout: float | None = None) -> None:
        """Wait for room for batch ``seq`` of ``nbytes`` and count it as outstanding; raise
        :class:`DeadlineExceeded` after ``timeout`` seconds (None: wait as long as it takes)."""
        with self._cond:
            if self._outstanding and seq <= self._outstanding[-1][0]:
                raise ValueError(f"batch {seq} is not after the last outstanding batch {self._outstanding[-1][0]}")
            deadline = None if timeout is None else self._clock.monotonic() + timeout
            while not self._has_room(nbytes):
                remaining = None if deadline is None else deadline - self._clock.monotonic()
                if remaining is not None and remaining <= 0:
                    raise DeadlineExceeded(
                        f"no room in the in-flight window for batch {seq} after {timeout:g} s "
                        f"({len(self._outstanding)} batches, {self._bytes} bytes unacknowledged)"
                    )
                self._clock.wait(self._cond, 3600.0 if remaining is None else remaining)
            self._outstanding.append((seq, nbytes))
            self._bytes += nbytes

    def acknowledge(self, watermark: int) -> int:
        """Release every batch up to ``watermark``; returns the bytes released."""
        released = 0
        with self._cond:
            while self._outstanding and self._outstanding[0][0] <= watermark:
                released += self._outstanding.popleft()[1]
            self._bytes -= released
            self._cond.notify_all()
        return released

    def reset(self) -> None:
        """Forget everything outstanding (the stream broke; the backlog resends those batches)."""
        with self._cond:
            self._outstanding.clear()
            self._bytes = 0
            self._cond.notify_all()
