"""T11: a block damaged on the process server after it was hashed and before encryption (a gRPC client interceptor
flips a byte of one payload) is refused by the master target's digest check (DATA_LOSS), never applied; the sender
reads the source again and the pair converges. The sender runs in the test process (the product's SourcePair with
an intercepted channel) against a real master target agent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc

from agent.api.v1 import replication_pb2 as pb
from agent.dataplane import BandwidthLimiter, BatchEncoder
from agent.replication import SenderOptions, SourceKind, SourcePair, SourcePairSpec, SourceState
from failback.identity import Identity
from failback.serving import TlsIdentity, secure_channel
from tests.replication.support import Lab, make_disk, wait_for

SIZE = 8 << 20


class CorruptOnce(grpc.StreamStreamClientInterceptor):
    """Flips one byte in the payload of the first block of batch ``seq``, the first time it is sent."""

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.done = threading.Event()

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        def damaged() -> Iterator[pb.StreamRequest]:
            for request in request_iterator:
                if not self.done.is_set() and request.WhichOneof("kind") == "batch" and request.batch.seq == self.seq:
                    for entry in request.batch.entries:
                        if entry.WhichOneof("kind") == "block" and entry.block.payload:
                            payload = bytearray(entry.block.payload)
                            payload[len(payload) // 2] ^= 0x01
                            entry.block.payload = bytes(payload)
                            self.done.set()
                            break
                yield request

        return continuation(client_call_details, damaged())


class Connector:
    def __init__(self, tls: TlsIdentity, interceptor: grpc.StreamStreamClientInterceptor) -> None:
        self.tls, self.interceptor = tls, interceptor

    def channel(self, address: str, peer: Identity) -> grpc.Channel:
        return grpc.intercept_channel(secure_channel(address, self.tls, peer), self.interceptor)


def test_t11_a_block_damaged_before_encryption_is_refused_by_its_hash_and_sent_again(
    lab: Lab, sender_tls: TlsIdentity, tmp_path: Path
):
    source = make_disk(tmp_path / "source.img", SIZE, seed=41, fill=0.8)
    target = make_disk(tmp_path / "target.img", SIZE)
    lab.put_target(lab.target_pair("t11", target, SIZE, sender=sender_tls.identity.name))
    corrupt = CorruptOnce(seq=3)
    spec = SourcePairSpec(
        pair_id="t11",
        generation=1,
        source_path=str(source),
        kind=SourceKind.SCAN,
        master_target_address=str(lab.mt.address),
        master_target_name=lab.mt.name,
    ).check()
    with BatchEncoder(threads=2) as encoder:
        pair = SourcePair(
            spec,
            log_start=0,
            work_dir=str(tmp_path / "send"),
            connector=Connector(sender_tls, corrupt),
            encoder=encoder,
            limiter=BandwidthLimiter(None),
            options=SenderOptions(),
        )
        pair.start()
        try:
            wait_for(lambda: pair.status().state is SourceState.SYNCED or None, "the pass to complete")
        finally:
            pair.stop()
    assert corrupt.done.is_set()
    status = lab.target_status("t11")
    assert status.batches_rejected == 1
    assert "blake3" in status.last_error or "decode" in status.last_error, status.last_error
    assert pair.status().connects >= 2
    assert target.read_bytes() == source.read_bytes()
