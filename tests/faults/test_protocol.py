"""T15, T18, T19, T20 against a real master target agent over mutual TLS, the test acting as a process server:
every refusal comes before any write (the target's bytes and the pair's watermark are unchanged)."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest
import zstandard

from agent.api.v1 import replication_pb2 as pb
from agent.dataplane import BLOCK_SIZE, digest_of
from failback.serving import TlsIdentity, secure_channel
from tests.faults.streams import Stream, batch, block, filled, opening, run_stream
from tests.replication.support import Lab, make_disk

SIZE = 4 << 20


def new_pair(lab: Lab, work: Path, pair_id: str, sender: str, *, generation: int = 1) -> Path:
    target = make_disk(work / f"{pair_id}.img", SIZE, seed=1, fill=0.3)
    lab.put_target(lab.target_pair(pair_id, target, SIZE, generation=generation, sender=sender))
    return target


# -- T15: generations ------------------------------------------------------------------------------------------


def test_an_old_generation_sender_is_refused_and_nothing_is_written(lab: Lab, work: Path, sender_tls: TlsIdentity):
    target = new_pair(lab, work, "t15", sender_tls.identity.name, generation=2)
    before = target.read_bytes()
    outcome = run_stream(lab.mt, sender_tls, [opening("t15", 1), batch(1, block(0, filled(7)))])
    assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "generation 2" in outcome.details
    assert outcome.opened is None
    assert target.read_bytes() == before
    assert lab.target_status("t15").bytes_received == 0


def test_a_reprotect_fences_the_stream_of_the_previous_generation(lab: Lab, work: Path, sender_tls: TlsIdentity):
    target = new_pair(lab, work, "t15-live", sender_tls.identity.name)
    stream = Stream(lab.mt, sender_tls, opening("t15-live", 1))
    assert stream.next().opened.durable_seq == 0
    stream.send(batch(1, block(0, filled(1))))
    assert stream.next().ack.durable_seq == 1
    lab.put_target(lab.target_pair("t15-live", target, SIZE, generation=2, sender=sender_tls.identity.name))
    after_reprotect = target.read_bytes()
    stream.send(batch(2, block(BLOCK_SIZE, filled(2))))
    outcome = stream.finish()
    assert outcome.code in (grpc.StatusCode.ABORTED, grpc.StatusCode.FAILED_PRECONDITION), outcome
    assert target.read_bytes() == after_reprotect


# -- T18: another sender -------------------------------------------------------------------------------------------


def test_another_process_server_is_refused_with_an_audit_entry(lab: Lab, work: Path, sender_tls: TlsIdentity):
    target = new_pair(lab, work, "t18", "ps-owner")
    before = target.read_bytes()
    outcome = run_stream(lab.mt, sender_tls, [opening("t18", 1), batch(1, block(0, filled(9)))])
    assert outcome.code == grpc.StatusCode.PERMISSION_DENIED
    assert "ps-owner" in outcome.details
    with secure_channel(str(lab.mt.address), sender_tls, lab.mt.identity) as channel:
        stub = lab.replication(channel)
        with pytest.raises(grpc.RpcError) as hashes:
            stub.Hashes(
                pb.HashesRequest(pair_id="t18", generation=1, unit=4096, extents=[pb.Extent(offset=0, length=4096)]),
                timeout=10,
            )
    assert hashes.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert target.read_bytes() == before
    assert lab.target_status("t18").bytes_received == 0
    audit = [line for line in lab.mt.service.log().splitlines() if "failback.audit" in line and "t18" in line]
    assert any(sender_tls.identity.name in line and "ps-owner" in line for line in audit), audit


# -- T19: replay, reorder, duplicate, reused session -----------------------------------------------------------


def test_duplicated_and_replayed_batches_are_ignored_and_acknowledged_again(
    lab: Lab, work: Path, sender_tls: TlsIdentity
):
    target = new_pair(lab, work, "t19-dup", sender_tls.identity.name)
    first, second = batch(1, block(0, filled(1))), batch(2, block(BLOCK_SIZE, filled(2)))
    outcome = run_stream(lab.mt, sender_tls, [opening("t19-dup", 1), first, first, second, second])
    assert (outcome.code, outcome.watermark) == (grpc.StatusCode.OK, 2)
    overwrite = batch(1, block(0, filled(0xEE)))  # a replay of seq 1 with other bytes must change nothing
    outcome = run_stream(lab.mt, sender_tls, [opening("t19-dup", 1), overwrite])
    assert (outcome.opened, outcome.code, outcome.watermark) == (2, grpc.StatusCode.OK, 2)
    data = target.read_bytes()
    assert data[:BLOCK_SIZE] == filled(1)
    assert data[BLOCK_SIZE : 2 * BLOCK_SIZE] == filled(2)
    status = lab.target_status("t19-dup")
    assert (status.batches_received, status.batches_replayed) == (2, 3)


def test_a_reordered_batch_ends_the_stream_before_anything_of_it_is_written(
    lab: Lab, work: Path, sender_tls: TlsIdentity
):
    target = new_pair(lab, work, "t19-order", sender_tls.identity.name)
    before = target.read_bytes()
    outcome = run_stream(
        lab.mt,
        sender_tls,
        [opening("t19-order", 1), batch(1, block(0, filled(1))), batch(3, block(2 * BLOCK_SIZE, filled(3)))],
    )
    assert outcome.code == grpc.StatusCode.OUT_OF_RANGE
    assert "expected seq 2" in outcome.details
    assert target.read_bytes()[2 * BLOCK_SIZE : 3 * BLOCK_SIZE] == before[2 * BLOCK_SIZE : 3 * BLOCK_SIZE]
    outcome = run_stream(
        lab.mt,
        sender_tls,
        [opening("t19-order", 1), batch(2, block(BLOCK_SIZE, filled(2))), batch(3, block(2 * BLOCK_SIZE, filled(3)))],
    )
    assert (outcome.opened, outcome.watermark, outcome.code) == (1, 3, grpc.StatusCode.OK)


def test_a_superseded_session_cannot_write(lab: Lab, work: Path, sender_tls: TlsIdentity):
    target = new_pair(lab, work, "t19-session", sender_tls.identity.name)
    old = Stream(lab.mt, sender_tls, opening("t19-session", 1))
    old_session = old.next().opened.session
    new = Stream(lab.mt, sender_tls, opening("t19-session", 1))
    assert new.next().opened.session > old_session
    before = target.read_bytes()
    old.send(batch(1, block(0, filled(0xAA))))
    outcome = old.finish()
    assert outcome.code == grpc.StatusCode.ABORTED
    assert outcome.acks == []
    assert target.read_bytes() == before
    new.send(batch(1, block(0, filled(0xBB))))
    assert new.next().ack.durable_seq == 1
    assert new.finish().code == grpc.StatusCode.OK
    assert target.read_bytes()[:BLOCK_SIZE] == filled(0xBB)


@pytest.fixture(scope="module")
def proto_pair(lab: Lab, sender_tls: TlsIdentity, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return new_pair(lab, tmp_path_factory.mktemp("t19"), "t19-proto", sender_tls.identity.name)


@pytest.mark.parametrize(
    "requests",
    [
        pytest.param([batch(1, block(0, filled(1)))], id="no-open-first"),
        pytest.param([opening("t19-proto", 1), opening("t19-proto", 1)], id="second-open"),
        pytest.param([opening("t19-proto", 1), pb.StreamRequest()], id="empty-message"),
    ],
)
def test_a_stream_out_of_protocol_is_an_invalid_argument(lab: Lab, sender_tls: TlsIdentity, proto_pair, requests):
    outcome = run_stream(lab.mt, sender_tls, requests)
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert lab.target_status("t19-proto").durable_seq == 0


# -- T20: bounds and hostile payloads through the real servicer --------------------------------------------------


def raw(offset: int, length: int, payload: bytes, codec: int, digest: bytes | None = None) -> pb.Entry:
    return pb.Entry(
        block=pb.Block(
            offset=offset, length=length, codec=codec, payload=payload, digest=digest or digest_of(bytes(length))
        )
    )


def zstd_frame(content: bytes, *, declared: bool = True) -> bytes:
    compressor = zstandard.ZstdCompressor(level=1, write_content_size=declared)
    if declared:
        return compressor.compress(content)
    return compressor.compressobj().compress(content) + compressor.compressobj().flush()


def bomb(declared_size: int) -> bytes:
    """A tiny frame whose header claims ``declared_size`` bytes of content."""
    frame = bytearray(zstandard.ZstdCompressor(level=1).compress(bytes(BLOCK_SIZE)))
    params = zstandard.get_frame_parameters(bytes(frame))
    assert params.content_size == BLOCK_SIZE
    # Rewrite the frame header: single segment, 8-byte content size field.
    descriptor = 0b11100000
    hostile = bytes(frame[:4]) + bytes([descriptor]) + declared_size.to_bytes(8, "little") + bytes(frame[6:])
    assert zstandard.get_frame_parameters(hostile).content_size == declared_size
    return hostile


CASES = {
    "unaligned-offset": (lambda: raw(100, BLOCK_SIZE, b"", 2), grpc.StatusCode.INVALID_ARGUMENT),
    "past-the-end": (lambda: raw(SIZE, BLOCK_SIZE, b"", 2), grpc.StatusCode.INVALID_ARGUMENT),
    "straddling-the-end": (lambda: raw(SIZE - BLOCK_SIZE, 2 * BLOCK_SIZE, b"", 2), grpc.StatusCode.INVALID_ARGUMENT),
    "offset-2^63": (lambda: raw(2**63, BLOCK_SIZE, b"", 2), grpc.StatusCode.INVALID_ARGUMENT),
    "offset-2^64-4096": (lambda: raw(2**64 - BLOCK_SIZE, BLOCK_SIZE, b"", 2), grpc.StatusCode.INVALID_ARGUMENT),
    "zero-length": (lambda: raw(0, 0, b"", 2), grpc.StatusCode.INVALID_ARGUMENT),
    "unaligned-length": (lambda: raw(0, 1000, b"", 2), grpc.StatusCode.INVALID_ARGUMENT),
    "over-1-mib": (lambda: raw(0, 2 << 20, b"", 2), grpc.StatusCode.INVALID_ARGUMENT),
    "raw-size-mismatch": (lambda: raw(0, BLOCK_SIZE, b"x" * 100, 0), grpc.StatusCode.INVALID_ARGUMENT),
    "zstd-declares-other-size": (
        lambda: raw(0, BLOCK_SIZE, zstd_frame(bytes(2 * BLOCK_SIZE)), 1),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "zstd-without-content-size": (
        lambda: raw(0, BLOCK_SIZE, zstd_frame(bytes(BLOCK_SIZE), declared=False), 1),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "zstd-bomb-1-gib": (lambda: raw(0, BLOCK_SIZE, bomb(1 << 30), 1), grpc.StatusCode.INVALID_ARGUMENT),
    "zstd-bomb-declared-length": (lambda: raw(0, 1 << 20, bomb(1 << 20), 1), grpc.StatusCode.DATA_LOSS),
    "unknown-codec": (lambda: raw(0, BLOCK_SIZE, b"", 9), grpc.StatusCode.INVALID_ARGUMENT),
    "zero-block-with-payload": (lambda: raw(0, BLOCK_SIZE, b"x", 2), grpc.StatusCode.INVALID_ARGUMENT),
    "digest-mismatch": (
        lambda: raw(0, BLOCK_SIZE, os.urandom(BLOCK_SIZE), 0, digest=b"\x00" * 32),
        grpc.StatusCode.DATA_LOSS,
    ),
    "short-digest": (
        lambda: raw(0, BLOCK_SIZE, bytes(BLOCK_SIZE), 0, digest=b"\x01"),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "bookmark-kind-unspecified": (
        lambda: pb.Entry(bookmark=pb.Bookmark(id="b1", kind=0)),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "bookmark-bad-id": (
        lambda: pb.Entry(bookmark=pb.Bookmark(id="has space", kind=1)),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "empty-entry": (lambda: pb.Entry(), grpc.StatusCode.INVALID_ARGUMENT),
}


@pytest.fixture(scope="module")
def t20_pair(lab: Lab, sender_tls: TlsIdentity, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    return "t20", new_pair(lab, tmp_path_factory.mktemp("t20"), "t20", sender_tls.identity.name)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_block_is_refused_before_any_write(lab: Lab, sender_tls: TlsIdentity, t20_pair, case: str):
    pair_id, target = t20_pair
    make_entry, code = CASES[case]
    before = target.read_bytes()
    good = block(8 * BLOCK_SIZE, filled(5))
    outcome = run_stream(lab.mt, sender_tls, [opening(pair_id, 1), batch(1, good, make_entry())])
    assert outcome.code == code, outcome.details
    assert outcome.acks == []
    assert target.read_bytes() == before, "a rejected batch was (partly) written"
    assert lab.target_status(pair_id).durable_seq == 0


def test_a_batch_declaring_more_than_the_limit_is_refused_before_decompressing(
    lab: Lab, sender_tls: TlsIdentity, t20_pair
):
    pair_id, target = t20_pair
    before = target.read_bytes()
    hwm = _peak_rss(lab)
    entries = [raw(i * (1 << 20), 1 << 20, bomb(1 << 20), 1) for i in range(4)] * 5  # 20 MiB declared
    outcome = run_stream(lab.mt, sender_tls, [opening(pair_id, 1), batch(1, *entries)])
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "limit" in outcome.details
    assert target.read_bytes() == before
    assert _peak_rss(lab) - hwm < 64 << 20, "decoding a hostile batch raised the agent's memory"


def _peak_rss(lab: Lab) -> int:
    with open(f"/proc/{lab.mt.service.process.pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")
