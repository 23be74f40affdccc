"""ScanSource: resync by two-level hash compare (T13)."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path

import blake3
import pytest

from agent.dataplane import (
    BLOCK_SIZE,
    CHUNK_SIZE,
    BlockWrite,
    Bookmark,
    BookmarkKind,
    DiskHasher,
    Extent,
    ScanSource,
    disk_digest,
)
from agent.dataplane.errors import SourceError

from ._helpers import block_data, make_disk

SIZE = 96 * CHUNK_SIZE + 3 * BLOCK_SIZE


class RecordingHasher(DiskHasher):
    """The real hasher of the remote disk, counting what it was asked."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.requests: list[tuple[int, int]] = []

    def hashes(self, extents: Sequence[Extent], unit: int) -> list[bytes]:
        self.requests.append((unit, sum(e.length for e in extents)))
        return super().hashes(extents, unit)


def apply(entries: list[BlockWrite | Bookmark], target: Path) -> None:
    fd = os.open(target, os.O_WRONLY)
    try:
        for entry in entries:
            if isinstance(entry, BlockWrite):
                os.pwrite(fd, entry.data, entry.offset)
    finally:
        os.close(fd)


def changed_copy(source: Path, target: Path, blocks: set[int], seed: int) -> set[int]:
    rng = random.Random(seed)
    image = bytearray(source.read_bytes())
    original = bytes(image)
    for block in blocks:
        image[block * BLOCK_SIZE : (block + 1) * BLOCK_SIZE] = block_data(rng)
    target.write_bytes(bytes(image))
    return {
        b
        for b in blocks
        if original[b * BLOCK_SIZE : (b + 1) * BLOCK_SIZE] != image[b * BLOCK_SIZE : (b + 1) * BLOCK_SIZE]
    }


def scan_all(scan: ScanSource, cursor: int = 0) -> list[BlockWrite | Bookmark]:
    return [item.entry for item in scan.changes(cursor)]


def test_mostly_identical_disk_yields_only_the_differing_blocks(tmp_path: Path):
    source = make_disk(tmp_path / "source", SIZE, seed=1, fill=0.8)
    rng = random.Random(2)
    changed = changed_copy(source, tmp_path / "remote", set(rng.sample(range(SIZE // BLOCK_SIZE), 25)), seed=3)
    remote = RecordingHasher(tmp_path / "remote")
    with ScanSource(source, remote, window=8 * CHUNK_SIZE) as scan:
        entries = scan_all(scan)
    blocks = [e for e in entries if isinstance(e, BlockWrite)]
    sent = {o // BLOCK_SIZE for b in blocks for o in range(b.offset, b.offset + b.length, BLOCK_SIZE)}
    assert sent == changed
    assert sum(b.length for b in blocks) == len(changed) * BLOCK_SIZE
    assert all(blake3.blake3(b.data).digest() == b.digest for b in blocks)
    block_level = sum(length for unit, length in remote.requests if unit == BLOCK_SIZE)
    assert block_level <= len(changed) * CHUNK_SIZE  # only chunks that differ are compared block by block
    apply(entries, tmp_path / "remote")
    assert disk_digest(tmp_path / "remote", SIZE) == disk_digest(source, SIZE)


def test_scan_ends_with_a_resync_complete_bookmark_and_the_done_cursor(tmp_path: Path):
    source = make_disk(tmp_path / "source", SIZE, seed=4)
    (tmp_path / "remote").write_bytes(source.read_bytes())
    with ScanSource(source, DiskHasher(tmp_path / "remote"), resync_id="rs-1") as scan:
        items = list(scan.changes(0))
        assert len(items) == 1
        bookmark = items[0].entry
        assert isinstance(bookmark, Bookmark)
        assert (bookmark.id, bookmark.kind) == ("rs-1", BookmarkKind.RESYNC_COMPLETE)
        assert items[0].cursor == scan.done_cursor == SIZE + 1
        assert list(scan.changes(scan.done_cursor)) == []
        assert scan.progress == 1.0


def test_initial_sync_onto_an_empty_disk_sends_only_non_zero_blocks_without_block_hash_requests(tmp_path: Path):
    source = make_disk(tmp_path / "source", SIZE, seed=5, fill=0.3)
    image = source.read_bytes()
    nonzero = {b for b in range(SIZE // BLOCK_SIZE) if any(image[b * BLOCK_SIZE : (b + 1) * BLOCK_SIZE])}
    make_disk(tmp_path / "remote", SIZE)
    remote = RecordingHasher(tmp_path / "remote")
    with ScanSource(source, remote, window=16 * CHUNK_SIZE) as scan:
        entries = scan_all(scan)
    sent = {
        o // BLOCK_SIZE
        for e in entries
        if isinstance(e, BlockWrite)
        for o in range(e.offset, e.offset + e.length, BLOCK_SIZE)
    }
    assert sent == nonzero
    assert all(unit == CHUNK_SIZE for unit, _ in remote.requests)
    apply(entries, tmp_path / "remote")
    assert disk_digest(tmp_path / "remote", SIZE) == disk_digest(source, SIZE)


@pytest.mark.parametrize("stop_after", [1, 7, 30])
def test_resuming_from_a_cursor_yields_exactly_the_rest(tmp_path: Path, stop_after: int):
    source = make_disk(tmp_path / "source", SIZE, seed=6, fill=0.5)
    make_disk(tmp_path / "remote", SIZE, seed=7, fill=0.5)
    with ScanSource(source, DiskHasher(tmp_path / "remote"), window=4 * CHUNK_SIZE, resync_id="r") as scan:
        full = list(scan.changes(0))
        assert len(full) > stop_after
        resumed = list(scan.changes(full[stop_after - 1].cursor))
    assert [(i.entry, i.cursor) for i in resumed[:-1]] == [(i.entry, i.cursor) for i in full[stop_after:-1]]
    assert resumed[-1].entry.kind is BookmarkKind.RESYNC_COMPLETE  # type: ignore[union-attr]


def test_a_source_disk_not_a_multiple_of_the_block_size_is_refused(tmp_path: Path):
    source = tmp_path / "odd"
    source.write_bytes(bytes(BLOCK_SIZE + 512))
    with pytest.raises(SourceError):
        ScanSource(source, DiskHasher(source))


def test_extents_never_exceed_a_chunk_and_reuse_the_computed_digests(tmp_path: Path):
    source = make_disk(tmp_path / "source", 8 * CHUNK_SIZE, seed=8, fill=1.0)
    make_disk(tmp_path / "remote", 8 * CHUNK_SIZE)
    with ScanSource(source, DiskHasher(tmp_path / "remote")) as scan:
        blocks = [e for e in scan_all(scan) if isinstance(e, BlockWrite)]
    assert all(
        b.length <= CHUNK_SIZE and b.offset // CHUNK_SIZE == (b.offset + b.length - 1) // CHUNK_SIZE for b in blocks
    )
    assert all(blake3.blake3(b.data).digest() == b.digest for b in blocks)
