"""``failback.agent.v1.Replication`` on a master target: the block stream, resync hashes and the disk digest.

Receive path of one stream, three stages so that decoding, the journal's flushes and the network overlap::

    reader thread:   protobuf -> entries (batch_from_proto) -> decode pool (decode_batch: bounds, sizes, zstd,
                     blake3 - all or nothing, no I/O)
    appender thread: decoded batches in order -> TargetPair.receive (journal append, durable) -> watermark
    gRPC's thread:   yields an ack with the newest watermark whenever it moved (one ack may cover many batches)

A bad batch ends the stream with INVALID_ARGUMENT or DATA_LOSS and nothing of it is written; the batches before it
were appended and acknowledged. While the retention volume is full the same batch is retried (acknowledgements stop,
the sender's window fills) and the pair reports BACKPRESSURE; it resumes by itself. A journal failure ends the stream
and leaves the pair FAILED: nothing is acknowledged after it.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

import grpc

from agent.api.v1 import replication_pb2 as pb
from agent.api.v1 import replication_pb2_grpc
from agent.dataplane import Extent, decode_batch
from agent.dataplane.errors import CorruptData, InvalidInput, RejectedInput
from agent.journal import Batch, InvalidBatch, JournalFailed, PairNotReplicating, RetentionFull, SequenceGap
from agent.journal import StaleGeneration as JournalStaleGeneration
from agent.replication import TargetPair, TargetRegistry, batch_from_proto
from agent.replication.errors import (
    InvalidPair,
    PairNotFound,
    PairUnavailable,
    ProtocolViolation,
    SenderRefused,
    SessionSuperseded,
    WrongGeneration,
)
from failback.errors import DeadlineExceeded, FailbackError
from failback.retry import Policy
from failback.serving import StatusMap, abort_with, peer_identity

__all__ = ["STREAM_STATUS", "ReplicationServicer"]

log = logging.getLogger(__name__)

STREAM_STATUS: StatusMap = [
    (PairNotFound, grpc.StatusCode.NOT_FOUND),
    (SenderRefused, grpc.StatusCode.PERMISSION_DENIED),
    (WrongGeneration, grpc.StatusCode.FAILED_PRECONDITION),
    (PairUnavailable, grpc.StatusCode.FAILED_PRECONDITION),
    (SessionSuperseded, grpc.StatusCode.ABORTED),
    (ProtocolViolation, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidPair, grpc.StatusCode.INVALID_ARGUMENT),
    (CorruptData, grpc.StatusCode.DATA_LOSS),
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (SequenceGap, grpc.StatusCode.OUT_OF_RANGE),
    (JournalStaleGeneration, grpc.StatusCode.FAILED_PRECONDITION),
    (InvalidBatch, grpc.StatusCode.INVALID_ARGUMENT),
    (JournalFailed, grpc.StatusCode.FAILED_PRECONDITION),
    (PairNotReplicating, grpc.StatusCode.FAILED_PRECONDITION),
    (RetentionFull, grpc.StatusCode.UNAVAILABLE),
    (DeadlineExceeded, grpc.StatusCode.UNAVAILABLE),
]

#: Decoded batches waiting for the journal per stream (each ~1 MiB plain): enough to overlap decode with a flush.
_PIPELINE_DEPTH = 4
#: How long one batch may wait for retention space before the stream gives up (the sender reconnects later).
_BACKPRESSURE_DEADLINE = 3600.0
_END = object()


class ReplicationServicer(replication_pb2_grpc.ReplicationServicer):
    def __init__(self, registry: TargetRegistry, *, decode_threads: int = 2) -> None:
        self._registry = registry
        self._decoders = concurrent.futures.ThreadPoolExecutor(decode_threads, thread_name_prefix="decode")

    def close(self) -> None:
        self._decoders.shutdown(wait=False, cancel_futures=True)

    def Stream(
        self, request_iterator: Iterator[pb.StreamRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.StreamResponse]:
        sender = peer_identity(context)
        try:
            first = next(request_iterator, None)
            if first is None:
                return
            if first.WhichOneof("kind") != "open":
                raise ProtocolViolation("the first message of a stream must open a pair")
            pair = self._registry.get(first.open.pair_id)
            opened = pair.open_stream(sender, first.open.generation)
        except FailbackError as exc:
            abort_with(context, exc, STREAM_STATUS)
        receiver = _Receiver(pair, opened.session, first.open.generation, request_iterator, self._decoders)
        context.add_callback(receiver.stop)
        try:
            yield pb.StreamResponse(
                opened=pb.StreamOpened(
                    durable_seq=opened.durable_seq, disk_size=opened.disk_size, session=opened.session
                )
            )
            receiver.start()
            for watermark in receiver.watermarks(context):
                yield pb.StreamResponse(ack=pb.Ack(durable_seq=watermark))
        finally:
            receiver.stop()
            pair.end_stream(opened.session)
        if receiver.error is not None:
            if isinstance(receiver.error, RejectedInput | InvalidBatch):
                pair.rejected(receiver.error)
            log.info("pair %s: stream %d ended: %s", pair.spec.pair_id, opened.session, receiver.error)
            abort_with(context, receiver.error, STREAM_STATUS)

    def Hashes(self, request: pb.HashesRequest, context: grpc.ServicerContext) -> pb.HashesResponse:
        try:
            pair = self._registry.get(request.pair_id)
            extents = [Extent(e.offset, e.length) for e in request.extents]
            digests = pair.hashes(peer_identity(context), request.generation, extents, request.unit)
        except FailbackError as exc:
            abort_with(context, exc, STREAM_STATUS)
        return pb.HashesResponse(digests=b"".join(digests))

    def Digest(self, request: pb.DigestRequest, context: grpc.ServicerContext) -> pb.DigestResponse:
        try:
            pair = self._registry.get(request.pair_id)
            pair.check_sender(peer_identity(context), request.generation, "a digest request")
            digest, applied, point = pair.digest()
        except FailbackError as exc:
            abort_with(context, exc, STREAM_STATUS)
        return pb.DigestResponse(
            digest=digest, disk_size=pair.spec.disk_size, applied_seq=applied, point_id=point or ""
        )


class _Receiver:
    """The reader and appender threads of one stream, and the watermark they publish."""

    def __init__(
        self,
        pair: TargetPair,
        session: int,
        generation: int,
        requests: Iterator[pb.StreamRequest],
        decoders: concurrent.futures.ThreadPoolExecutor,
    ) -> None:
        self._pair = pair
        self._session = session
        self._generation = generation
        self._requests = requests
        self._decoders = decoders
        self._decoded: queue.Queue[Any] = queue.Queue(maxsize=_PIPELINE_DEPTH)
        self._cond = threading.Condition()
        self._watermark = 0
        self._done = False
        self._stopped = threading.Event()
        self.error: FailbackError | None = None
        self._threads = [
            threading.Thread(target=self._read, name=f"recv-{pair.spec.pair_id}", daemon=True),
            threading.Thread(target=self._append, name=f"append-{pair.spec.pair_id}", daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()

    def _fail(self, error: FailbackError) -> None:
        with self._cond:
            if self.error is None:
                self.error = error
            self._done = True
            self._cond.notify_all()
        self._stopped.set()

    def _read(self) -> None:
        disk_size = self._pair.spec.disk_size
        try:
            for request in self._requests:
                if self._stopped.is_set():
                    break
                if request.WhichOneof("kind") != "batch":
                    raise ProtocolViolation("after the open, a stream carries only batches")
                seq, entries = batch_from_proto(request.batch)
                future = self._decoders.submit(decode_batch, seq, entries, disk_size, generation=self._generation)
                while not self._stopped.is_set():
                    try:
                        self._decoded.put(future, timeout=0.5)
                    except queue.Full:
                        continue
                    break
        except FailbackError as exc:
            self._fail(exc)
        except grpc.RpcError:
            self._stopped.set()  # the call ended (cancelled, deadline, connection lost)
        finally:
            self._put_end()

    def _put_end(self) -> None:
        while not self._stopped.is_set():
            try:
                self._decoded.put(_END, timeout=0.5)
            except queue.Full:
                continue
            return

    def _append(self) -> None:
        try:
            while not self._stopped.is_set():
                try:
                    item = self._decoded.get(timeout=0.5)
                except queue.Empty:
                    continue
                if item is _END:
                    break
                batch: Batch = item.result()
                watermark = self._append_one(batch)
                with self._cond:
                    self._watermark = max(self._watermark, watermark)
                    self._cond.notify_all()
        except FailbackError as exc:
            self._fail(exc)
            return
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def _append_one(self, batch: Batch) -> int:
        try:
            return self._pair.receive(self._session, batch)
        except RetentionFull:
            pass
        policy = Policy(
            deadline=_BACKPRESSURE_DEADLINE,
            initial=0.2,
            maximum=2.0,
            jitter=0.1,
            retry_on=(RetentionFull,),
            sleep=self._pause,
        )

        def attempt() -> int:
            if self._stopped.is_set():
                raise SessionSuperseded("the stream ended while waiting for retention space")
            return self._pair.receive(self._session, batch)

        return policy.call(attempt, what=f"retention space for pair {self._pair.spec.pair_id}")

    def _pause(self, seconds: float) -> None:
        self._stopped.wait(seconds)

    def watermarks(self, context: grpc.ServicerContext) -> Iterator[int]:
        """The durable watermark each time it moves, until the stream ends."""
        sent = 0
        while True:
            with self._cond:
                while self._watermark == sent and not self._done and not self._stopped.is_set():
                    self._cond.wait(timeout=1.0)
                    if not context.is_active():
                        return
                watermark, done = self._watermark, self._done or self._stopped.is_set()
            if watermark != sent:
                sent = watermark
                yield watermark
            elif done:
                return
