"""A bandwidth limit in bytes per second, shared fairly by every pair that sends through it.

One token bucket holds the global rate (changeable at run time). Pairs waiting for it are served in start-time fair
queuing order (Goyal, Vin and Cheng, 1996): each request gets a virtual start tag ``max(system virtual time, the
pair's previous finish tag)``, the waiting request with the smallest start tag goes next, and its finish tag is the
start plus its size. Pairs therefore share the rate in bytes, whatever their batch sizes; a pair that was idle
cannot bank credit and then starve the others. Unlike deficit round robin this needs no backlog of queued requests
per pair, which matters here because each pair's sender has exactly one request waiting at a time.

The bucket may go into debt by one request, so a request larger than the burst is never stuck.
"""

from __future__ import annotations

import collections
import itertools
import threading
from dataclasses import dataclass, field
from typing import Protocol

from agent.dataplane._clock import SYSTEM_CLOCK, Clock
from failback.errors import DeadlineExceeded

__all__ = ["BandwidthLimiter", "Limiter", "Ticket"]


class Limiter(Protocol):
    """What a sender waits on before each send: :class:`BandwidthLimiter`, or several of them in turn."""

    def acquire(self, pair: str, nbytes: int, *, timeout: float | None = None) -> None: ...


@dataclass(eq=False)
class Ticket:
    """A pending request for ``nbytes`` on behalf of ``pair``; ``granted`` turns true when it may be sent."""

    pair: str
    nbytes: int
    order: int
    start_tag: float = 0.0
    granted: bool = field(default=False)


class BandwidthLimiter:
    """``rate`` bytes per second (None: unlimited) with up to ``burst`` bytes sent at once after a pause."""

    def __init__(self, rate: float | None, *, burst: int = 1 << 20, clock: Clock = SYSTEM_CLOCK) -> None:
        self._check_rate(rate)
        if burst <= 0:
            raise ValueError("the burst must be positive")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._cond = threading.Condition()
        self._tokens = float(burst)
        self._refilled = clock.monotonic()
        self._waiting: dict[str, collections.deque[Ticket]] = {}
        self._finish: dict[str, float] = {}
        self._vtime = 0.0
        self._orders = itertools.count()
        self._granted: dict[str, int] = collections.defaultdict(int)

    @staticmethod
    def _check_rate(rate: float | None) -> None:
        if rate is not None and not rate > 0:
            raise ValueError(f"a bandwidth limit must be positive bytes per second or None, got {rate!r}")

    @property
    def rate(self) -> float | None:
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        """Change the limit; tokens accrued so far keep the old rate."""
        self._check_rate(rate)
        with self._cond:
            self._refill(self._clock.monotonic())
            self._rate = rate
            self._cond.notify_all()

    def granted_bytes(self, pair: str) -> int:
        """Bytes granted to ``pair`` so far."""
        with self._cond:
            return self._granted.get(pair, 0)

    def forget(self, pair: str) -> None:
        """Drop a pair's fairness state (it was removed)."""
        with self._cond:
            self._finish.pop(pair, None)
            self._granted.pop(pair, None)

    # -- non-blocking core -------------------------------------------------------------------------------------

    def request(self, pair: str, nbytes: int) -> Ticket:
        """Queue a request; it is granted by :meth:`poll` (or :meth:`acquire`) when its turn and the tokens come."""
        if nbytes < 0:
            raise ValueError("cannot request a negative number of bytes")
        with self._cond:
            queue = self._waiting.setdefault(pair, collections.deque())
            previous = queue[-1].start_tag + queue[-1].nbytes if queue else self._finish.get(pair, 0.0)
            ticket = Ticket(pair, nbytes, next(self._orders), max(self._vtime, previous))
            queue.append(ticket)
            self._finish[pair] = ticket.start_tag + nbytes
            return ticket

    def cancel(self, ticket: Ticket) -> None:
        with self._cond:
            queue = self._waiting.get(ticket.pair)
            if queue is not None and ticket in queue:
                queue.remove(ticket)
                if not queue:
                    del self._waiting[ticket.pair]
                self._finish[ticket.pair] = queue[-1].start_tag + queue[-1].nbytes if queue else self._vtime

    def poll(self) -> float | None:
        """Grant what the bucket allows now, in fair order. Returns the seconds until the next grant may become
        possible (always positive), or None when nothing is waiting."""
        with self._cond:
            return self._dispatch(self._clock.monotonic())

    def _refill(self, now: float) -> None:
        if self._rate is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._refilled) * self._rate)
        self._refilled = now

    def _dispatch(self, now: float) -> float | None:
        self._refill(now)
        granted = False
        while self._waiting and (self._rate is None or self._tokens > 0):
            pair = min(self._waiting, key=lambda p: (self._waiting[p][0].start_tag, self._waiting[p][0].order))
            queue = self._waiting[pair]
            ticket = queue.popleft()
            if not queue:
                del self._waiting[pair]
            self._vtime = ticket.start_tag
            if self._rate is not None:
                self._tokens -= ticket.nbytes
            ticket.granted = granted = True
            self._granted[pair] += ticket.nbytes
        if granted:
            self._cond.notify_all()
        if not self._waiting:
            return None
        assert self._rate is not None
        return (max(0.0, -self._tokens) + 1.0) / self._rate  # until the bucket holds at least one byte again

    # -- blocking API ------------------------------------------------------------------------------------------

    def acquire(self, pair: str, nbytes: int, *, timeout: float | None = None) -> None:
        """Block until ``pair`` may send ``nbytes``; raise :class:`DeadlineExceeded` after ``timeout`` seconds."""
        ticket = self.request(pair, nbytes)
        with self._cond:
            deadline = None if timeout is None else self._clock.monotonic() + timeout
            while True:
                delay = self._dispatch(self._clock.monotonic())
                if ticket.granted:
                    return
                remaining = None if deadline is None else deadline - self._clock.monotonic()
                if remaining is not None and remaining <= 0:
                    self.cancel(ticket)
                    raise DeadlineExceeded(
                        f"bandwidth limit: {nbytes} bytes for pair {pair} not granted within {timeout:g} s "
                        f"at {self._rate:.0f} B/s"
                    )
                # Wake when tokens may suffice (small floor against spinning), or at the deadline.
                wait = max(delay or 0.0, 0.0005)
                self._clock.wait(self._cond, wait if remaining is None else min(wait, remaining))
