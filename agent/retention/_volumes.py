"""Retention volumes: which mounted volumes may hold journals, and how full they are.

Owns the eligibility rules, each refusal with a reason an operator can act on. It reads the mount table and usage
through injected functions (psutil's by default), so the Windows rules are tested with realistic psutil output on
Linux. It never mounts, formats or writes anything.

Supported file systems: ext4 and xfs on Linux, NTFS and ReFS on Windows (journaled, large files, O_DIRECT or
unbuffered I/O). Refused: the root / system volume (a full journal must never stop the OS), the volumes holding the
agent's install and cache (same), any volume that is itself a replication target (the journal would replicate over
itself), FAT/FAT32/exFAT/vfat (no journaling, 4 GiB file limit), read-only or zero-capacity volumes.
"""

from __future__ import annotations

import enum
import ntpath
import os
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from agent.retention.errors import VolumeIneligible, VolumeNotFound

__all__ = ["Refusal", "RetentionVolumes", "VolumeReport"]

SUPPORTED = {"linux": {"ext4", "xfs"}, "win32": {"ntfs", "refs"}}
FAT = {"vfat", "fat", "fat16", "fat32", "msdos", "exfat"}


class Refusal(enum.Enum):
    """Why a volume cannot hold retention journals; ``str()`` is the operator-facing sentence."""

    OS_VOLUME = "it is the operating system's volume; a full journal must never stop the OS"
    AGENT_VOLUME = "it holds the agent's install or cache; a full journal must never stop the agent"
    REPLICATION_TARGET = "it is on a replication target disk; the journal would be overwritten by replication"
    FAT = "FAT/FAT32/exFAT has no journaling and a 4 GiB file limit; format it as {supported}"
    READ_ONLY = "it is mounted read-only; remount it read-write"
    ZERO_CAPACITY = "it reports zero capacity; check that the disk is attached and formatted"
    UNSUPPORTED_FS = "file system {fstype} is not supported; use {supported}"
    NO_USAGE = "its capacity cannot be read ({error}); check that it is mounted and readable"


@dataclass(frozen=True, slots=True)
class VolumeReport:
    """One volume: where, what, how big, how full, and whether (and why not) it may hold journals."""

    mountpoint: str
    device: str
    fstype: str
    capacity: int
    free: int
    threshold_pct: float
    reasons: tuple[str, ...]

    @property
    def eligible(self) -> bool:
        return not self.reasons

    @property
    def used_pct(self) -> float:
        return 100.0 * (self.capacity - self.free) / self.capacity if self.capacity else 0.0

    @property
    def over_threshold(self) -> bool:
        return self.used_pct > self.threshold_pct


class RetentionVolumes:
    """Eligibility and usage of the host's volumes. Inject ``partitions``/``usage`` to test other platforms."""

    def __init__(
        self,
        *,
        platform: str = sys.platform,
        partitions: Callable[[], Sequence[Any]] = psutil.disk_partitions,
        usage: Callable[[str], Any] = psutil.disk_usage,
        agent_paths: Collection[str] = (sys.prefix,),
        targets: Collection[str] = (),
        system_drive: str | None = None,
        threshold_pct: float = 80.0,
    ) -> None:
        self.windows = platform.startswith("win")
        self._partitions = partitions
        self._usage = usage
        self._agent_paths = tuple(agent_paths)
        self._targets = {self._norm(t) for t in targets}
        drive = system_drive or os.environ.get("SYSTEMDRIVE", "C:")
        self._os_volume = self._norm(drive) if self.windows else "/"
        self.threshold_pct = threshold_pct
        self._supported = SUPPORTED["win32" if self.windows else "linux"]

    def _norm(self, name: str) -> str:
        if not self.windows:
            return os.path.normpath(name) if name.startswith("/") else name
        name = name.replace("/", "\\")
        if len(name) == 2 and name[1] == ":":
            name += "\\"
        return name[:1].upper() + name[1:] if len(name) >= 2 and name[1] == ":" else name

    def _volume_of(self, path: str, mounts: Sequence[Any]) -> str | None:
        """The mount point holding ``path`` (longest matching prefix)."""
        if self.windows:
            path = self._norm(ntpath.abspath(path) if ntpath.splitdrive(path)[0] else path)
        else:
            path = os.path.realpath(path)
        best: str | None = None
        for part in mounts:
            mount = self._norm(part.mountpoint)
            inside = (
                path.upper().startswith(mount.upper())
                if self.windows
                else (path == mount or path.startswith(mount.rstrip("/") + "/"))
            )
            if inside and (best is None or len(mount) > len(best)):
                best = mount
        return best

    def _is_target(self, device: str, mountpoint: str) -> bool:
        if self._norm(mountpoint) in self._targets or device in self._targets:
            return True
        # /dev/sdb1 and /dev/nvme0n1p2 live on the target disks /dev/sdb and /dev/nvme0n1.
        for disk in self._targets:
            rest = device[len(disk) :] if device.startswith(disk) else None
            if rest and (rest.isdigit() or (rest[0] == "p" and rest[1:].isdigit())):
                return True
        return False

    def reports(self) -> list[VolumeReport]:
        mounts = list(self._partitions())
        return [self._report(part, mounts) for part in mounts]

    def report(self, volume: str) -> VolumeReport:
        """The report for a mount point (Linux) or drive letter (Windows)."""
        mounts = list(self._partitions())
        wanted = self._norm(volume)
        for part in mounts:
            if (
                self._norm(part.mountpoint).upper() == wanted.upper()
                if self.windows
                else (self._norm(part.mountpoint) == wanted)
            ):
                return self._report(part, mounts)
        known = ", ".join(self._norm(p.mountpoint) for p in mounts) or "none"
        raise VolumeNotFound(f"no mounted volume at {volume}", remedy=f"choose one of: {known}")

    def require(self, volume: str) -> VolumeReport:
        """The report, or :class:`VolumeIneligible` listing every reason the volume is refused."""
        report = self.report(volume)
        if not report.eligible:
            raise VolumeIneligible(
                f"volume {report.mountpoint} cannot hold retention journals: " + "; ".join(report.reasons),
                reasons=report.reasons,
                remedy="choose another volume (see the reasons)",
            )
        return report

    def _report(self, part: Any, mounts: Sequence[Any]) -> VolumeReport:
        mount = self._norm(part.mountpoint)
        fstype = (part.fstype or "").lower()
        options = {o.strip().lower() for o in (part.opts or "").split(",")}
        supported = " or ".join(sorted(self._supported))
        reasons: list[str] = []
        agent_volumes = {self._volume_of(p, mounts) for p in self._agent_paths}
        if mount.upper() == self._os_volume.upper() if self.windows else mount in ("/", "/boot", "/boot/efi"):
            reasons.append(Refusal.OS_VOLUME.value)
        if mount in agent_volumes and mount.upper() != self._os_volume.upper():
            reasons.append(Refusal.AGENT_VOLUME.value)
        if self._is_target(part.device, mount):
            reasons.append(Refusal.REPLICATION_TARGET.value)
        if fstype in FAT:
            reasons.append(Refusal.FAT.value.format(supported=supported))
        elif fstype not in self._supported:
            reasons.append(Refusal.UNSUPPORTED_FS.value.format(fstype=fstype or "(none)", supported=supported))
        if "ro" in options:
            reasons.append(Refusal.READ_ONLY.value)
        capacity = free = 0
        try:
            usage = self._usage(part.mountpoint)
            capacity, free = int(usage.total), int(usage.free)
        except OSError as exc:
            reasons.append(Refusal.NO_USAGE.value.format(error=exc.strerror or exc))
        else:
            if capacity == 0:
                reasons.append(Refusal.ZERO_CAPACITY.value)
        return VolumeReport(mount, part.device, fstype, capacity, free, self.threshold_pct, tuple(reasons))
