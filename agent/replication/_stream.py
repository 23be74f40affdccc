"""The process server's end of one ``Replication.Stream``: the :class:`agent.dataplane.Transport` a PairSender sends
through, and the thread that reads the master target's acknowledgements.

Requests flow through a small bounded queue that gRPC drains (so a stalled connection blocks the sender instead of
filling memory); the in-flight window above it bounds what is unacknowledged. Any end of the stream - an error
status, a keepalive timeout (a silent partition is noticed within ~20 s by the channel's pings), the peer closing -
makes the next :meth:`StreamSession.send` raise :class:`StreamBroken` with the reason.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator

import grpc

from agent.api.v1 import replication_pb2 as pb
from agent.api.v1 import replication_pb2_grpc
from agent.dataplane import EncodedBatch
from agent.replication._convert import batch_to_proto
from agent.replication.errors import StreamBroken
from failback.errors import FailbackError

__all__ = ["StreamSession"]

log = logging.getLogger(__name__)

_CLOSE = object()
_QUEUE_DEPTH = 4
_PUT_SLICE = 0.5


class StreamSession:
    """Open a stream for ``pair_id`` at ``generation`` on ``channel`` and wait (at most ``open_timeout`` seconds) for
    the master target's answer; :attr:`durable_seq` is its watermark. ``on_ack(watermark)`` runs on the reader
    thread for every acknowledgement; an exception from it ends the stream with that error. ``on_broken(error)``
    runs once when the stream ends, whatever ended it."""

    def __init__(
        self,
        channel: grpc.Channel,
        pair_id: str,
        generation: int,
        *,
        on_ack: Callable[[int], None],
        on_broken: Callable[[FailbackError], None] = lambda _error: None,
        open_timeout: float = 30.0,
    ) -> None:
        self.pair_id = pair_id
        self._on_ack = on_ack
        self._on_broken = on_broken
        self._requests: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._broken: FailbackError | None = None
        self._lock = threading.Lock()
        self._requests.put(pb.StreamRequest(open=pb.OpenStream(pair_id=pair_id, generation=generation)))
        stub = replication_pb2_grpc.ReplicationStub(channel)
        self._call = stub.Stream(self._outgoing())
        timer = threading.Timer(open_timeout, self._call.cancel)
        timer.start()
        try:
            first = next(self._call)
        except grpc.RpcError as exc:
            self._requests_closed()
            raise _broken(pair_id, exc) from exc
        except StopIteration:
            self._requests_closed()
            raise StreamBroken(f"pair {pair_id}: the master target closed the stream without answering") from None
        finally:
            timer.cancel()
        if first.WhichOneof("kind") != "opened":
            self.close()
            raise StreamBroken(f"pair {pair_id}: the master target answered the open with {first.WhichOneof('kind')}")
        self.durable_seq: int = first.opened.durable_seq
        self.disk_size: int = first.opened.disk_size
        self.session: int = first.opened.session
        self._reader = threading.Thread(target=self._read_acks, name=f"acks-{pair_id}", daemon=True)
        self._reader.start()

    def _outgoing(self) -> Iterator[pb.StreamRequest]:
        while True:
            item = self._requests.get()
            if item is _CLOSE:
                return
            assert isinstance(item, pb.StreamRequest)
            yield item

    def _read_acks(self) -> None:
        try:
            for response in self._call:
                if response.WhichOneof("kind") != "ack":
                    raise StreamBroken(f"pair {self.pair_id}: unexpected {response.WhichOneof('kind')} on the stream")
                self._on_ack(response.ack.durable_seq)
            self._break(StreamBroken(f"pair {self.pair_id}: the master target ended the stream"))
        except grpc.RpcError as exc:
            self._break(_broken(self.pair_id, exc))
        except FailbackError as exc:
            self._break(exc)
            self._call.cancel()

    def _break(self, error: FailbackError) -> None:
        with self._lock:
            first = self._broken is None
            if first:
                self._broken = error
                log.info("%s", error)
        self._requests_closed()
        if first:
            self._on_broken(error)

    @property
    def broken(self) -> FailbackError | None:
        return self._broken

    def raise_if_broken(self) -> None:
        if self._broken is not None:
            raise self._broken

    def send(self, batch: EncodedBatch) -> None:
        """Queue ``batch`` on the stream; blocks while gRPC has not taken the previous ones. Raises the stream's
        error once it ended."""
        message = pb.StreamRequest(batch=batch_to_proto(batch))
        while True:
            self.raise_if_broken()
            try:
                self._requests.put(message, timeout=_PUT_SLICE)
            except queue.Full:
                continue
            return

    def _requests_closed(self) -> None:
        """Let the request generator end (gRPC's thread may be waiting in it)."""
        while True:
            try:
                self._requests.put_nowait(_CLOSE)
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._requests.get_nowait()  # a request nobody will send: the next stream resends it
            else:
                return

    def close(self) -> None:
        """End the stream (cancelling what is in flight: the next stream resends it) and wait for the reader."""
        self._break(StreamBroken(f"pair {self.pair_id}: stream closed"))
        self._call.cancel()
        reader = getattr(self, "_reader", None)
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=30)


def _broken(pair_id: str, exc: grpc.RpcError) -> StreamBroken:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    name = code.name if code is not None else "UNKNOWN"
    return StreamBroken(f"pair {pair_id}: the stream ended: {name}: {details}", status=name)
