"""This controller's replica id, and the lock that makes it one process at a time.

The id is kept in ``<state_dir>/replica-id`` (created on first start, not part of a backup: a restored controller is
a new replica). While serving, the process holds an exclusive ``flock`` on ``<state_dir>/replica.lock``: a second
controller on the same state directory is refused, and so a replica may take over the job leases of its own earlier
incarnations at once, without waiting for them to expire.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from pathlib import Path

from failback.errors import PermanentError
from failback.pki import write_public

__all__ = ["ReplicaLock"]

ID_FILE = "replica-id"
LOCK_FILE = "replica.lock"


class ReplicaLock:
    def __init__(self, replica: str, fd: int) -> None:
        self.replica = replica
        self._fd = fd

    @classmethod
    def acquire(cls, state_dir: Path) -> ReplicaLock:
        fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise PermanentError(
                f"another failback-controller (pid {holder}) is running with the state directory {state_dir}",
                remedy="stop it first; two controllers must not share one state directory",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        id_file = state_dir / ID_FILE
        if not id_file.exists():
            write_public(id_file, f"r-{secrets.token_hex(6)}\n".encode())
        return cls(id_file.read_text().strip(), fd)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
