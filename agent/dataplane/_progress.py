"""Per-pair progress counters, as a plain snapshot the server layer exports as metrics."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.dataplane._wire import EncodedBatch

__all__ = ["PairProgress", "ProgressRecorder"]


@dataclass(frozen=True, slots=True)
class PairProgress:
    """One pair's data path at one moment.

    ``lag_seconds`` is the age of the oldest write that is queued, sent or in flight but not yet acknowledged (0.0
    when everything read from the source is acknowledged; writes still unread in the change log are not counted).
    ``resync_percent`` is None outside a resync pass.
    """

    pair: str
    generation: int
    plain_bytes_sent: int
    wire_bytes_sent: int
    plain_bytes_acknowledged: int
    last_sent_seq: int
    acknowledged_seq: int
    backlog_bytes: int
    backlog_batches: int
    lag_seconds: float
    resync_percent: float | None
    last_error: str | None
    last_error_time: float | None


class ProgressRecorder:
    """Thread-safe counters for one pair: the sender records, the metrics exporter takes snapshots."""

    def __init__(self, pair: str, generation: int, *, clock: Callable[[], float] = time.time) -> None:
        self._pair = pair
        self._generation = generation
        self._clock = clock
        self._lock = threading.Lock()
        self._queued: collections.OrderedDict[int, tuple[float, int, int]] = collections.OrderedDict()
        self._plain_sent = self._wire_sent = self._plain_acked = 0
        self._last_sent = self._acked = 0
        self._backlog_bytes = self._backlog_batches = 0
        self._resync: float | None = None
        self._error: str | None = None
        self._error_time: float | None = None

    def queued(self, batch: EncodedBatch) -> None:
        """``batch`` was cut and is waiting to be sent (it counts for lag and backlog from now on)."""
        with self._lock:
            if batch.seq not in self._queued and batch.seq > self._acked:
                self._queued[batch.seq] = (batch.captured_at, batch.plain_bytes, batch.wire_bytes)
                self._backlog_batches += 1
                self._backlog_bytes += batch.wire_bytes

    def sent(self, batch: EncodedBatch) -> None:
        self.queued(batch)
        with self._lock:
            self._plain_sent += batch.plain_bytes
            self._wire_sent += batch.wire_bytes
            self._last_sent = max(self._last_sent, batch.seq)

    def acknowledged(self, watermark: int) -> None:
        with self._lock:
            self._acked = max(self._acked, watermark)
            while self._queued:
                seq, (_, plain, wire) = next(iter(self._queued.items()))
                if seq > self._acked:
                    break
                del self._queued[seq]
                self._plain_acked += plain
                self._backlog_batches -= 1
                self._backlog_bytes -= wire

    def resync(self, fraction: float | None) -> None:
        """Resync progress from 0.0 to 1.0, or None when no resync pass is running."""
        with self._lock:
            self._resync = None if fraction is None else 100.0 * min(max(fraction, 0.0), 1.0)

    def error(self, error: BaseException | str | None) -> None:
        """Record the last error (None clears it once the pair is healthy again)."""
        with self._lock:
            self._error = None if error is None else str(error)
            self._error_time = None if error is None else self._clock()

    def snapshot(self) -> PairProgress:
        with self._lock:
            now = self._clock()
            oldest = min((captured for captured, _, _ in self._queued.values()), default=None)
            return PairProgress(
                pair=self._pair,
                generation=self._generation,
                plain_bytes_sent=self._plain_sent,
                wire_bytes_sent=self._wire_sent,
                plain_bytes_acknowledged=self._plain_acked,
                last_sent_seq=self._last_sent,
                acknowledged_seq=self._acked,
                backlog_bytes=self._backlog_bytes,
                backlog_batches=self._backlog_batches,
                lag_seconds=0.0 if oldest is None else max(0.0, now - oldest),
                resync_percent=self._resync,
                last_error=self._error,
                last_error_time=self._error_time,
            )
