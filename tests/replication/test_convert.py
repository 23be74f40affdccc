"""T21: the servicer's protobuf -> block model path (batch_from_proto, then decode_batch) under hypothesis.

Whatever the message, it either becomes a batch whose every block lies inside the disk, aligned, and matches its
digest, or it is refused with InvalidInput / CorruptData (INVALID_ARGUMENT / DATA_LOSS); nothing else escapes. The
sender's conversion round-trips."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.api.v1 import replication_pb2 as pb
from agent.dataplane import BLOCK_SIZE, BlockWrite, Bookmark, BookmarkKind, EncodedBatch, digest_of, encode_block
from agent.dataplane.errors import CorruptData, InvalidInput
from agent.replication import batch_from_proto, batch_to_proto

DISK = 64 * BLOCK_SIZE
FAST = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example, HealthCheck.data_too_large],
)

offsets = st.one_of(
    st.integers(0, DISK // BLOCK_SIZE).map(lambda b: b * BLOCK_SIZE),
    st.integers(0, 2**64 - 1),
    st.sampled_from([2**63, 2**64 - BLOCK_SIZE, DISK - BLOCK_SIZE, DISK]),
)
lengths = st.one_of(
    st.integers(1, 8).map(lambda b: b * BLOCK_SIZE), st.integers(0, 2**32 - 1), st.sampled_from([0, 1 << 20, 2 << 20])
)
contents = st.one_of(
    st.binary(min_size=BLOCK_SIZE, max_size=BLOCK_SIZE),
    st.integers(0, 255).map(lambda v: bytes([v]) * BLOCK_SIZE),
    st.just(bytes(2 * BLOCK_SIZE)),
)


@st.composite
def blocks(draw: st.DrawFn, *, hostile: bool = True) -> pb.Entry:
    if not hostile or draw(st.booleans()):  # a well-formed block, perhaps moved, resized or damaged afterwards
        data = draw(contents)
        encoded = encode_block(0, data)
        inside = st.integers(0, DISK // BLOCK_SIZE - 2).map(lambda b: b * BLOCK_SIZE)
        message = pb.Block(
            offset=draw(inside if not hostile else st.one_of(inside, offsets)),
            length=len(data),
            codec=int(encoded.codec),  # type: ignore[arg-type]
            payload=bytes(encoded.compressed),
            digest=encoded.digest,
        )
        mutation = draw(
            st.sampled_from(["none"] * (40 if not hostile else 4) + ["length", "payload", "digest", "codec"])
        )
        if mutation == "length":
            message.length = draw(lengths)
        elif mutation == "payload" and message.payload:
            at = draw(st.integers(0, len(message.payload) - 1))
            payload = bytearray(message.payload)
            payload[at] ^= draw(st.integers(1, 255))
            message.payload = bytes(payload)
        elif mutation == "digest":
            message.digest = draw(st.binary(max_size=40))
        elif mutation == "codec":
            message.codec = draw(st.integers(0, 5))  # type: ignore[assignment]
        return pb.Entry(block=message)
    return pb.Entry(
        block=pb.Block(
            offset=draw(offsets),
            length=draw(lengths),
            codec=draw(st.integers(0, 5)),  # type: ignore[arg-type]
            payload=draw(st.binary(max_size=BLOCK_SIZE + 64)),
            digest=draw(st.binary(max_size=40)),
        )
    )


@st.composite
def bookmarks(draw: st.DrawFn) -> pb.Entry:
    mark = pb.Bookmark(id=draw(st.text(max_size=140)), kind=draw(st.integers(0, 6)))  # type: ignore[arg-type]
    if draw(st.booleans()):
        mark.tag = draw(st.text(max_size=300))
    if draw(st.booleans()):
        mark.group = draw(st.text(max_size=300))
    if draw(st.booleans()):
        mark.source_time = draw(st.floats(allow_nan=True, allow_infinity=True))
    return pb.Entry(bookmark=mark)


batches = st.builds(
    lambda seq, entries: pb.Batch(seq=seq, entries=entries),
    st.one_of(st.integers(1, 1000), st.integers(0, 2**64 - 1)),
    st.one_of(
        st.lists(blocks(hostile=False), min_size=1, max_size=4),
        st.lists(st.one_of(blocks(), bookmarks(), st.just(pb.Entry())), max_size=8),
    ),
)


def received(message: pb.Batch) -> None:
    """The receive path's decoding: a valid batch, or a refusal of the kinds the servicer maps."""
    from agent.dataplane import decode_batch

    try:
        seq, entries = batch_from_proto(message)
        batch = decode_batch(seq, entries, DISK, generation=1)
    except (InvalidInput, CorruptData):
        return
    assert batch.seq == message.seq >= 1
    for entry in batch.entries:
        if isinstance(entry, BlockWrite):
            assert entry.offset % BLOCK_SIZE == 0
            assert entry.length % BLOCK_SIZE == 0
            assert entry.offset >= 0
            assert entry.length > 0
            assert entry.offset + entry.length <= DISK
            assert digest_of(entry.data) == entry.digest
        else:
            assert isinstance(entry, Bookmark)


@FAST
@given(batches)
def test_any_batch_message_decodes_inside_the_disk_or_is_refused(message: pb.Batch):
    received(message)


@FAST
@given(st.binary(max_size=2048))
def test_any_bytes_that_parse_as_a_batch_decode_inside_the_disk_or_are_refused(data: bytes):
    from google.protobuf.message import DecodeError

    try:
        message = pb.Batch.FromString(data)
    except DecodeError:
        return  # gRPC refuses the message before the servicer sees it
    received(message)


@FAST
@given(
    st.lists(
        st.one_of(
            st.tuples(st.integers(0, DISK // BLOCK_SIZE - 2), contents),
            st.builds(
                lambda i, kind, tag, t: Bookmark(f"b{i}", kind, tag if kind is BookmarkKind.APP else None, None, t),
                st.integers(0, 999),
                st.sampled_from([BookmarkKind.CRASH, BookmarkKind.APP]),
                st.just("vss"),
                st.one_of(st.none(), st.floats(0, 2e9)),
            ),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_what_the_sender_encodes_the_receiver_decodes_unchanged(items):
    entries = [encode_block(i[0] * BLOCK_SIZE, i[1]) if isinstance(i, tuple) else i for i in items]
    encoded = EncodedBatch(7, tuple(entries), 0, 0.0)
    seq, decoded = batch_from_proto(pb.Batch.FromString(batch_to_proto(encoded).SerializeToString()))
    assert seq == 7
    assert [(getattr(e, "offset", None), bytes(getattr(e, "compressed", b""))) for e in decoded] == [
        (getattr(e, "offset", None), bytes(getattr(e, "compressed", b""))) for e in entries
    ]
    assert [e for e in decoded if isinstance(e, Bookmark)] == [e for e in entries if isinstance(e, Bookmark)]
