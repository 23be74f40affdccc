"""Small helpers for job machinery tests: a clock that only moves when told, and a recorder of step effects."""

from __future__ import annotations

import datetime as dt
import threading

START = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


class ManualClock:
    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += dt.timedelta(seconds=seconds)


class Effects:
    """What steps did to the world. ``once(name)`` is the check-before-act a real step does."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.runs: list[str] = []
        self._lock = threading.Lock()

    def once(self, name: str) -> None:
        with self._lock:
            self.runs.append(name)
            if name not in self.done:
                self.done.append(name)


class Crash(BaseException):
    """Stands in for the process dying mid-step: nothing in the runner catches it, nothing gets recorded."""
