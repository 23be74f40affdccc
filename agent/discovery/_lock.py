"""A cross-process lock around rescans and device removal.

Two agents (or an agent and an operator's script using the same lock) must not rescan and delete SCSI devices at the
same time: a removal racing a scan can leave a half-registered device. The lock is an advisory ``flock`` on a lock
file (``msvcrt.locking`` on Windows); the kernel drops it when the holder dies, so a crashed agent never leaves the
host locked. Waiting for it is a declared :class:`failback.retry.Policy`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from agent.discovery.errors import RescanBusy, SourceError
from failback.retry import Policy

__all__ = ["host_lock"]


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def host_lock(path: Path, policy: Policy) -> Iterator[None]:
    """Hold the lock file at ``path`` for the ``with`` block, waiting per ``policy``; RescanBusy past its deadline."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise SourceError(f"cannot open the rescan lock {path}: {exc}", remedy="run the agent as root") from exc
    try:

        def acquire() -> None:
            if not _try_lock(fd):
                raise RescanBusy(f"another process holds the rescan lock {path}")

        policy.call(acquire, what=f"rescan lock {path}")
        yield
    finally:
        # Closing the descriptor releases the lock on every platform.
        os.close(fd)
