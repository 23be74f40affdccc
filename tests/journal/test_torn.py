"""T6: a torn or corrupt record is found by its checksum or length, cut off, and no point refers to it."""

from __future__ import annotations

import os

import pytest

from agent.journal import JournalCorrupt, PointId
from tests.journal.support import Source, open_journal, read

SIZE = 32 * 4096


def wal_file(root) -> str:
    folder = os.path.join(root, "journal", "wal")
    (name,) = os.listdir(folder)
    return os.path.join(folder, name)


def three_unapplied_batches(root) -> tuple[Source, list[bytes], list[int]]:
    """Batches 2-4 sit in the redo journal only; returns the content after each seq and the record offsets."""
    source = Source(SIZE)
    journal = open_journal(root, SIZE)
    journal.append(source.initial_sync())
    journal.apply_pending()
    contents = [bytes(source.content)]
    offsets = []
    for i in range(3):
        offsets.append(os.path.getsize(wal_file(root)) if os.path.exists(journal.wal.dir) else 0)
        journal.append(source.batch([source.random_write(4), source.bookmark(f"p{i}"), source.random_write(2)]))
        contents.append(bytes(source.content))
    journal.close()
    return source, contents, offsets


def test_a_record_torn_inside_its_data_is_cut_and_its_point_never_appears(tmp_path) -> None:
    root = str(tmp_path)
    source, contents, offsets = three_unapplied_batches(root)
    path = wal_file(root)
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) - 4096)
    journal = open_journal(root, SIZE)
    assert journal.durable_seq == 3
    assert "p2" not in {p.id for p in journal.points()}
    assert read(journal.target.path) == contents[2]
    assert os.path.getsize(path) == offsets[2] or not os.path.exists(path)
    journal.bring_to(PointId("p1"))
    assert read(journal.target.path) == source.at_point["p1"]
    journal.close()


@pytest.mark.parametrize("where", ["header", "table", "data"])
def test_a_flipped_byte_in_the_last_record_is_detected_and_the_record_dropped(tmp_path, where: str) -> None:
    root = str(tmp_path)
    _, contents, offsets = three_unapplied_batches(root)
    at = {"header": offsets[2] + 10, "table": offsets[2] + 70, "data": offsets[2] + 4096 + 5}[where]
    with open(wal_file(root), "r+b") as handle:
        handle.seek(at)
        byte = handle.read(1)
        handle.seek(at)
        handle.write(bytes([byte[0] ^ 0x40]))
    journal = open_journal(root, SIZE)
    assert journal.durable_seq == 3
    assert [p.id for p in journal.points()] == ["synced", "p0", "p1"]
    assert read(journal.target.path) == contents[2]
    journal.close()


def test_corrupt_data_followed_by_valid_records_stops_recovery_instead_of_dropping_acknowledged_batches(
    tmp_path,
) -> None:
    root = str(tmp_path)
    _, _, offsets = three_unapplied_batches(root)
    at = offsets[0] + 4096 + 100  # the data of batch 2, which batches 3 and 4 follow
    with open(wal_file(root), "r+b") as handle:
        handle.seek(at)
        data = handle.read(1)
        handle.seek(at)
        handle.write(bytes([data[0] ^ 1]))
    with pytest.raises(JournalCorrupt):
        open_journal(root, SIZE)


def test_a_torn_undo_record_is_cut_and_the_round_captured_again(tmp_path) -> None:
    root = str(tmp_path)
    source = Source(SIZE)
    journal = open_journal(root, SIZE)
    journal.append(source.initial_sync())
    journal.append(source.batch([source.random_write(4), source.bookmark("p")]))
    journal.apply_pending()
    journal.append(source.batch([source.write(3, 3)]))
    journal.close()
    undo_dir = os.path.join(root, "journal", "undo")
    segment = os.path.join(undo_dir, sorted(os.listdir(undo_dir))[-1])
    size = os.path.getsize(segment)
    with open(segment, "ab") as handle:
        handle.write(b"FBUN" + bytes(50))  # an interrupted undo append: a header that does not check out
    journal = open_journal(root, SIZE)
    assert os.path.getsize(segment) > size  # the round was applied again, with its own undo record
    journal.bring_to(PointId("p"))
    assert read(journal.target.path) == source.at_point["p"]
    journal.close()


def test_a_torn_catalog_tail_is_cut(tmp_path) -> None:
    root = str(tmp_path)
    source = Source(SIZE)
    journal = open_journal(root, SIZE)
    journal.append(source.initial_sync())
    journal.apply_pending()
    journal.close()
    catalog = os.path.join(root, "journal", "catalog")
    size = os.path.getsize(catalog)
    with open(catalog, "ab") as handle:
        handle.write(b"FBCT\x01\x00\x02\x00" + bytes(20))
    journal = open_journal(root, SIZE)
    assert os.path.getsize(catalog) == size
    assert [p.id for p in journal.points()] == ["synced"]
    journal.close()
