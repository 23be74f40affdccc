"""Resync hashing: hash lists, the two-level plan, and the disk digest definition."""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.dataplane import (
    BLOCK_SIZE,
    CHUNK_SIZE,
    MAX_HASHES_PER_REQUEST,
    DiskHasher,
    Extent,
    disk_digest,
    plan_resync,
    range_hashes,
)
from agent.dataplane.errors import BlockOutOfBounds, InvalidInput, MisalignedBlock, SourceError, TooLarge

from ._helpers import block_data, make_disk


def test_disk_digest_matches_its_documented_definition(tmp_path: Path):
    size = 3 * CHUNK_SIZE + 5 * BLOCK_SIZE  # last chunk is short
    image = bytes((i * 7 + i // 4096) % 251 for i in range(size))
    (tmp_path / "disk").write_bytes(image)
    chunks = [image[i : i + CHUNK_SIZE] for i in range(0, size, CHUNK_SIZE)]
    expected = blake3.blake3(
        b"failback.disk-digest.v1\x00"
        + size.to_bytes(8, "little")
        + b"".join(blake3.blake3(c).digest() for c in chunks)
    ).digest()
    assert disk_digest(tmp_path / "disk", size) == expected


def test_disk_digest_test_vector(tmp_path: Path):
    """Pinned: any change to the definition changes this value and must be a new format version."""
    size = 3 * CHUNK_SIZE + 5 * BLOCK_SIZE
    (tmp_path / "disk").write_bytes(bytes((i * 7 + i // 4096) % 251 for i in range(size)))
    assert disk_digest(tmp_path / "disk", size).hex() == (
        "c123e3a705855abc9aa58b485b824a6a28d34bdda50e5a070f1dc7731a15f266"
    )
    assert (
        disk_digest(tmp_path / "disk", 0).hex() == blake3.blake3(b"failback.disk-digest.v1\x00" + bytes(8)).hexdigest()
    )


def test_disk_digest_reads_only_the_first_size_bytes_of_a_larger_disk(tmp_path: Path):
    small = make_disk(tmp_path / "small", 4 * CHUNK_SIZE, seed=1)
    large = tmp_path / "large"
    large.write_bytes(small.read_bytes() + os.urandom(CHUNK_SIZE))
    assert disk_digest(large, 4 * CHUNK_SIZE) == disk_digest(small, 4 * CHUNK_SIZE)
    assert disk_digest(large, 5 * CHUNK_SIZE) != disk_digest(small, 4 * CHUNK_SIZE)


def test_disk_digest_changes_with_one_flipped_bit_and_with_size(tmp_path: Path):
    disk = make_disk(tmp_path / "disk", 8 * CHUNK_SIZE, seed=2)
    before = disk_digest(disk, 8 * CHUNK_SIZE)
    with open(disk, "r+b") as handle:
        handle.seek(5 * CHUNK_SIZE + 77)
        byte = handle.read(1)
        handle.seek(5 * CHUNK_SIZE + 77)
        handle.write(bytes([byte[0] ^ 1]))
    assert disk_digest(disk, 8 * CHUNK_SIZE) != before
    zeros = make_disk(tmp_path / "zeros", 8 * CHUNK_SIZE)
    assert disk_digest(zeros, 7 * CHUNK_SIZE) != disk_digest(zeros, 8 * CHUNK_SIZE)


def test_disk_digest_of_a_short_disk_is_a_source_error(tmp_path: Path):
    disk = make_disk(tmp_path / "disk", CHUNK_SIZE)
    with pytest.raises(SourceError):
        disk_digest(disk, 2 * CHUNK_SIZE)


def test_range_hashes_hash_every_unit_of_each_extent_and_a_short_last_unit(tmp_path: Path):
    disk = make_disk(tmp_path / "disk", 10 * CHUNK_SIZE, seed=3)
    image = disk.read_bytes()
    extents = [Extent(CHUNK_SIZE, 2 * CHUNK_SIZE + 3 * BLOCK_SIZE), Extent(8 * CHUNK_SIZE, BLOCK_SIZE)]
    fd = os.open(disk, os.O_RDONLY)
    try:
        got = range_hashes(fd, extents, CHUNK_SIZE)
    finally:
        os.close(fd)
    expected = [
        blake3.blake3(image[o : min(o + CHUNK_SIZE, e.end)]).digest()
        for e in extents
        for o in range(e.offset, e.end, CHUNK_SIZE)
    ]
    assert got == expected
    assert len(got) == 4


@settings(max_examples=200, deadline=None)
@given(
    units=st.lists(st.tuples(st.binary(min_size=1, max_size=2), st.booleans()), max_size=60),
    remote_missing=st.integers(0, 5),
)
def test_plan_resync_covers_exactly_the_differing_units(units, remote_missing):
    local = [digest for digest, _ in units]
    remote = [digest if same else digest + b"!" for digest, same in units]
    remote = remote[: max(0, len(remote) - remote_missing)]
    extents = list(plan_resync(local, remote, unit=BLOCK_SIZE, start=10 * BLOCK_SIZE))
    sent = {o for e in extents for o in range(e.offset, e.end, BLOCK_SIZE)}
    differing = {
        10 * BLOCK_SIZE + i * BLOCK_SIZE for i in range(len(local)) if i >= len(remote) or local[i] != remote[i]
    }
    assert sent == differing
    assert all(a.end < b.offset for a, b in itertools.pairwise(extents))  # merged and ordered


def test_plan_resync_clips_the_last_unit_to_the_end():
    assert list(plan_resync([b"a", b"b"], [], unit=CHUNK_SIZE, start=0, end=CHUNK_SIZE + BLOCK_SIZE)) == [
        Extent(0, CHUNK_SIZE + BLOCK_SIZE)
    ]


@pytest.mark.parametrize("seed", range(5))
def test_two_level_compare_finds_exactly_the_changed_blocks(tmp_path: Path, seed: int):
    rng = random.Random(seed)
    size = rng.randint(20, 90) * CHUNK_SIZE + rng.randint(0, 15) * BLOCK_SIZE
    local = make_disk(tmp_path / "local", size, seed=seed, fill=0.7)
    remote = tmp_path / "remote"
    image = bytearray(local.read_bytes())
    changed = set(rng.sample(range(size // BLOCK_SIZE), rng.randint(0, 40)))
    for block in changed:
        image[block * BLOCK_SIZE : (block + 1) * BLOCK_SIZE] = block_data(rng)
    remote.write_bytes(bytes(image))
    changed = {
        b
        for b in changed
        if local.read_bytes()[b * BLOCK_SIZE : (b + 1) * BLOCK_SIZE] != image[b * BLOCK_SIZE : (b + 1) * BLOCK_SIZE]
    }

    with DiskHasher(local) as mine, DiskHasher(remote) as theirs:
        whole = [Extent(0, size)]
        found: set[int] = set()
        for chunk in plan_resync(
            mine.hashes(whole, CHUNK_SIZE), theirs.hashes(whole, CHUNK_SIZE), unit=CHUNK_SIZE, end=size
        ):
            inner = [chunk]
            for extent in plan_resync(
                mine.hashes(inner, BLOCK_SIZE), theirs.hashes(inner, BLOCK_SIZE), unit=BLOCK_SIZE, start=chunk.offset
            ):
                found.update(range(extent.offset // BLOCK_SIZE, extent.end // BLOCK_SIZE))
    assert found == changed


def test_disk_hasher_refuses_bad_requests(tmp_path: Path):
    disk = make_disk(tmp_path / "disk", 4 * CHUNK_SIZE)
    with DiskHasher(disk) as hasher:
        with pytest.raises(BlockOutOfBounds):
            hasher.hashes([Extent(4 * CHUNK_SIZE, BLOCK_SIZE)], BLOCK_SIZE)
        with pytest.raises(BlockOutOfBounds):
            hasher.hashes([Extent(-BLOCK_SIZE, BLOCK_SIZE)], BLOCK_SIZE)
        with pytest.raises(MisalignedBlock):
            hasher.hashes([Extent(100, BLOCK_SIZE)], BLOCK_SIZE)
        with pytest.raises(InvalidInput):
            hasher.hashes([Extent(0, BLOCK_SIZE)], 8192)
        with pytest.raises(TooLarge):
            hasher.hashes([Extent(0, BLOCK_SIZE)] * (MAX_HASHES_PER_REQUEST + 1), BLOCK_SIZE)
