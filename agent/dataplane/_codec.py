"""Block wire encoding: compress and hash on the sender, bound-check, decompress and verify on the receiver.

The receiver checks everything it can from the envelope (bounds, sizes, codec, zstd frame header) before it
decompresses a byte, so a hostile frame can never make it allocate more than the declared length, and it verifies the
blake3 digest before handing a :class:`BlockWrite` on. It never does I/O. Compressor and decompressor contexts are
kept per thread (they are not thread-safe and are costly to create); zstd and blake3 release the GIL, so a pool of
threads scales across cores.
"""

from __future__ import annotations

import enum
import functools
import threading
from dataclasses import dataclass

import blake3
import zstandard

from agent.dataplane._model import BLOCK_SIZE, BlockWrite, Extent
from agent.dataplane.errors import (
    BlockOutOfBounds,
    DigestMismatch,
    InvalidInput,
    MisalignedBlock,
    SizeMismatch,
    TooLarge,
    UndecodablePayload,
    UnsupportedEncoding,
)

__all__ = [
    "DIGEST_SIZE",
    "MAX_BLOCK_BYTES",
    "Codec",
    "EncodedBlock",
    "check_extent",
    "decode_and_validate",
    "digest_of",
    "encode_block",
    "zero_digest",
]

#: blake3-256.
DIGEST_SIZE = 32
#: Largest single block write (a source coalesces contiguous blocks up to this).
MAX_BLOCK_BYTES = 1 << 20
#: Decoder window limit: our encoder's frames are single-segment (window = content size <= MAX_BLOCK_BYTES), so a
#: larger window can only come from a foreign or hostile encoder.
_MAX_WINDOW = MAX_BLOCK_BYTES
# Keep ZSTD only when it saves at least 1/32 of the block; otherwise the receiver's decompression costs more than the
# few bytes it saves on the wire.
_MIN_SAVING_SHIFT = 5
_ZEROS = bytes(MAX_BLOCK_BYTES)
_ZERO_VIEW = memoryview(_ZEROS)


class Codec(enum.IntEnum):
    """How a block's payload is stored on the wire."""

    RAW = 0  #: payload is the plain block (compression did not pay, e.g. random or encrypted data)
    ZSTD = 1  #: payload is one zstd frame with its content size in the header and nothing after it
    ZERO = 2  #: the block is all zeros; no payload


@dataclass(frozen=True, slots=True)
class EncodedBlock:
    """A block as it travels: ``length`` plain bytes at ``offset``, ``digest`` = blake3 of the plain bytes."""

    offset: int
    length: int
    compressed: bytes | memoryview
    digest: bytes
    codec: Codec


class _Contexts(threading.local):
    def __init__(self) -> None:
        self.compressors: dict[int, zstandard.ZstdCompressor] = {}
        self.decompressor = zstandard.ZstdDecompressor(max_window_size=_MAX_WINDOW)

    def compressor(self, level: int) -> zstandard.ZstdCompressor:
        compressor = self.compressors.get(level)
        if compressor is None:
            compressor = zstandard.ZstdCompressor(level=level, write_content_size=True, write_checksum=False)
            self.compressors[level] = compressor
        return compressor


_contexts = _Contexts()


def digest_of(data: bytes | bytearray | memoryview) -> bytes:
    """The block digest: blake3-256 of the plain bytes."""
    return blake3.blake3(data).digest()


@functools.lru_cache(maxsize=MAX_BLOCK_BYTES // BLOCK_SIZE)
def zero_digest(length: int) -> bytes:
    """Digest of ``length`` zero bytes (cached: comparing digests is how all-zero blocks are found for free)."""
    return digest_of(_ZERO_VIEW[:length])


def check_extent(offset: int, length: int, disk_size: int, *, limit: int = MAX_BLOCK_BYTES) -> Extent:
    """Return the extent if ``[offset, offset+length)`` is block-aligned, non-empty, at most ``limit`` bytes and
    inside a disk of ``disk_size`` bytes; otherwise raise the matching :class:`InvalidInput`."""
    if type(offset) is not int or type(length) is not int:
        raise InvalidInput(f"offset and length must be integers, got {type(offset).__name__}/{type(length).__name__}")
    if offset < 0 or offset >= disk_size:
        raise BlockOutOfBounds(f"offset {offset} is outside the disk [0, {disk_size})")
    if length <= 0 or offset % BLOCK_SIZE or length % BLOCK_SIZE:
        raise MisalignedBlock(
            f"block at offset {offset} with length {length}: both must be multiples of {BLOCK_SIZE} and the length "
            "positive"
        )
    if length > limit:
        raise TooLarge(f"block at offset {offset} is {length} bytes; the limit is {limit}")
    if offset + length > disk_size:
        raise BlockOutOfBounds(f"block [{offset}, {offset + length}) ends past the end of the disk ({disk_size})")
    return Extent(offset, length)


def encode_block(
    offset: int, data: bytes | bytearray | memoryview, *, digest: bytes | None = None, level: int = 1
) -> EncodedBlock:
    """Encode one block for the wire. ``digest`` is computed when not given (a source that already hashed the data,
    such as the change log, passes it on). Zero blocks become ZERO, blocks zstd cannot shrink by 1/32 become RAW.
    The payload of a RAW block is ``data`` itself, not a copy."""
    length = len(data)
    if length <= 0 or length % BLOCK_SIZE or offset < 0 or offset % BLOCK_SIZE:
        raise MisalignedBlock(f"cannot encode a block of {length} bytes at offset {offset}: not block-aligned")
    if length > MAX_BLOCK_BYTES:
        raise TooLarge(f"cannot encode a block of {length} bytes; split it at {MAX_BLOCK_BYTES}")
    if digest is None:
        digest = digest_of(data)
    if digest == zero_digest(length):
        return EncodedBlock(offset, length, b"", digest, Codec.ZERO)
    compressed = _contexts.compressor(level).compress(data)
    if len(compressed) > length - (length >> _MIN_SAVING_SHIFT):
        return EncodedBlock(
            offset, length, data if isinstance(data, bytes | memoryview) else bytes(data), digest, Codec.RAW
        )
    return EncodedBlock(offset, length, compressed, digest, Codec.ZSTD)


def decode_and_validate(encoded: EncodedBlock, disk_size: int) -> BlockWrite:
    """Validate ``encoded`` against a disk of ``disk_size`` bytes and return the plain block.

    Raises :class:`InvalidInput` (bounds, sizes, codec, frame header) or :class:`CorruptData` (undecodable body,
    digest mismatch). Allocates at most ``encoded.length`` bytes; does no I/O. RAW and ZERO blocks are returned
    without copying (a view of the payload, or of a shared read-only zero buffer).
    """
    offset, length = check_extent(encoded.offset, encoded.length, disk_size)
    digest = encoded.digest
    if not isinstance(digest, bytes) or len(digest) != DIGEST_SIZE:
        raise InvalidInput(f"block at offset {offset}: the digest must be {DIGEST_SIZE} bytes of blake3")
    payload = encoded.compressed
    if not isinstance(payload, bytes | memoryview):
        raise InvalidInput(f"block at offset {offset}: the payload must be bytes")
    try:
        codec = Codec(encoded.codec)
    except ValueError:
        raise UnsupportedEncoding(f"block at offset {offset}: unknown codec {encoded.codec!r}") from None
    data: bytes | memoryview
    if codec is Codec.ZERO:
        if len(payload):
            raise UnsupportedEncoding(f"block at offset {offset}: a ZERO block carries no payload")
        if digest != zero_digest(length):
            raise DigestMismatch(f"block at offset {offset}: declared all-zero but its digest is not that of zeros")
        return BlockWrite(offset, _ZERO_VIEW[:length], digest)
    if codec is Codec.RAW:
        if len(payload) != length:
            raise SizeMismatch(f"block at offset {offset}: RAW payload is {len(payload)} bytes, declared {length}")
        data = payload
    else:
        data = _decompress(offset, length, payload)
    if digest_of(data) != digest:
        raise DigestMismatch(f"block at offset {offset}: the data does not match its blake3 digest")
    return BlockWrite(offset, data, digest)


def _decompress(offset: int, length: int, payload: bytes | memoryview) -> bytes:
    # Everything the allocation size depends on is checked from the header first: python-zstandard allocates the
    # frame's declared content size regardless of max_output_size, so a frame declaring 1 GiB must never reach it.
    try:
        params = zstandard.get_frame_parameters(payload)
    except zstandard.ZstdError as exc:
        raise UnsupportedEncoding(f"block at offset {offset}: unreadable zstd frame header ({exc})") from exc
    if params.content_size == zstandard.CONTENTSIZE_UNKNOWN:
        raise UnsupportedEncoding(f"block at offset {offset}: the zstd frame does not declare its content size")
    if params.content_size != length:
        raise SizeMismatch(
            f"block at offset {offset}: the zstd frame declares {params.content_size} bytes, the block {length}"
        )
    if params.dict_id:
        raise UnsupportedEncoding(f"block at offset {offset}: zstd dictionaries are not accepted")
    if params.window_size > _MAX_WINDOW:
        raise UnsupportedEncoding(
            f"block at offset {offset}: zstd window of {params.window_size} bytes exceeds {_MAX_WINDOW}"
        )
    try:
        data = _contexts.decompressor.decompress(payload, max_output_size=length, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise UndecodablePayload(f"block at offset {offset}: the zstd payload does not decode ({exc})") from exc
    if len(data) != length:
        raise UndecodablePayload(f"block at offset {offset}: decoded {len(data)} bytes, declared {length}")
    return data
