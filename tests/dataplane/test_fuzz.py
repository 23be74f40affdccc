"""T21: the decoder and validator on arbitrary input: our errors or a block that is in bounds and matches its
digest, nothing else."""

from __future__ import annotations

import contextlib

import blake3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.dataplane import (
    BLOCK_SIZE,
    MAX_BLOCK_BYTES,
    BlockWrite,
    Bookmark,
    BookmarkKind,
    EncodedBatch,
    EncodedBlock,
    decode_and_validate,
    decode_batch,
    encode_block,
)
from agent.dataplane._wire import pack_batch, unpack_batch
from agent.dataplane.errors import RejectedInput

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

edge_ints = st.sampled_from(
    [
        0,
        1,
        BLOCK_SIZE - 1,
        BLOCK_SIZE,
        2 * BLOCK_SIZE,
        MAX_BLOCK_BYTES,
        MAX_BLOCK_BYTES + BLOCK_SIZE,
        2**31,
        2**32,
        2**63 - BLOCK_SIZE,
        2**63,
        2**64 - 1,
        2**64,
        -1,
        -BLOCK_SIZE,
        -(2**63),
    ]
)
ints = st.one_of(edge_ints, st.integers(-(2**65), 2**65), st.integers(0, 64).map(lambda n: n * BLOCK_SIZE))
disk_sizes = st.one_of(st.sampled_from([0, BLOCK_SIZE, 1 << 20, 1 << 30, 2**63, 2**64]), st.integers(0, 2**64))


@st.composite
def plain_blocks(draw: st.DrawFn) -> bytes:
    blocks = draw(st.integers(1, 8))
    kind = draw(st.sampled_from(["zero", "text", "random"]))
    if kind == "zero":
        return bytes(blocks * BLOCK_SIZE)
    if kind == "random":
        return draw(st.binary(min_size=blocks * BLOCK_SIZE, max_size=blocks * BLOCK_SIZE))
    word = draw(st.binary(min_size=1, max_size=12))
    return (word * (blocks * BLOCK_SIZE // len(word) + 1))[: blocks * BLOCK_SIZE]


@st.composite
def mutated_blocks(draw: st.DrawFn) -> EncodedBlock:
    """A valid encoding with some fields replaced or the payload damaged."""
    data = draw(plain_blocks())
    block = encode_block(draw(st.integers(0, 16)) * BLOCK_SIZE, data)
    offset = draw(st.one_of(st.just(block.offset), ints))
    length = draw(st.one_of(st.just(block.length), ints))
    codec = draw(st.one_of(st.just(int(block.codec)), st.integers(-2, 5)))
    digest = draw(st.one_of(st.just(block.digest), st.binary(max_size=40)))
    payload = bytes(block.compressed)
    mutation = draw(st.sampled_from(["none", "flip", "truncate", "append", "replace"]))
    if mutation == "flip" and payload:
        position = draw(st.integers(0, len(payload) - 1))
        payload = (
            payload[:position] + bytes([payload[position] ^ (1 << draw(st.integers(0, 7)))]) + payload[position + 1 :]
        )
    elif mutation == "truncate":
        payload = payload[: draw(st.integers(0, len(payload)))]
    elif mutation == "append":
        payload += draw(st.binary(min_size=1, max_size=64))
    elif mutation == "replace":
        payload = draw(st.binary(max_size=4 * BLOCK_SIZE))
    return EncodedBlock(offset, length, payload, digest, codec)  # type: ignore[arg-type]


def check_outcome(block: EncodedBlock, disk_size: int) -> None:
    try:
        decoded = decode_and_validate(block, disk_size)
    except RejectedInput:
        return
    assert isinstance(decoded, BlockWrite)
    assert decoded.offset >= 0
    assert decoded.offset % BLOCK_SIZE == 0
    assert 0 < decoded.length <= MAX_BLOCK_BYTES
    assert decoded.length % BLOCK_SIZE == 0
    assert decoded.offset + decoded.length <= disk_size
    assert decoded.length == block.length
    assert blake3.blake3(decoded.data).digest() == decoded.digest == block.digest


@SETTINGS
@given(
    offset=ints,
    length=ints,
    codec=st.integers(-2, 5),
    payload=st.binary(max_size=3 * BLOCK_SIZE),
    digest=st.binary(max_size=40),
    disk_size=disk_sizes,
)
def test_arbitrary_fields_give_our_error_or_a_valid_block(offset, length, codec, payload, digest, disk_size):
    check_outcome(EncodedBlock(offset, length, payload, digest, codec), disk_size)


@SETTINGS
@given(block=mutated_blocks(), disk_size=st.one_of(disk_sizes, st.integers(0, 64).map(lambda n: n * BLOCK_SIZE)))
def test_damaged_valid_encodings_give_our_error_or_a_valid_block(block, disk_size):
    check_outcome(block, disk_size)


@SETTINGS
@given(
    blocks=st.lists(mutated_blocks(), min_size=1, max_size=6),
    disk_size=st.integers(0, 64).map(lambda n: n * BLOCK_SIZE),
)
def test_a_batch_is_accepted_only_when_every_entry_is_valid(blocks, disk_size):
    valid = []
    for block in blocks:
        try:
            decode_and_validate(block, disk_size)
        except RejectedInput:
            valid.append(False)
        else:
            valid.append(True)
    try:
        batch = decode_batch(1, blocks, disk_size, generation=1)
    except RejectedInput:
        assert not all(valid)
    else:
        assert all(valid)
        assert [e.offset for e in batch.entries if isinstance(e, BlockWrite)] == [b.offset for b in blocks]


@SETTINGS
@given(data=st.binary(max_size=2048))
def test_unpacking_arbitrary_bytes_raises_value_error_or_returns_a_batch(data):
    try:
        batch = unpack_batch(data)
    except ValueError:
        return
    assert isinstance(batch, EncodedBatch)


def as_tuple(entry: EncodedBlock | Bookmark) -> tuple[object, ...]:
    if isinstance(entry, EncodedBlock):
        return (entry.offset, entry.length, bytes(entry.compressed), entry.digest, entry.codec)
    return (entry.id, entry.kind, entry.tag, entry.group, entry.source_time)


@SETTINGS
@given(blocks=st.lists(plain_blocks(), max_size=4), position=st.integers(0, 10**6), bit=st.integers(0, 7))
def test_packed_batches_round_trip_and_damage_gives_value_error_or_a_batch(blocks, position, bit):
    entries: list[EncodedBlock | Bookmark] = [encode_block(i * 8 * BLOCK_SIZE, d) for i, d in enumerate(blocks)]
    entries.append(Bookmark("b1", BookmarkKind.APP, "vss", None, 1.5))
    packed = b"".join(bytes(p) for p in pack_batch(EncodedBatch(3, tuple(entries), 99, 2.5)))
    batch = unpack_batch(packed)
    assert (batch.seq, batch.cursor, batch.captured_at) == (3, 99, 2.5)
    assert [as_tuple(e) for e in batch.entries] == [as_tuple(e) for e in entries]
    at = position % len(packed)
    for damaged in (packed[:at], packed[:at] + bytes([packed[at] ^ (1 << bit)]) + packed[at + 1 :]):
        with contextlib.suppress(ValueError):
            assert isinstance(unpack_batch(damaged), EncodedBatch)
