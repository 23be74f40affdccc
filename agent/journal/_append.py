"""The append path: validate a batch, decide which bookmarks become points, and make it durable.

Owns the rules of the contract that concern one batch (bounds, digests, bookmark ids, crash-point interval, resync
windows) and the direct write of initial-sync batches to the target. Called by PairJournal.append under its append
lock; nothing here is public.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.journal._housekeeping import ensure_space
from agent.journal._types import BLOCK_SIZE, Batch, BlockWrite, Bookmark, BookmarkKind, PointKind
from agent.journal._wal import PendingBatch, PointEntry, ResyncStart, WriteEntry, encode_table
from agent.journal.errors import InvalidBatch

if TYPE_CHECKING:
    from agent.journal._engine import PairJournal

__all__ = ["append_direct", "commit_append", "translate", "writes_before_consistency"]

_MAX_ID = 256
Table = list[tuple[int, Any]]


def writes_before_consistency(table: list[tuple[int, Any]]) -> bool:
    """True if no write of the batch follows its RESYNC_COMPLETE (those need before-images)."""
    complete = False
    for kind, value in table:
        if kind == 2 and value.kind == PointKind.RESYNC_COMPLETE.value:
            complete = True
        elif kind == 1 and complete:
            return False
    return True


def append_direct(
    engine: PairJournal,
    seq: int,
    table: list[tuple[int, Any]],
    writes: list[bytes | memoryview],
    data_len: int,
    decisions: dict[str, Any],
) -> None:
    """A batch onto a never-consistent disk (initial sync) goes straight to the target, fsynced, and the redo
    journal only records that it did (WRITTEN entries, no data): half the bytes of the journalled path.

    Safe because no point can exist before the first RESYNC_COMPLETE, so no before-image is needed, and a crash
    between the target write and the record only makes the sender resend the batch. Earlier journalled
    batches are applied first, so an older write can never land after this newer one."""
    if engine._pending_bytes:
        engine.apply_pending()
    ensure_space(engine, 8192)
    pool = engine.wal.pool
    data = pool.take(data_len)
    record = None
    try:
        with memoryview(data) as view:
            cursor = 0
            for chunk in writes:
                view[cursor : cursor + len(chunk)] = chunk
                cursor += len(chunk)
            write_runs(engine, _runs(table), view)
        engine.target.fsync()
        written = [(4, value) if kind == 1 else (kind, value) for kind, value in table]
        record, length, _ = engine.wal.build(encode_table(written), seq, [])
        engine.wal.write(seq, record, length)
    except OSError as exc:
        raise engine._fail(f"writing batch {seq} to the target during the initial sync failed: {exc}") from exc
    finally:
        pool.give(data)
        if record is not None:
            pool.give(record)
    commit_append(engine, seq, written, None, 0, 0, decisions)


def _runs(table: list[tuple[int, Any]]) -> list[tuple[int, int, int]]:
    """The batch's writes as (disk offset, buffer offset, length), adjacent ones merged into one write (a scan sends
    a run of blocks as several entries when it crosses a 64 KiB chunk)."""
    runs: list[tuple[int, int, int]] = []
    cursor = 0
    for kind, value in table:
        if kind != 1:
            continue
        length = value[1] * BLOCK_SIZE
        if runs and runs[-1][0] + runs[-1][2] == value[0] and runs[-1][1] + runs[-1][2] == cursor:
            runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + length)
        else:
            runs.append((value[0], cursor, length))
        cursor += length
    return runs


def write_runs(engine: PairJournal, runs: list[tuple[int, int, int]], view: memoryview) -> None:
    """Write the runs to the target; when no block is written twice, several at once (a device serves concurrent
    O_DIRECT writes far faster than one at a time), else in order."""
    blocks = sum(length for _, _, length in runs) // BLOCK_SIZE
    distinct: set[int] = set()
    for offset, _, length in runs:
        distinct.update(range(offset // BLOCK_SIZE, (offset + length) // BLOCK_SIZE))
    if len(runs) > 1 and len(distinct) == blocks:
        list(engine._reader_pool().map(lambda run: engine.target.pwrite(run[0], view[run[1] : run[1] + run[2]]), runs))
        return
    for offset, start, length in runs:
        engine.target.pwrite(offset, view[start : start + length])


def translate(engine: PairJournal, batch: Batch) -> tuple[Table, list[bytes | memoryview], int, dict[str, Any]]:
    """Validate every entry (nothing is written if one is bad) and decide which bookmarks become points."""
    now = engine.clock()
    in_resync, ever, since_point, last_clock = (
        engine._in_resync,
        engine._ever_consistent,
        engine._writes_since_point,
        engine._last_point_clock,
    )
    table: list[tuple[int, Any]] = []
    writes: list[bytes | memoryview] = []
    data_len = 0
    ids: set[str] = set()
    for index, entry in enumerate(batch.entries):
        if isinstance(entry, BlockWrite):
            length = len(entry.data)
            engine.target.check(entry.offset, length)
            if not isinstance(entry.digest, bytes) or len(entry.digest) != 32:
                raise InvalidBatch(f"entry {index} of batch {batch.seq}: digest must be 32 bytes of blake3")
            table.append((1, (entry.offset, length // BLOCK_SIZE, entry.digest)))
            writes.append(entry.data)
            data_len += length
            since_point = True
        elif isinstance(entry, Bookmark):
            check_bookmark(engine, batch.seq, index, entry, ids)
            ids.add(entry.id)
            kind = entry.kind
            if kind is BookmarkKind.RESYNC_START:
                in_resync = True
                table.append((3, None))
                continue
            if kind is BookmarkKind.RESYNC_COMPLETE:
                in_resync, ever = False, True
            elif in_resync or (
                kind is BookmarkKind.CRASH and since_point and now - last_clock < engine.policy.crash_interval
            ):
                # No point inside a resync window; crash points that hold a new state at most every crash_interval.
                # A CRASH bookmark with no write since the last point names that point's state and costs no history:
                # it is kept, or the sender (a snapshot cycle's point right after its RESYNC_COMPLETE) would be
                # acknowledged for a point the master target does not have.
                continue
            when = now if entry.source_time is None else float(entry.source_time)
            table.append((2, PointEntry(entry.id, PointKind[kind.name].value, when, entry.tag, entry.group)))
            last_clock, since_point = now, False
        else:
            raise InvalidBatch(
                f"entry {index} of batch {batch.seq} is a {type(entry).__name__}, not a BlockWrite or Bookmark"
            )
    if ever and not in_resync and since_point and now - last_clock >= engine.policy.crash_interval:
        point_id = f"crash-g{engine.spec.generation}-s{batch.seq}"
        table.append((2, PointEntry(point_id, PointKind.CRASH.value, now, None, None)))
        ids.add(point_id)
        last_clock, since_point = now, False
    decisions = {"in_resync": in_resync, "ever": ever, "since": since_point, "clock": last_clock, "ids": ids}
    return table, writes, data_len, decisions


def check_bookmark(engine: PairJournal, seq: int, index: int, mark: Bookmark, ids: set[str]) -> None:
    if not isinstance(mark.kind, BookmarkKind):
        raise InvalidBatch(f"entry {index} of batch {seq}: bookmark kind must be a BookmarkKind")
    for name, value in (("id", mark.id), ("tag", mark.tag), ("group", mark.group)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > _MAX_ID):
            raise InvalidBatch(f"entry {index} of batch {seq}: bookmark {name} must be 1-{_MAX_ID} characters")
    if mark.id in engine._point_ids or mark.id in ids:
        raise InvalidBatch(
            f"entry {index} of batch {seq}: bookmark id {mark.id!r} is already used",
            remedy="bookmark ids must be unique per pair and generation",
        )
    if mark.source_time is not None and not isinstance(mark.source_time, int | float):
        raise InvalidBatch(f"entry {index} of batch {seq}: source_time must be seconds since the epoch")


def commit_append(
    engine: PairJournal,
    seq: int,
    table: list[tuple[int, Any]],
    buffer: Any,
    data_start: int,
    data_len: int,
    decisions: dict[str, Any],
) -> None:
    view = memoryview(buffer) if buffer is not None else memoryview(b"")
    cursor = data_start
    entries: list[WriteEntry | PointEntry | ResyncStart] = []
    for kind, value in table:
        if kind == 1:
            offset, blocks, digest = value
            entries.append(WriteEntry(offset, blocks, digest, view[cursor : cursor + blocks * BLOCK_SIZE]))
            cursor += blocks * BLOCK_SIZE
        elif kind == 2:
            entries.append(value)
        elif kind == 3:
            entries.append(ResyncStart())
    with engine._pending_lock:
        engine._pending.append(PendingBatch(seq, entries, buffer, data_len))
        engine._pending_bytes += data_len
    engine.durable_seq_value = seq
    engine._in_resync, engine._ever_consistent = decisions["in_resync"], decisions["ever"]
    engine._writes_since_point, engine._last_point_clock = decisions["since"], decisions["clock"]
    engine._point_ids |= decisions["ids"]
