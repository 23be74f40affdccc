"""Cutting, encoding and decoding batches."""

from __future__ import annotations

import os
import random

import pytest

from agent.dataplane import (
    BLOCK_SIZE,
    MAX_BATCH_ENTRIES,
    BatchEncoder,
    Batcher,
    BlockWrite,
    Bookmark,
    BookmarkKind,
    Codec,
    EncodedBlock,
    PendingBatch,
    SourceEntry,
    decode_batch,
    digest_of,
    encode_batch,
    encode_block,
)
from agent.dataplane.errors import DigestMismatch, InvalidBookmark, InvalidInput, TooLarge

DISK = 1 << 30


def write(offset: int, size: int, fill: int = 1) -> BlockWrite:
    data = bytes([fill]) * size
    return BlockWrite(offset, data, digest_of(data))


def stream(entries: list[BlockWrite | Bookmark]) -> list[SourceEntry]:
    return [SourceEntry(e, i + 1, 100.0 + i) for i, e in enumerate(entries)]


def bookmark(ident: str = "bm", kind: BookmarkKind = BookmarkKind.CRASH) -> Bookmark:
    return Bookmark(ident, kind, None, None, 5.0)


def test_batches_are_cut_near_the_target_and_numbered_from_first_seq():
    writes = [write(i * 64 << 10, 64 << 10) for i in range(40)]  # 2.5 MiB
    batches = list(Batcher(first_seq=7, target_bytes=1 << 20).cut(stream(writes)))
    assert [b.seq for b in batches] == [7, 8, 9]
    assert [b.plain_bytes for b in batches] == [1 << 20, 1 << 20, 512 << 10]
    assert [e for b in batches for e in b.entries] == writes
    assert [b.cursor for b in batches] == [16, 32, 40]
    assert [b.captured_at for b in batches] == [100.0, 116.0, 132.0]


def test_a_bookmark_always_ends_its_batch():
    entries: list[BlockWrite | Bookmark] = [
        write(0, BLOCK_SIZE),
        bookmark("a"),
        write(BLOCK_SIZE, BLOCK_SIZE),
        bookmark("b"),
    ]
    batches = list(Batcher().cut(stream(entries)))
    assert [b.entries for b in batches] == [tuple(entries[:2]), tuple(entries[2:])]


def test_a_block_larger_than_the_target_gets_a_batch_of_its_own():
    entries = [write(0, BLOCK_SIZE), write(BLOCK_SIZE, 1 << 20), write(0, BLOCK_SIZE)]
    batches = list(Batcher(target_bytes=256 << 10).cut(stream(entries)))
    assert [len(b.entries) for b in batches] == [1, 1, 1]


def test_batches_close_at_the_entry_limit():
    entries = [write(i * BLOCK_SIZE, BLOCK_SIZE) for i in range(10)]
    assert [len(b.entries) for b in Batcher(max_entries=4).cut(stream(entries))] == [4, 4, 2]


def test_sequence_numbers_continue_across_calls():
    batcher = Batcher()
    list(batcher.cut(stream([write(0, BLOCK_SIZE)])))
    assert [b.seq for b in batcher.cut(stream([write(0, BLOCK_SIZE)]))] == [2]
    assert batcher.next_seq == 3


def test_encoder_pool_keeps_order_and_matches_single_threaded_encoding():
    rng = random.Random(5)
    pending = [
        PendingBatch(
            seq,
            tuple(
                write(j * 64 << 10, 64 << 10, rng.randrange(3))
                if rng.random() < 0.5
                else BlockWrite(j * 64 << 10, (d := os.urandom(64 << 10)), digest_of(d))
                for j in range(8)
            ),
            seq * 10,
            float(seq),
        )
        for seq in range(1, 30)
    ]
    with BatchEncoder(threads=2) as encoder:
        encoded = list(encoder.encode_all(pending))
    assert [b.seq for b in encoded] == list(range(1, 30))
    assert encoded == [encode_batch(p) for p in pending]


def test_decoding_a_batch_returns_every_entry_in_order():
    entries: list[EncodedBlock | Bookmark] = [
        encode_block(0, bytes(BLOCK_SIZE)),
        encode_block(BLOCK_SIZE, os.urandom(BLOCK_SIZE)),
        Bookmark("app-1", BookmarkKind.APP, "vss", "g1", 12.5),
    ]
    batch = decode_batch(4, entries, DISK, generation=3)
    assert (batch.generation, batch.seq) == (3, 4)
    assert [type(e) for e in batch.entries] == [BlockWrite, BlockWrite, Bookmark]


def test_one_bad_block_rejects_the_whole_batch_naming_the_entry():
    good = encode_block(0, b"a" * BLOCK_SIZE)
    bad = EncodedBlock(BLOCK_SIZE, BLOCK_SIZE, b"b" * BLOCK_SIZE, good.digest, Codec.RAW)
    with pytest.raises(DigestMismatch, match="batch 9, entry 1"):
        decode_batch(9, [good, bad, good], DISK, generation=1)


def test_declared_total_is_checked_before_anything_is_decoded():
    blocks = [EncodedBlock(i << 20, 1 << 20, b"", b"\0" * 32, Codec.ZERO) for i in range(17)]
    with pytest.raises(TooLarge):
        decode_batch(1, blocks, DISK, generation=1)


@pytest.mark.parametrize("seq", [0, -1, 1.0, True])
def test_sequence_numbers_must_be_positive_integers(seq):
    with pytest.raises(InvalidInput):
        decode_batch(seq, [encode_block(0, bytes(BLOCK_SIZE))], DISK, generation=1)


def test_empty_or_oversized_batches_are_invalid():
    with pytest.raises(InvalidInput):
        decode_batch(1, [], DISK, generation=1)
    with pytest.raises(TooLarge):
        decode_batch(1, [bookmark(f"b{i}") for i in range(MAX_BATCH_ENTRIES + 1)], DISK, generation=1)


@pytest.mark.parametrize(
    "bad",
    [
        Bookmark("", BookmarkKind.CRASH, None, None, 1.0),
        Bookmark("x" * 200, BookmarkKind.CRASH, None, None, 1.0),
        Bookmark("has space", BookmarkKind.CRASH, None, None, 1.0),
        Bookmark("ok", BookmarkKind.APP, None, None, 1.0),
        Bookmark("ok", BookmarkKind.CRASH, "", None, 1.0),
        Bookmark("ok", BookmarkKind.CRASH, None, "g" * 300, 1.0),
        Bookmark("ok", BookmarkKind.RESYNC_COMPLETE, "tag", None, 1.0),
        Bookmark("ok", BookmarkKind.RESYNC_START, None, "group", 1.0),
        Bookmark("ok", BookmarkKind.CRASH, None, None, float("nan")),
        Bookmark("ok", BookmarkKind.CRASH, None, None, -1.0),
        Bookmark("ok", 9, None, None, 1.0),  # type: ignore[arg-type]
    ],
)
def test_bookmarks_outside_the_contract_are_invalid(bad: Bookmark):
    with pytest.raises(InvalidBookmark):
        decode_batch(1, [bad], DISK, generation=1)


def test_batch_entries_of_another_type_are_invalid():
    with pytest.raises(InvalidInput):
        decode_batch(1, [b"junk"], DISK, generation=1)  # type: ignore[list-item]


def test_a_bookmark_without_source_time_is_valid_and_keeps_none_through_the_stored_form():
    from agent.dataplane._wire import pack_bookmark, unpack_bookmark

    mark = Bookmark("start-1", BookmarkKind.RESYNC_START)
    assert decode_batch(1, [mark], DISK, generation=2).entries == (mark,)
    assert unpack_bookmark(pack_bookmark(mark)) == mark
