"""PairSender: the process server's data path for one pair, from a change source to a transport.

    source --cut--> Batcher --encode (pool)--> window room --> backlog append, group fsync --> bandwidth --> transport

The order is what makes restarts exact: a batch takes its sequence number only when it enters the send log, and it is
durable there before any byte of it leaves. A :class:`SendLog` is either the :class:`Backlog` (every batch kept byte
for byte: reconnecting resends the batches above the master target's durable watermark, then reads the source on
from the newest batch's cursor) or the :class:`SendIndex` (only ``seq -> cursor`` kept: reconnecting forgets the
batches above the watermark and reads the source again from the watermark's cursor - for sources that can be read
again, such as a change log or a disk). Acknowledgements (from another thread) release the window, trim the send log
and report the acknowledged source cursor (the change log may be trimmed to it).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Protocol

from agent.dataplane._batch import BatchEncoder, Batcher, PendingBatch
from agent.dataplane._limiter import Limiter
from agent.dataplane._progress import ProgressRecorder
from agent.dataplane._source import ChangeSource
from agent.dataplane._window import InflightWindow
from agent.dataplane._wire import EncodedBatch

__all__ = ["PairSender", "SendLog", "Transport"]


class SendLog(Protocol):
    """Where a sender keeps what it must be able to resend (see the module docstring)."""

    @property
    def next_seq(self) -> int:
        """The sequence number the next appended batch must carry."""
        ...

    @property
    def acknowledged(self) -> int: ...

    @property
    def resume_cursor(self) -> int:
        """The source cursor after the newest batch: where reading the source continues."""
        ...

    def append(self, batch: EncodedBatch) -> None: ...

    def sync(self) -> None:
        """Make every appended batch durable (before any of them is sent)."""
        ...

    def acknowledge(self, watermark: int) -> int | None:
        """The receiver's durable watermark; returns the source cursor after it, when known."""
        ...

    def restart(self, watermark: int) -> list[EncodedBatch]:
        """A stream restarts at ``watermark`` (already acknowledged): the batches to resend, in order."""
        ...

    def close(self) -> None: ...


class Transport(Protocol):
    def send(self, batch: EncodedBatch) -> None:
        """Hand ``batch`` to the stream (may block; raises when the stream is broken)."""
        ...


class PairSender:
    """Sends one pair's changes in batches of about ``batch_bytes``, made durable in the backlog ``sync_every``
    batches at a time (and whenever the source runs dry) before they are sent. ``timeout`` bounds each wait for
    window room or bandwidth (:class:`failback.errors.DeadlineExceeded`); ``on_acknowledged(cursor)`` is called with
    the source cursor after each newly acknowledged batch.
    """

    def __init__(
        self,
        pair: str,
        *,
        source: ChangeSource,
        backlog: SendLog,
        encoder: BatchEncoder,
        window: InflightWindow,
        progress: ProgressRecorder,
        limiter: Limiter | None = None,
        on_acknowledged: Callable[[int], None] | None = None,
        batch_bytes: int = 1 << 20,
        sync_every: int = 8,
        timeout: float = 60.0,
        read_ahead: int = 4,
    ) -> None:
        self.pair = pair
        self.progress = progress
        self._source = source
        self._backlog = backlog
        self._encoder = encoder
        self._window = window
        self._limiter = limiter
        self._on_acknowledged = on_acknowledged
        self._batch_bytes = batch_bytes
        self._sync_every = sync_every
        self._timeout = timeout
        self._read_ahead = read_ahead
        self._lock = threading.Lock()
        self._unsent: list[EncodedBatch] = []

    def connect(self, watermark: int, transport: Transport) -> int:
        """Start a (new) stream whose receiver has everything up to ``watermark`` durable: resend the backlog's
        batches above it. Returns how many were resent. Raises :class:`WatermarkAhead`/:class:`WatermarkBehind`
        when the two sides disagree beyond repair (the pair needs a resync)."""
        self._window.reset()
        self._unsent.clear()  # appended but never sent: they are in the backlog and resent below
        self.acknowledge(watermark)
        with self._lock:
            self._backlog.sync()
            resend = self._backlog.restart(watermark)
        for batch in resend:
            self._send(batch, transport)
        return len(resend)

    def pump(self, transport: Transport) -> int:
        """Send what the source holds now, from where the backlog ends; returns the number of new batches.

        Reading the source, cutting and encoding run on a read-ahead thread (and the encoder's pool), up to
        ``read_ahead`` encoded batches ahead of this thread, which appends, syncs and sends: a source read never
        waits for a send, nor a send for a read."""
        with self._lock:
            cursor, first_seq = self._backlog.resume_cursor, self._backlog.next_seq
        batcher = Batcher(first_seq=first_seq, target_bytes=self._batch_bytes)
        sent = self._flush(transport)  # left over by a pump that failed after appending
        batches = _ReadAhead(batcher.cut(self._source.changes(cursor)), self._encoder, self._read_ahead, self.pair)
        try:
            for batch in batches:
                self.progress.queued(batch)
                if self._unsent and not self._window.has_room(batch.wire_bytes):
                    sent += self._flush(transport)  # the acks that make room can only follow a send
                self._window.acquire(batch.seq, batch.wire_bytes, timeout=self._timeout)
                with self._lock:
                    self._backlog.append(batch)
                self._unsent.append(batch)
                if len(self._unsent) >= self._sync_every:
                    sent += self._flush(transport)
        finally:
            batches.close()
        return sent + self._flush(transport)

    def _flush(self, transport: Transport) -> int:
        """One fdatasync for the appended batches, then send them (a sync per ~1 MiB batch would dominate)."""
        if not self._unsent:
            return 0
        with self._lock:
            self._backlog.sync()
        count = 0
        while self._unsent:
            self._send(self._unsent[0], transport, window_held=True)
            self._unsent.pop(0)
            count += 1
        return count

    def interrupt(self) -> None:
        """The stream broke: wake a :meth:`pump` waiting for window room (its next send then fails at once instead
        of after the timeout)."""
        self._window.reset()

    def acknowledge(self, watermark: int) -> None:
        """The receiver made every batch up to ``watermark`` durable."""
        self._window.acknowledge(watermark)
        with self._lock:
            before = self._backlog.acknowledged
            cursor = self._backlog.acknowledge(watermark)
        self.progress.acknowledged(watermark)
        if cursor is not None and watermark > before and self._on_acknowledged is not None:
            self._on_acknowledged(cursor)

    def _send(self, batch: EncodedBatch, transport: Transport, *, window_held: bool = False) -> None:
        if not window_held:
            self._window.acquire(batch.seq, batch.wire_bytes, timeout=self._timeout)
        if self._limiter is not None:
            self._limiter.acquire(self.pair, batch.wire_bytes, timeout=self._timeout)
        transport.send(batch)
        self.progress.sent(batch)


_END = object()


class _ReadAhead:
    """Cut ``source`` into batches on a thread of its own and hand each to ``encoder`` at once, at most ``depth``
    batches ahead of the consumer, which gets them encoded and in order. A batch is delivered as soon as it is
    encoded, however long the source takes to yield the next one (a resync finds changed blocks far apart). An
    exception in the source or the encoder is raised to the consumer; :meth:`close` stops the thread (and closes the
    source) early."""

    def __init__(self, source: Iterator[PendingBatch], encoder: BatchEncoder, depth: int, name: str) -> None:
        self._source = source
        self._encoder = encoder
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"read-{name}", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def _run(self) -> None:
        try:
            for pending in self._source:
                if not self._put(self._encoder.submit(pending)):
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            self._put(_Failure(exc))
        else:
            self._put(_END)
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[EncodedBatch]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            assert isinstance(item, Future)
            yield item.result()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error
