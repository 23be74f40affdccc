"""From Azure's 512-byte page ranges to the data path's blocks: widening to 4 KiB, zero blocks for cleared pages,
cuts at 1 MiB, and refusal of page lists that break the page blob contract. Checked against a brute-force oracle
that classifies every 4 KiB block on its own."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.dataplane import BLOCK_SIZE
from agent.snapshots import PageRange, PlannedBlock, check_ranges, complement, plan_blocks
from agent.snapshots.errors import InvalidPageList

PAGE = 512
PER_BLOCK = BLOCK_SIZE // PAGE


def oracle(ranges: list[PageRange], size: int) -> tuple[set[int], set[int]]:
    """Blocks to read and blocks to send as zeros, one 4 KiB block at a time."""
    state: dict[int, str] = {}
    for r in ranges:
        for page in range(r.start // PAGE, r.end // PAGE):
            state[page] = "c" if r.cleared else "w"
    read, zero = set(), set()
    for block in range(size // BLOCK_SIZE):
        pages = [state.get(block * PER_BLOCK + i) for i in range(PER_BLOCK)]
        if "w" in pages or ("c" in pages and None in pages):
            read.add(block)
        elif all(p == "c" for p in pages):
            zero.add(block)
    return read, zero


@st.composite
def page_lists(draw: st.DrawFn) -> tuple[list[PageRange], int]:
    blocks = draw(st.integers(min_value=1, max_value=96))
    size = blocks * BLOCK_SIZE
    cuts = sorted(set(draw(st.lists(st.integers(0, size // PAGE), max_size=24))))
    ranges = []
    for start, end in itertools.pairwise(cuts):
        kind = draw(st.sampled_from(["gap", "written", "cleared"]))
        if kind != "gap":
            ranges.append(PageRange(start * PAGE, end * PAGE, cleared=kind == "cleared"))
    return ranges, size


@settings(max_examples=400, deadline=None)
@given(page_lists(), st.sampled_from([BLOCK_SIZE, 3 * BLOCK_SIZE, 16 * BLOCK_SIZE]))
def test_planned_blocks_match_the_per_block_oracle(case: tuple[list[PageRange], int], max_block: int) -> None:
    ranges, size = case
    planned = list(plan_blocks(ranges, size, max_block=max_block))
    read, zero = oracle(ranges, size)
    got_read = {o // BLOCK_SIZE for b in planned if not b.zero for o in range(b.offset, b.end, BLOCK_SIZE)}
    got_zero = {o // BLOCK_SIZE for b in planned if b.zero for o in range(b.offset, b.end, BLOCK_SIZE)}
    assert (got_read, got_zero) == (read, zero)
    assert all(b.offset % BLOCK_SIZE == 0 and 0 < b.length <= max_block and b.length % BLOCK_SIZE == 0 for b in planned)
    assert all(a.end <= b.offset for a, b in itertools.pairwise(planned))  # sorted, never overlapping
    # Runs are as long as allowed: two neighbours of the same kind only where the first is a full max_block.
    assert all(a.length == max_block for a, b in itertools.pairwise(planned) if a.end == b.offset and a.zero == b.zero)


def test_a_512_byte_change_is_sent_as_its_whole_4k_block() -> None:
    assert list(plan_blocks([PageRange(5 * PAGE, 6 * PAGE)], 4 * BLOCK_SIZE)) == [PlannedBlock(0, BLOCK_SIZE)]


def test_a_large_range_is_cut_into_blocks_of_at_most_1_mib() -> None:
    planned = list(plan_blocks([PageRange(BLOCK_SIZE, (3 << 20) + 2 * BLOCK_SIZE)], 4 << 20))
    assert [b.length for b in planned] == [1 << 20, 1 << 20, 1 << 20, BLOCK_SIZE]
    assert planned[0].offset == BLOCK_SIZE


def test_a_cleared_range_needs_no_read_except_its_partial_edge_blocks() -> None:
    planned = list(plan_blocks([PageRange(PAGE, 3 * BLOCK_SIZE, cleared=True)], 4 * BLOCK_SIZE))
    assert planned == [PlannedBlock(0, BLOCK_SIZE), PlannedBlock(BLOCK_SIZE, 2 * BLOCK_SIZE, zero=True)]


def test_adjacent_cleared_ranges_cover_a_block_together() -> None:
    ranges = [PageRange(0, 2048, cleared=True), PageRange(2048, BLOCK_SIZE, cleared=True)]
    assert list(plan_blocks(ranges, BLOCK_SIZE)) == [PlannedBlock(0, BLOCK_SIZE, zero=True)]


def test_complement_turns_the_allocated_ranges_into_a_whole_image() -> None:
    ranges = complement([PageRange(BLOCK_SIZE, 2 * BLOCK_SIZE)], 3 * BLOCK_SIZE)
    assert ranges == [
        PageRange(0, BLOCK_SIZE, cleared=True),
        PageRange(BLOCK_SIZE, 2 * BLOCK_SIZE),
        PageRange(2 * BLOCK_SIZE, 3 * BLOCK_SIZE, cleared=True),
    ]


@pytest.mark.parametrize(
    "ranges",
    [
        [PageRange(100, 612)],  # not on a page boundary
        [PageRange(0, 2 * BLOCK_SIZE)],  # past the end of the disk
        [PageRange(BLOCK_SIZE // 2, BLOCK_SIZE), PageRange(0, PAGE)],  # unsorted
        [PageRange(0, 2048), PageRange(1024, 4096)],  # overlapping
        [PageRange(PAGE, PAGE)],  # empty
    ],
)
def test_a_page_list_that_breaks_the_contract_is_refused(ranges: list[PageRange]) -> None:
    with pytest.raises(InvalidPageList):
        check_ranges(ranges, BLOCK_SIZE)
    with pytest.raises(InvalidPageList):
        list(plan_blocks(ranges, BLOCK_SIZE))


def test_a_disk_that_is_not_a_whole_number_of_blocks_is_refused() -> None:
    with pytest.raises(InvalidPageList, match="not a multiple of 4096"):
        list(plan_blocks([], BLOCK_SIZE + PAGE))
