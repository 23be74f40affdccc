"""Hand-made Replication streams: the test plays a process server, message by message."""

from __future__ import annotations

import queue
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from agent.api.v1 import replication_pb2 as pb
from agent.api.v1 import replication_pb2_grpc
from agent.dataplane import BLOCK_SIZE, EncodedBatch, encode_block
from agent.replication import batch_to_proto
from failback.serving import TlsIdentity, secure_channel
from tests.harness import AgentProcess


def block(offset: int, data: bytes) -> pb.Entry:
    encoded = encode_block(offset, data)
    return pb.Entry(
        block=pb.Block(
            offset=offset,
            length=len(data),
            codec=int(encoded.codec),  # type: ignore[arg-type]
            payload=bytes(encoded.compressed),
            digest=encoded.digest,
        )
    )


def batch(seq: int, *entries: pb.Entry) -> pb.StreamRequest:
    return pb.StreamRequest(batch=pb.Batch(seq=seq, entries=list(entries)))


def filled(value: int, blocks: int = 1) -> bytes:
    return bytes([value]) * (BLOCK_SIZE * blocks)


def opening(pair_id: str, generation: int) -> pb.StreamRequest:
    return pb.StreamRequest(open=pb.OpenStream(pair_id=pair_id, generation=generation))


def from_model(encoded: EncodedBatch) -> pb.StreamRequest:
    return pb.StreamRequest(batch=batch_to_proto(encoded))


@dataclass
class Outcome:
    """What the master target answered to one stream: the watermark it opened at, the acks, the final status."""

    opened: int | None = None
    acks: list[int] = field(default_factory=list)
    code: grpc.StatusCode = grpc.StatusCode.OK
    details: str = ""

    @property
    def watermark(self) -> int | None:
        return self.acks[-1] if self.acks else self.opened


def run_stream(agent: AgentProcess, tls: TlsIdentity, requests: Iterable[pb.StreamRequest]) -> Outcome:
    """Send ``requests`` (the client then half-closes) and collect every answer until the stream ends."""
    outcome = Outcome()
    with secure_channel(str(agent.address), tls, agent.identity) as channel:
        stub = replication_pb2_grpc.ReplicationStub(channel)
        try:
            for response in stub.Stream(iter(list(requests)), timeout=60):
                if response.WhichOneof("kind") == "opened":
                    outcome.opened = response.opened.durable_seq
                else:
                    outcome.acks.append(response.ack.durable_seq)
        except grpc.RpcError as exc:
            outcome.code, outcome.details = exc.code(), exc.details() or ""
    return outcome


class Stream:
    """A stream kept open by the test, to interleave it with another one."""

    def __init__(self, agent: AgentProcess, tls: TlsIdentity, first: pb.StreamRequest) -> None:
        self._channel = secure_channel(str(agent.address), tls, agent.identity)
        self._requests: queue.Queue[pb.StreamRequest | None] = queue.Queue()
        self._requests.put(first)
        self._responses = replication_pb2_grpc.ReplicationStub(self._channel).Stream(self._iterate(), timeout=60)

    def _iterate(self) -> Iterator[pb.StreamRequest]:
        while (item := self._requests.get()) is not None:
            yield item

    def send(self, request: pb.StreamRequest) -> None:
        self._requests.put(request)

    def next(self) -> pb.StreamResponse:
        return next(self._responses)

    def finish(self) -> Outcome:
        self._requests.put(None)
        outcome = Outcome()
        try:
            for response in self._responses:
                if response.WhichOneof("kind") == "ack":
                    outcome.acks.append(response.ack.durable_seq)
        except grpc.RpcError as exc:
            outcome.code, outcome.details = exc.code(), exc.details() or ""
        self._channel.close()
        return outcome


def snapshot(path: Path) -> bytes:
    return path.read_bytes()
