"""The recording, fault-injecting I/O layer and the crash states it implies (the ALICE method, small).

:class:`RecordingIO` performs every call on the real file system (buffered: a page cache is what a crash loses) and
appends it to an op log; a :class:`FaultPlan` makes the Nth fsync fail with EIO, the Nth write (pwrite or append)
fail with ENOSPC, or the Nth write come back short. :func:`crash_states` replays a prefix of the log over the files
as they were when recording started, the way a power cut could have left them:

- ops already covered by a barrier (a later fsync of the same file, a later fsync of the parent directory for
  create / rename / unlink / mkdir) always survive;
- of the others, variants keep all, none, only those before one write that is itself torn in half, or all data but
  no directory operation.

This is a model, deliberately pessimistic about directories (an fsync of a new file does not make its name durable)
and optimistic about order inside one file (a torn write is the last survivor). Tests use it; product code never does.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from agent.journal._io import Buffer, Handle, OsIO

__all__ = ["CrashState", "FaultPlan", "Op", "RecordingIO", "crash_states"]


@dataclass(frozen=True, slots=True)
class Op:
    kind: str  # create write truncate fsync rename unlink fsync_dir mkdir mark
    path: str = ""
    inode: int = 0
    offset: int = 0
    data: bytes = b""
    dst: str = ""


@dataclass(slots=True)
class FaultPlan:
    """Counts are 1-based over the whole life of the RecordingIO. A short write returns half the bytes; with
    ``short_then_enospc`` the next pwrite fails with ENOSPC (a disk that just filled up)."""

    fail_fsync_at: int | None = None
    enospc_write_at: int | None = None
    short_write_at: int | None = None
    short_then_enospc: bool = True


class RecordingIO:
    """OsIO that records every durable call (never O_DIRECT) and injects the faults of ``faults``."""

    def __init__(self, root: str, faults: FaultPlan | None = None) -> None:
        self.root = os.path.abspath(root)
        self.faults = faults or FaultPlan()
        self.ops: list[Op] = []
        self._real = OsIO()
        self._inodes: dict[str, int] = {}
        self._next_inode = 1
        self.initial_files: dict[str, bytes] = {}
        self.initial_dirs: set[str] = {self.root}
        for folder, dirs, files in os.walk(self.root):
            for name in dirs:
                self.initial_dirs.add(os.path.join(folder, name))
            for name in files:
                path = os.path.join(folder, name)
                with open(path, "rb") as handle:
                    self.initial_files[path] = handle.read()
                self._inode(path)
        self.initial_inodes = dict(self._inodes)
        self.fsyncs = 0
        self.writes = 0
        self._enospc_next = False

    def _inode(self, path: str) -> int:
        if path not in self._inodes:
            self._inodes[path] = self._next_inode
            self._next_inode += 1
        return self._inodes[path]

    def mark(self, label: str) -> None:
        """Note an event (an acknowledgement) at this point of the op log."""
        self.ops.append(Op("mark", label))

    def open(
        self,
        path: str,
        *,
        create: bool = False,
        exclusive: bool = False,
        append: bool = False,
        truncate: bool = False,
        direct: bool = False,
        readonly: bool = False,
    ) -> Handle:
        existed = os.path.exists(path)
        handle = self._real.open(
            path, create=create, exclusive=exclusive, append=append, truncate=truncate, direct=False, readonly=readonly
        )
        if create and not existed:
            self._inodes.pop(path, None)
            self.ops.append(Op("create", path, self._inode(path)))
        elif truncate and existed:
            self.ops.append(Op("truncate", path, self._inode(path), 0))
        return handle

    def close(self, handle: Handle) -> None:
        self._real.close(handle)

    def _planned(self, handle: Handle, view: memoryview) -> memoryview:
        """Count a write and apply the fault plan: raise ENOSPC, or return the part a short write keeps."""
        self.writes += 1
        if self._enospc_next or self.faults.enospc_write_at == self.writes:
            self._enospc_next = False
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), handle.path)
        if self.faults.short_write_at == self.writes and len(view) > 1:
            self._enospc_next = self.faults.short_then_enospc
            return view[: len(view) // 2]
        return view

    def pwrite(self, handle: Handle, data: Buffer, offset: int) -> int:
        view = self._planned(handle, memoryview(data).cast("B"))
        written = self._real.pwrite(handle, view, offset)
        self.ops.append(Op("write", handle.path, self._inode(handle.path), offset, bytes(view[:written])))
        return written

    def writev(self, handle: Handle, buffers: Sequence[Buffer]) -> int:
        """An append, recorded as a write at the end of the file (appenders hold the file alone)."""
        joined = memoryview(b"".join(buffers))
        view = self._planned(handle, joined)
        offset = os.fstat(handle.fd).st_size
        written = self._real.writev(handle, [view])
        self.ops.append(Op("write", handle.path, self._inode(handle.path), offset, bytes(view[:written])))
        return written

    def pread(self, handle: Handle, size: int, offset: int) -> bytes:
        return self._real.pread(handle, size, offset)

    def _sync(self, handle: Handle) -> None:
        self.fsyncs += 1
        if self.faults.fail_fsync_at == self.fsyncs:
            raise OSError(errno.EIO, os.strerror(errno.EIO), handle.path)
        self.ops.append(Op("fsync", handle.path, self._inode(handle.path)))

    def fsync(self, handle: Handle) -> None:
        self._sync(handle)
        self._real.fsync(handle)

    def fdatasync(self, handle: Handle) -> None:
        self._sync(handle)
        self._real.fdatasync(handle)

    def ftruncate(self, handle: Handle, size: int) -> None:
        self._real.ftruncate(handle, size)
        self.ops.append(Op("truncate", handle.path, self._inode(handle.path), size))

    def size(self, handle: Handle) -> int:
        return self._real.size(handle)

    def rename(self, src: str, dst: str) -> None:
        self._real.rename(src, dst)
        inode = self._inodes.pop(src, 0)
        self._inodes[dst] = inode
        self.ops.append(Op("rename", src, inode, dst=dst))

    def unlink(self, path: str) -> None:
        self._real.unlink(path)
        self.ops.append(Op("unlink", path, self._inodes.pop(path, 0)))

    def fsync_dir(self, path: str) -> None:
        self.fsyncs += 1
        if self.faults.fail_fsync_at == self.fsyncs:
            raise OSError(errno.EIO, os.strerror(errno.EIO), path)
        self._real.fsync_dir(path)
        self.ops.append(Op("fsync_dir", os.path.abspath(path)))

    def mkdir(self, path: str) -> None:
        self._real.mkdir(path)
        self.ops.append(Op("mkdir", os.path.abspath(path)))

    def listdir(self, path: str) -> list[str]:
        return self._real.listdir(path)

    def exists(self, path: str) -> bool:
        return self._real.exists(path)


@dataclass(slots=True)
class CrashState:
    """Files and directories as a crash after ``prefix`` ops could have left them; ``marks`` are the events before."""

    prefix: int
    variant: str
    files: dict[str, bytes]
    dirs: set[str]
    marks: list[str] = field(default_factory=list)

    def materialize(self, src_root: str, dest_root: str) -> None:
        """Write this state under ``dest_root`` (paths are mapped from ``src_root``)."""
        for folder in sorted(self.dirs, key=len):
            os.makedirs(os.path.join(dest_root, os.path.relpath(folder, src_root)), exist_ok=True)
        for path, data in self.files.items():
            with open(os.path.join(dest_root, os.path.relpath(path, src_root)), "wb") as handle:
                handle.write(data)


def _covered(ops: list[Op], end: int) -> list[bool]:
    """Which of ops[:end] a later barrier in ops[:end] made durable."""
    durable = [False] * end
    synced_inodes: set[int] = set()
    synced_dirs: set[str] = set()
    for index in range(end - 1, -1, -1):
        op = ops[index]
        if op.kind == "fsync":
            synced_inodes.add(op.inode)
        elif op.kind == "fsync_dir":
            synced_dirs.add(op.path)
        elif op.kind in ("write", "truncate"):
            durable[index] = op.inode in synced_inodes
        elif op.kind in ("create", "unlink", "mkdir"):
            durable[index] = os.path.dirname(op.path) in synced_dirs
        elif op.kind == "rename":
            durable[index] = os.path.dirname(op.dst) in synced_dirs
        else:
            durable[index] = True
    return durable


def _replay(rec: RecordingIO, ops: list[Op], keep: list[str]) -> tuple[dict[str, bytes], set[str]]:
    """``keep[i]`` is "full", "torn" or "drop" for ops[i]."""
    entries: dict[str, int] = {}
    data: dict[int, bytearray] = {}
    for path, content in rec.initial_files.items():
        inode = rec.initial_inodes[path]
        entries[path] = inode
        data[inode] = bytearray(content)
    dirs = set(rec.initial_dirs)
    for op, how in zip(ops, keep, strict=True):
        if how == "drop":
            continue
        if op.kind == "create":
            entries[op.path] = op.inode
            data[op.inode] = bytearray()
        elif op.kind == "write":
            payload = op.data if how == "full" else op.data[: len(op.data) // 2]
            buf = data.setdefault(op.inode, bytearray())
            if len(buf) < op.offset:
                buf.extend(bytes(op.offset - len(buf)))
            buf[op.offset : op.offset + len(payload)] = payload
        elif op.kind == "truncate":
            buf = data.setdefault(op.inode, bytearray())
            del buf[op.offset :]
            if len(buf) < op.offset:
                buf.extend(bytes(op.offset - len(buf)))
        elif op.kind == "rename":
            if entries.get(op.path) == op.inode:
                entries[op.dst] = entries.pop(op.path)
        elif op.kind == "unlink":
            if entries.get(op.path) == op.inode:
                del entries[op.path]
        elif op.kind == "mkdir":
            dirs.add(op.path)
    files = {path: bytes(data[inode]) for path, inode in entries.items() if os.path.dirname(path) in dirs}
    return files, dirs


def crash_states(rec: RecordingIO, *, start: int = 0) -> Iterator[CrashState]:
    """Every distinct crash state after each prefix of ``rec.ops`` from ``start`` on (see the module docstring)."""
    seen: set[bytes] = set()
    ops = rec.ops
    for end in range(start, len(ops) + 1):
        prefix = ops[:end]
        durable = _covered(ops, end)
        marks = [op.path for op in prefix if op.kind == "mark"]
        volatile = [i for i in range(end) if not durable[i]]
        variants: list[tuple[str, list[str]]] = [
            ("all", ["full"] * end),
            ("none", ["full" if durable[i] else "drop" for i in range(end)]),
            (
                "data-only",
                ["full" if durable[i] or prefix[i].kind in ("write", "truncate") else "drop" for i in range(end)],
            ),
        ]
        for torn in volatile:
            if prefix[torn].kind != "write":
                continue
            keep = ["full" if durable[i] or i < torn else "drop" for i in range(end)]
            keep[torn] = "torn"
            variants.append((f"torn@{torn}", keep))
        for name, keep in variants:
            files, dirs = _replay(rec, prefix, keep)
            hasher = hashlib.blake2b(repr(sorted(dirs)).encode(), digest_size=16)
            for path in sorted(files):
                hasher.update(f"{path}\0{len(files[path])}\0".encode())
                hasher.update(files[path])
            digest = hasher.digest()
            if digest in seen:
                continue
            seen.add(digest)
            yield CrashState(end, name, files, dirs, marks)
