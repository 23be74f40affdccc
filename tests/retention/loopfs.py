"""Real volumes for root tests: a file-backed loop device with a fresh file system, mounted, always cleaned up."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.conftest import skip_or_fail

MKFS = {
    "ext4": ["mkfs.ext4", "-q", "-F"],
    "xfs": ["mkfs.xfs", "-q", "-f"],
}
# mkfs.xfs refuses file systems under 300 MB unless it runs under fstests, which it detects by these variables;
# 64 MiB volumes are exactly what the ENOSPC tests need.
XFS_SMALL_ENV = {"TEST_DIR": "1", "TEST_DEV": "1", "QA_CHECK_FS": "1"}


@dataclass(frozen=True)
class Volume:
    device: str
    mountpoint: str
    fstype: str


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(argv, check=True, capture_output=True, env=env)


@contextmanager
def loop_volume(workdir: str, fstype: str, *, size: int = 64 << 20, readonly: bool = False) -> Iterator[Volume]:
    tool = MKFS[fstype][0]
    if shutil.which(tool) is None or shutil.which("losetup") is None:
        skip_or_fail(f"{tool} and losetup are needed (Debian: xfsprogs, dosfstools, mount)")
    image = os.path.join(workdir, f"{fstype}.img")
    mountpoint = os.path.join(workdir, f"{fstype}-mnt")
    os.makedirs(mountpoint, exist_ok=True)
    with open(image, "wb") as handle:
        handle.truncate(size)
    env = dict(os.environ, **XFS_SMALL_ENV) if fstype == "xfs" else None
    _run([*MKFS[fstype], image], env=env)
    device = subprocess.run(["losetup", "-f", "--show", image], check=True, capture_output=True, text=True).stdout
    device = device.strip()
    mounted = False
    try:
        _run(["mount", *(["-o", "ro"] if readonly else []), device, mountpoint])
        mounted = True
        yield Volume(device, mountpoint, fstype)
    finally:
        if mounted:
            _run(["umount", mountpoint])
        _run(["losetup", "-d", device])
        os.unlink(image)
