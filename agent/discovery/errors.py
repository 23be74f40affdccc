"""Errors raised by disk discovery.

::

    DiscoveryError                 every discovery error; catch this to catch them all
    ├── EnableUUIDMissing          (permanent) a VMware disk shows no SCSI page-83 id: the master target VM lacks
    │                              disk.EnableUUID = TRUE; names the fix
    ├── DuplicateDiskId            (permanent) two devices report the same id (multipath, template-cloned VMDKs);
    │                              names both
    ├── DiskNotFound               (temporary) a requested id is not attached (yet); lists the ids that were seen
    ├── DiskRefused                (permanent) the disk exists but must not become a replication target
    │   ├── ProtectedDisk          it holds the OS, the agent's install or a retention volume
    │   ├── DiskInUse              it (or a partition) is mounted, swapped on, held by dm/md/LVM or opened exclusively
    │   └── DiskNotWritable        the guest sees it read-only
    ├── RescanBusy                 (temporary) another process holds the rescan lock
    ├── SourceError                (permanent) sysfs, udev or PowerShell gave something we cannot read
    └── CommandFailed              (permanent) a platform command (PowerShell) failed; carries its stderr

Each class derives from :class:`failback.errors.TemporaryError` or :class:`failback.errors.PermanentError`, so a job
loop can decide between "requeue" and "report" without knowing this component. OSError and third-party errors are
translated where they happen, with ``raise ... from exc``. A value that is no disk id at all raises
:class:`failback.diskid.InvalidDiskId` (permanent), from the normalising function shared with the controller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from failback.errors import FailbackError, PermanentError, TemporaryError

__all__ = [
    "CommandFailed",
    "DiscoveryError",
    "DiskInUse",
    "DiskNotFound",
    "DiskNotWritable",
    "DiskRefused",
    "DuplicateDiskId",
    "EnableUUIDMissing",
    "ProtectedDisk",
    "RescanBusy",
    "SourceError",
]

ENABLE_UUID_REMEDY = (
    "power off the master target VM, add the advanced setting disk.EnableUUID = TRUE "
    "(Edit Settings > VM Options > Advanced > Configuration Parameters), then power it on"
)


class DiscoveryError(FailbackError):
    """Base of every error raised by ``agent.discovery``."""


class EnableUUIDMissing(DiscoveryError, PermanentError):
    """VMware disks without a page-83 id: matching a VMDK to a guest device would be a guess, and we never guess."""

    def __init__(self, devices: Sequence[str]) -> None:
        super().__init__(
            f"VMware disk(s) {', '.join(devices)} show no SCSI page-83 identifier, so the VMDK UUID cannot be "
            "matched to a guest device; the master target VM does not have disk.EnableUUID = TRUE",
            remedy=ENABLE_UUID_REMEDY,
        )
        self.devices = tuple(devices)


class DuplicateDiskId(DiscoveryError, PermanentError):
    """Two or more devices report the same id; writing to either could be writing to the wrong disk."""

    def __init__(self, disk_id: str, devices: Sequence[str], *, remedy: str) -> None:
        super().__init__(f"disk id {disk_id} is reported by more than one device: {', '.join(devices)}", remedy=remedy)
        self.disk_id = disk_id
        self.devices = tuple(devices)


class DiskNotFound(DiscoveryError, TemporaryError):
    """The requested id is not among the attached disks; ``seen`` lists the ids that were."""

    def __init__(self, missing: Iterable[str], seen: Iterable[str], *, after: str = "") -> None:
        missing_t, seen_t = tuple(missing), tuple(sorted(seen))
        where = f" {after}" if after else ""
        seen_text = ", ".join(seen_t) if seen_t else "none"
        super().__init__(
            f"disk id(s) {', '.join(missing_t)} not found{where}; ids seen: {seen_text}",
            remedy="check that the controller attached the VMDK to this master target and that the id is the VMDK's "
            "backing UUID",
        )
        self.missing = missing_t
        self.seen = seen_t


class DiskRefused(DiscoveryError, PermanentError):
    """The disk exists but must not be used as a replication target in its current state."""


class ProtectedDisk(DiskRefused):
    """The disk holds the operating system, the agent's install or a retention volume."""


class DiskInUse(DiskRefused):
    """The disk or one of its partitions is in use by this guest."""


class DiskNotWritable(DiskRefused):
    """The guest sees the disk as read-only."""


class RescanBusy(DiscoveryError, TemporaryError):
    """Another process is rescanning or removing disks; rescans are serialised by a lock file."""


class SourceError(DiscoveryError, PermanentError):
    """A discovery source (sysfs, udev, PowerShell output) could not be read or parsed."""


class CommandFailed(DiscoveryError, PermanentError):
    """A platform command exited with an error."""

    def __init__(self, what: str, returncode: int | None, stderr: str) -> None:
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else "no error output"
        code = "timed out" if returncode is None else f"exit code {returncode}"
        super().__init__(f"{what} failed ({code}): {detail}")
        self.returncode = returncode
        self.stderr = stderr
