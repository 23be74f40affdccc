"""Which block devices this guest has mounted or swaps on (Linux).

The live system is read through psutil. A fake sysfs root has no live mounts, so for it we read the same
``/proc/self/mounts`` format from a file under that root; both sources return :class:`Mount` records and are held to
one contract test against this machine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from agent.discovery.errors import SourceError

__all__ = ["Mount", "MountTable", "proc_mounts", "psutil_mounts", "read_swaps"]


@dataclass(frozen=True)
class Mount:
    device: str
    mountpoint: str
    fstype: str


MountTable = Callable[[], list[Mount]]
"""Returns the current mounts; called on every scan so the answer is fresh."""

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def psutil_mounts() -> list[Mount]:
    """Mounts of real (non-pseudo) filesystems on this machine."""
    try:
        parts = psutil.disk_partitions(all=False)
    except OSError as exc:
        raise SourceError(f"cannot list mounts: {exc}") from exc
    return [Mount(device=p.device, mountpoint=p.mountpoint, fstype=p.fstype) for p in parts]


def _unescape(field: str) -> str:
    # The kernel escapes space, tab, newline and backslash in mount table fields as \ooo.
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def proc_mounts(path: Path) -> MountTable:
    """A mount table read from a file in ``/proc/self/mounts`` format (missing file: no mounts)."""

    def read() -> list[Mount]:
        try:
            text = path.read_text()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SourceError(f"cannot read {path}: {exc}") from exc
        mounts = []
        for line in text.splitlines():
            fields = line.split()
            if len(fields) >= 3:
                mounts.append(Mount(_unescape(fields[0]), _unescape(fields[1]), fields[2]))
        return mounts

    return read


def read_swaps(path: Path) -> list[str]:
    """Devices and files in ``/proc/swaps`` (missing file: none)."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc
    return [_unescape(line.split()[0]) for line in lines[1:] if line.split()]
