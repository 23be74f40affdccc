"""Block encoding and receiver-side validation (T11, T20)."""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import blake3
import pytest
import zstandard

from agent.dataplane import (
    BLOCK_SIZE,
    MAX_BLOCK_BYTES,
    Codec,
    EncodedBlock,
    decode_and_validate,
    digest_of,
    encode_block,
)
from agent.dataplane.errors import (
    BlockOutOfBounds,
    CorruptData,
    DigestMismatch,
    InvalidInput,
    MisalignedBlock,
    SizeMismatch,
    TooLarge,
    UndecodablePayload,
    UnsupportedEncoding,
)
from failback.errors import PermanentError

DISK = 1 << 30
TEXT = (b"the quick brown fox jumps over the lazy dog " * 2000)[: 16 * BLOCK_SIZE]
GIB = 1 << 30


def zstd_block(data: bytes, offset: int = 0) -> EncodedBlock:
    block = encode_block(offset, data)
    assert block.codec is Codec.ZSTD
    return block


def gib_of_zeros_frame(*, declare_size: bool) -> bytes:
    """A real zstd bomb: a small frame that decodes to 1 GiB of zeros (made without holding 1 GiB)."""
    cobj = zstandard.ZstdCompressor(level=1, write_content_size=declare_size).compressobj(
        size=GIB if declare_size else -1
    )
    zeros = bytes(1 << 20)
    parts = [cobj.compress(zeros) for _ in range(GIB >> 20)]
    parts.append(cobj.flush())
    return b"".join(parts)


def with_declared_size(frame: bytes, size: int) -> bytes:
    """``frame`` (written without a content size) rewritten to declare ``size`` in a 4-byte content-size field."""
    magic, descriptor = frame[:4], frame[4]
    assert descriptor >> 6 == 0, "expects a frame without content size"
    assert not descriptor & 0x20, "expects a frame with a window descriptor"
    window = frame[5:6]
    return magic + bytes([descriptor | 0x80]) + window + struct.pack("<I", size) + frame[6:]


@pytest.fixture(scope="module")
def bomb_declaring_gib() -> bytes:
    return gib_of_zeros_frame(declare_size=True)


@pytest.fixture(scope="module")
def bomb_without_size() -> bytes:
    return gib_of_zeros_frame(declare_size=False)


# -- encoding -------------------------------------------------------------------------------------------------


def test_compressible_block_round_trips_as_zstd():
    block = zstd_block(TEXT, offset=8 * BLOCK_SIZE)
    assert len(block.compressed) < len(TEXT) // 4
    decoded = decode_and_validate(block, DISK)
    assert (decoded.offset, bytes(decoded.data), decoded.digest) == (8 * BLOCK_SIZE, TEXT, blake3.blake3(TEXT).digest())


def test_random_block_is_stored_raw_without_a_copy():
    data = os.urandom(4 * BLOCK_SIZE)
    block = encode_block(0, data)
    assert block.codec is Codec.RAW
    assert block.compressed is data
    assert bytes(decode_and_validate(block, DISK).data) == data


def test_zero_block_carries_no_payload():
    block = encode_block(BLOCK_SIZE, bytes(16 * BLOCK_SIZE))
    assert (block.codec, block.compressed) == (Codec.ZERO, b"")
    decoded = decode_and_validate(block, DISK)
    assert bytes(decoded.data) == bytes(16 * BLOCK_SIZE)


def test_encode_passes_a_given_digest_on_instead_of_hashing():
    digest = digest_of(TEXT)
    assert encode_block(0, memoryview(TEXT), digest=digest).digest is digest


def test_compression_level_is_configurable():
    fast = encode_block(0, TEXT, level=1)
    strong = encode_block(0, TEXT, level=19)
    assert zstandard.get_frame_parameters(fast.compressed).content_size == len(TEXT)
    assert len(strong.compressed) <= len(fast.compressed)


def test_encode_refuses_unaligned_blocks():
    with pytest.raises(MisalignedBlock):
        encode_block(0, b"x" * 100)
    with pytest.raises(MisalignedBlock):
        encode_block(512, bytes(BLOCK_SIZE))


# -- T20: bounds, before any decoding ---------------------------------------------------------------------------


def raw(offset: int, length: int) -> EncodedBlock:
    data = bytes([7]) * max(length, 0) if 0 < length <= MAX_BLOCK_BYTES else b"\x07" * BLOCK_SIZE
    return EncodedBlock(offset, length, data, digest_of(data), Codec.RAW)


@pytest.mark.parametrize(
    ("offset", "length", "error"),
    [
        (-BLOCK_SIZE, BLOCK_SIZE, BlockOutOfBounds),
        (-1, BLOCK_SIZE, BlockOutOfBounds),
        (512, BLOCK_SIZE, MisalignedBlock),
        (0, 512, MisalignedBlock),
        (0, 0, MisalignedBlock),
        (0, -BLOCK_SIZE, MisalignedBlock),
        (DISK, BLOCK_SIZE, BlockOutOfBounds),
        (DISK - BLOCK_SIZE, 2 * BLOCK_SIZE, BlockOutOfBounds),
        (2**63, BLOCK_SIZE, BlockOutOfBounds),
        (2**64 - BLOCK_SIZE, BLOCK_SIZE, BlockOutOfBounds),
        (DISK - BLOCK_SIZE, 2**64 - BLOCK_SIZE, TooLarge),  # offset + length would wrap a uint64
        (0, MAX_BLOCK_BYTES + BLOCK_SIZE, TooLarge),
    ],
)
def test_out_of_bounds_or_unaligned_block_is_invalid_input(offset, length, error):
    with pytest.raises(error) as caught:
        decode_and_validate(raw(offset, length), DISK)
    assert isinstance(caught.value, InvalidInput)
    assert isinstance(caught.value, PermanentError)


def test_non_integer_offset_is_invalid_input():
    with pytest.raises(InvalidInput):
        decode_and_validate(
            EncodedBlock(0.0, BLOCK_SIZE, bytes(BLOCK_SIZE), digest_of(bytes(BLOCK_SIZE)), Codec.RAW), DISK
        )  # type: ignore[arg-type]


def test_last_block_of_the_disk_is_accepted():
    assert decode_and_validate(raw(DISK - BLOCK_SIZE, BLOCK_SIZE), DISK).offset == DISK - BLOCK_SIZE


def test_raw_payload_shorter_than_declared_is_size_mismatch():
    data = os.urandom(BLOCK_SIZE)
    with pytest.raises(SizeMismatch):
        decode_and_validate(EncodedBlock(0, 2 * BLOCK_SIZE, data, digest_of(data), Codec.RAW), DISK)


def test_zstd_frame_declaring_another_size_is_size_mismatch():
    block = zstd_block(TEXT)
    with pytest.raises(SizeMismatch):
        decode_and_validate(EncodedBlock(0, len(TEXT) - BLOCK_SIZE, block.compressed, block.digest, Codec.ZSTD), DISK)


def test_frame_without_content_size_is_refused():
    frame = zstandard.ZstdCompressor(write_content_size=False).compress(TEXT)
    with pytest.raises(UnsupportedEncoding, match="content size"):
        decode_and_validate(EncodedBlock(0, len(TEXT), frame, digest_of(TEXT), Codec.ZSTD), DISK)


def test_frame_with_trailing_data_is_refused():
    block = zstd_block(TEXT)
    with pytest.raises(UndecodablePayload):
        decode_and_validate(
            EncodedBlock(0, len(TEXT), bytes(block.compressed) + b"\0" * 8, block.digest, Codec.ZSTD), DISK
        )


def test_unknown_codec_and_zero_block_with_payload_are_unsupported():
    data = bytes(BLOCK_SIZE)
    with pytest.raises(UnsupportedEncoding):
        decode_and_validate(EncodedBlock(0, BLOCK_SIZE, data, digest_of(data), 7), DISK)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedEncoding):
        decode_and_validate(EncodedBlock(0, BLOCK_SIZE, b"\0", digest_of(data), Codec.ZERO), DISK)


def test_short_digest_is_invalid_input():
    with pytest.raises(InvalidInput):
        decode_and_validate(EncodedBlock(0, BLOCK_SIZE, bytes(BLOCK_SIZE), b"\0" * 16, Codec.RAW), DISK)


def test_frame_declaring_a_gibibyte_is_refused_without_allocating_it(bomb_declaring_gib):
    assert zstandard.get_frame_parameters(bomb_declaring_gib).content_size == GIB
    block = EncodedBlock(0, BLOCK_SIZE, bomb_declaring_gib, digest_of(bytes(BLOCK_SIZE)), Codec.ZSTD)
    tracemalloc.start()
    try:
        with pytest.raises(SizeMismatch):
            decode_and_validate(block, DISK)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_block_declaring_a_gibibyte_is_refused_before_decoding(bomb_declaring_gib):
    with pytest.raises(TooLarge):
        decode_and_validate(EncodedBlock(0, GIB, bomb_declaring_gib, digest_of(b""), Codec.ZSTD), 4 * GIB)


def test_frame_lying_about_its_size_is_refused_after_the_declared_length(bomb_without_size):
    lying = with_declared_size(bomb_without_size, BLOCK_SIZE)
    assert zstandard.get_frame_parameters(lying).content_size == BLOCK_SIZE
    block = EncodedBlock(0, BLOCK_SIZE, lying, digest_of(bytes(BLOCK_SIZE)), Codec.ZSTD)
    tracemalloc.start()
    try:
        with pytest.raises(UndecodablePayload):
            decode_and_validate(block, DISK)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_bombs_never_allocate_their_size_even_in_c(tmp_path: Path, bomb_declaring_gib, bomb_without_size):
    """Under an address-space limit far below 1 GiB, every bomb is still refused with our error, not MemoryError:
    no layer (Python or zstd's C allocations) ever tries to allocate the bomb's size."""
    frames = {
        "declaring": bomb_declaring_gib,
        "sizeless": bomb_without_size,
        "lying": with_declared_size(bomb_without_size, BLOCK_SIZE),
    }
    for name, frame in frames.items():
        (tmp_path / name).write_bytes(frame)
    script = textwrap.dedent(
        f"""
        import resource, sys
        from pathlib import Path
        from agent.dataplane import Codec, EncodedBlock, decode_and_validate, digest_of
        from agent.dataplane.errors import RejectedInput
        frames = {{name: Path({str(tmp_path)!r}, name).read_bytes() for name in {sorted(frames)!r}}}
        digest = digest_of(bytes(4096))
        with open("/proc/self/status") as status:
            vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
        limit = vm + (256 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        for name, frame in frames.items():
            for length in (4096, 1 << 20):
                try:
                    decode_and_validate(EncodedBlock(0, length, frame, digest, Codec.ZSTD), 1 << 40)
                except RejectedInput as exc:
                    print(name, length, type(exc).__name__)
                else:
                    sys.exit(name + " was accepted")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 6
    assert "MemoryError" not in result.stdout + result.stderr


# -- T11: corruption is data loss -------------------------------------------------------------------------------


def flip_bit(data: bytes, position: int, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[position] ^= 1 << bit
    return bytes(out)


def test_bit_flip_in_a_raw_payload_is_data_loss():
    data = os.urandom(BLOCK_SIZE)
    block = encode_block(0, data)
    corrupted = EncodedBlock(0, BLOCK_SIZE, flip_bit(data, 1234, 3), block.digest, Codec.RAW)
    with pytest.raises(DigestMismatch):
        decode_and_validate(corrupted, DISK)


def test_bit_flip_anywhere_in_a_compressed_body_is_data_loss_or_harmless():
    """Every single-bit flip after the frame header is refused as data loss, except flips of bits the decoder
    ignores (padding), which still decode to exactly the original block: a wrong block is never accepted."""
    rng = random.Random(11)
    data = b"".join(rng.choice([b"alpha ", b"beta ", b"gamma ", bytes([rng.randrange(256)])]) for _ in range(20000))
    data = data[: 8 * BLOCK_SIZE]
    block = zstd_block(data)
    header = zstandard.frame_header_size(block.compressed)
    refused = 0
    for position in range(header, len(block.compressed)):
        flipped = flip_bit(block.compressed, position, rng.randrange(8))
        try:
            decoded = decode_and_validate(EncodedBlock(0, len(data), flipped, block.digest, Codec.ZSTD), DISK)
        except CorruptData:
            refused += 1
        else:
            assert bytes(decoded.data) == data
    assert refused > 0.9 * (len(block.compressed) - header)


def test_wrong_digest_is_data_loss_for_every_codec():
    for data in (TEXT, os.urandom(BLOCK_SIZE), bytes(BLOCK_SIZE)):
        block = encode_block(0, data)
        forged = EncodedBlock(0, block.length, block.compressed, flip_bit(block.digest, 0), block.codec)
        with pytest.raises(DigestMismatch):
            decode_and_validate(forged, DISK)


def test_decoded_raw_and_zero_blocks_are_views_not_copies():
    data = os.urandom(BLOCK_SIZE)
    decoded = decode_and_validate(encode_block(0, data), DISK)
    assert isinstance(decoded.data, bytes | memoryview)
    assert decoded.data is data or decoded.data.obj is data  # type: ignore[union-attr]
    zero = decode_and_validate(encode_block(0, bytes(BLOCK_SIZE)), DISK)
    assert isinstance(zero.data, memoryview)
    assert zero.data.readonly
