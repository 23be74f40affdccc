"""The I/O layer's contract, held by the real implementation and by the recording one the crash tests use."""

from __future__ import annotations

import os

import pytest

from agent.journal import IO, FaultPlan, OsIO, OutOfBounds, RecordingIO, TargetDisk, crash_states
from agent.journal._io import aligned_buffer, write_all


@pytest.fixture(params=["os", "recording"])
def io(request, tmp_path) -> IO:
    return OsIO() if request.param == "os" else RecordingIO(str(tmp_path))


def test_files_are_created_written_read_truncated_renamed_and_removed(io: IO, tmp_path) -> None:
    path, moved = str(tmp_path / "a"), str(tmp_path / "b")
    handle = io.open(path, create=True)
    write_all(io, handle, b"hello world", 0)
    io.fdatasync(handle)
    assert io.pread(handle, 5, 6) == b"world"
    io.ftruncate(handle, 5)
    assert io.size(handle) == 5
    io.close(handle)
    io.rename(path, moved)
    io.fsync_dir(str(tmp_path))
    assert not io.exists(path)
    assert "b" in io.listdir(str(tmp_path))
    io.unlink(moved)
    assert not io.exists(moved)


def test_a_direct_handle_reads_any_range_back(io: IO, tmp_path) -> None:
    path = str(tmp_path / "d")
    with open(path, "wb") as handle:
        handle.write(bytes(range(256)) * 64)
    direct = io.open(path, direct=True)
    buf = aligned_buffer(4096)
    buf[:4096] = b"\x07" * 4096
    write_all(io, direct, buf, 8192)
    io.fsync(direct)
    assert io.pread(direct, 10, 8190) == bytes([254, 255]) + b"\x07" * 8
    io.close(direct)


def test_the_target_refuses_anything_outside_its_bounds_before_any_io(io: IO, tmp_path) -> None:
    path = str(tmp_path / "disk")
    with open(path, "wb") as handle:
        handle.truncate(16 * 4096)
    target = TargetDisk.open(path, io=io)
    for offset, length in ((-4096, 4096), (16 * 4096, 4096), (15 * 4096, 8192), (100, 4096), (0, 0), (2**63, 4096)):
        with pytest.raises(OutOfBounds):
            target.pwrite(offset, bytes(max(length, 0)))
        with pytest.raises(OutOfBounds):
            target.pread(offset, length)
    target.pwrite(4096, b"\x01" * 4096)  # unaligned memory is bounced through an aligned buffer
    assert target.pread(4096, 4096) == b"\x01" * 4096
    target.close()
    assert os.path.getsize(path) == 16 * 4096


def test_the_recorder_injects_the_planned_faults(tmp_path) -> None:
    io = RecordingIO(str(tmp_path), FaultPlan(fail_fsync_at=2, enospc_write_at=3))
    handle = io.open(str(tmp_path / "f"), create=True)
    io.pwrite(handle, b"a", 0)
    io.fsync(handle)
    with pytest.raises(OSError, match="Input/output error"):
        io.fsync(handle)
    io.pwrite(handle, b"b", 1)
    with pytest.raises(OSError, match="No space left"):
        io.pwrite(handle, b"c", 2)
    io.close(handle)


def test_crash_states_drop_unsynced_writes_and_keep_synced_ones(tmp_path) -> None:
    io = RecordingIO(str(tmp_path))
    path = str(tmp_path / "f")
    handle = io.open(path, create=True)
    io.fsync_dir(str(tmp_path))
    io.pwrite(handle, b"durable", 0)
    io.fsync(handle)
    io.pwrite(handle, b"-volatile", 7)
    io.close(handle)
    synced_at = next(i for i, op in enumerate(io.ops) if op.kind == "fsync") + 1
    states = list(crash_states(io))  # distinct states only: a state already seen at a shorter prefix is not repeated
    assert {b"durable-volatile", b"durable", b"durable-vol"} <= {s.files.get(path) for s in states}
    after = [state.files.get(path) for state in states if state.prefix >= synced_at]
    assert after
    assert all(content is not None and content.startswith(b"durable") for content in after)
