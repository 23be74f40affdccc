"""The discovery API both platforms implement, and the parts of it that do not depend on the platform.

The server layer (gRPC) calls these methods; their docstrings are the contract. Every method takes and returns
normalised disk ids (``naa.6000c29...``), never device paths, so nothing outside this package holds a ``/dev/sdX``
or a Windows disk number across calls.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from pathlib import Path

from agent.discovery._inventory import AttachCapacity, Inventory
from agent.discovery._lock import host_lock
from agent.discovery._model import Disk
from agent.discovery.errors import (
    DiskInUse,
    DiskNotFound,
    DiskNotWritable,
    ProtectedDisk,
)
from failback.diskid import normalize_disk_id
from failback.errors import DeadlineExceeded
from failback.retry import Policy

__all__ = ["DEFAULT_LOCK_POLICY", "DEFAULT_REMOVAL_POLICY", "DEFAULT_RESCAN_POLICY", "DiskDiscovery"]

DEFAULT_RESCAN_POLICY = Policy(deadline=120.0, initial=0.25, maximum=5.0, jitter=0.1)
"""A hot-added VMDK normally shows up within seconds; two minutes covers a busy host without hanging a job."""
DEFAULT_LOCK_POLICY = Policy(deadline=60.0, initial=0.1, maximum=2.0, jitter=0.1)
DEFAULT_REMOVAL_POLICY = Policy(deadline=30.0, initial=0.1, maximum=2.0, jitter=0.1)


class DiskDiscovery(abc.ABC):
    """Finds which guest disk is which VMDK, and readies disks for replication. One instance per host."""

    platform: str

    def __init__(
        self,
        *,
        lock_path: Path,
        rescan_policy: Policy = DEFAULT_RESCAN_POLICY,
        lock_policy: Policy = DEFAULT_LOCK_POLICY,
        removal_policy: Policy = DEFAULT_REMOVAL_POLICY,
    ) -> None:
        self.lock_path = lock_path
        self.rescan_policy = rescan_policy
        self.lock_policy = lock_policy
        self.removal_policy = removal_policy

    @abc.abstractmethod
    def list_disks(self) -> Inventory:
        """Every whole disk the guest sees now, with ids, roles and state. Never raises for a disk's problems
        (no id, duplicates): those are reported by :meth:`Inventory.problems` and refused by :meth:`resolve`."""

    @abc.abstractmethod
    def _trigger_rescan(self) -> None:
        """Ask the OS to look for new disks (the caller holds the host lock)."""

    @abc.abstractmethod
    def prepare(self, disk_id: str) -> Disk:
        """Make the disk with this id ready to receive replicated blocks, or refuse.

        Refuses (:class:`~agent.discovery.errors.DiskRefused`) a disk that holds the OS, the agent's install or a
        retention volume, that is mounted or held, or that the guest sees read-only. Linux also proves that nothing
        else has the device open exclusively; Windows brings the disk online and writable for raw access. Returns
        the fresh record, whose ``path`` is what the data plane opens.
        """

    @abc.abstractmethod
    def release(self, disk_id: str) -> Disk:
        """Stop using the disk for replication: flush it (Linux) or take it offline and read-only (Windows)."""

    @abc.abstractmethod
    def remove_for_detach(self, disk_id: str) -> Disk:
        """Before the controller detaches the VMDK: flush and remove the device cleanly, so the guest keeps no stale
        handle (Linux: ``device/delete``; Windows: offline). Returns the record as it was before removal."""

    def resolve(self, disk_id: str) -> Disk:
        """The one attached disk with this id (any spelling :func:`normalize_disk_id` accepts).

        Raises InvalidDiskId, DuplicateDiskId (names both devices), EnableUUIDMissing (names the fix) or
        DiskNotFound (lists the ids seen). Does not rescan; see :meth:`rescan`.
        """
        return self.list_disks().find(disk_id)

    def capacity(self) -> AttachCapacity:
        """vSphere SCSI controllers in use, disks on them, and room left under the 60-disk (4 x 15) limit."""
        return self.list_disks().capacity()

    def rescan(self, expected_ids: Iterable[str] = ()) -> Inventory:
        """Rescan for disks, then wait until every expected id is attached exactly once.

        Ids are validated before anything is touched. The rescan runs under the host lock. Waiting follows
        ``rescan_policy``; past its deadline a DiskNotFound lists the ids that were seen. Duplicates and missing
        disk.EnableUUID fail at once: waiting cannot fix them.
        """
        wanted = [normalize_disk_id(disk_id) for disk_id in expected_ids]
        with host_lock(self.lock_path, self.lock_policy):
            self._trigger_rescan()
            if not wanted:
                return self.list_disks()
            return self._wait_for(wanted)

    def _wait_for(self, wanted: list[str]) -> Inventory:
        seen: list[str] = []

        def probe() -> Inventory:
            inventory = self.list_disks()
            seen[:] = inventory.ids()
            for disk_id in wanted:
                # DiskNotFound is temporary (try again); duplicates and EnableUUIDMissing are permanent (stop).
                inventory.find(disk_id)
            return inventory

        try:
            return self.rescan_policy.wait_for(probe, what=f"disk id(s) {', '.join(wanted)}")
        except DeadlineExceeded as exc:
            missing = [disk_id for disk_id in wanted if disk_id not in seen]
            raise DiskNotFound(
                missing, seen, after=f"after a rescan and {self.rescan_policy.deadline:g} s of waiting"
            ) from exc

    def _check_target(self, disk: Disk) -> None:
        """Refuse a disk that must not receive replicated blocks."""
        label = f"{disk.path} ({disk.disk_id})"
        if disk.protected:
            roles = ", ".join(sorted(role.value for role in disk.roles))
            raise ProtectedDisk(f"{label} holds {roles}; it is never offered as a replication target")
        if disk.in_use:
            users = ", ".join([*disk.mountpoints, *disk.holders])
            raise DiskInUse(
                f"{label} is in use: {users}", remedy="unmount it and remove LVM/MD/multipath on it, then retry"
            )
        if disk.read_only:
            raise DiskNotWritable(
                f"{label} is read-only in the guest",
                remedy="check that the VMDK is attached writable (not independent-nonpersistent) and the datastore "
                "is writable",
            )
