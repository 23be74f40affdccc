"""The process server's Azure snapshot groups: one :class:`~agent.snapshots.SnapshotGroup` per protected VM, holding
every AZURE_SNAPSHOTS pair of that VM, so that one point holds an image of each of the VM's paired disks (a VM
restore point makes them consistent with each other).

A pair joins its VM's group when it is created or loaded, and leaves it when it is deleted; the last pair to leave
retires the group (every point of it is deleted in Azure). Groups keep their state under ``state_dir`` (one file
per group, named by the VM), so a restarted agent finds its points, and :meth:`SnapshotGroup.start` deletes what a
crash left behind. This module never logs or stores a credential.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from azure.core.credentials import TokenCredential

from agent.dataplane import RemoteHashes
from agent.replication._specs import AzureSourceSpec, SourcePairSpec
from agent.replication.errors import InvalidPair, PairConflict
from agent.snapshots import AzureConfig, AzureImages, SnapshotGroup, SnapshotPolicy, SnapshotSource
from agent.snapshots.errors import SnapshotError

__all__ = ["AzureAccess", "SnapshotFeed", "SnapshotGroups"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AzureAccess:
    """How this process server reaches Azure (agent.toml ``[azure]``): its identity, the SDK settings, and for lab
    endpoints only, a shorter floor for snapshot intervals than Azure's."""

    credential: TokenCredential
    config: AzureConfig
    min_interval: float | None = None


class _Vm:
    def __init__(self, group: SnapshotGroup, images: AzureImages, schedule: tuple[float, str, str | None]) -> None:
        self.group = group
        self.images = images
        self.schedule = schedule


class SnapshotGroups:
    """The groups of this agent; ``access`` None: the agent has no ``[azure]`` configuration (an AZURE_SNAPSHOTS
    pair is then refused)."""

    def __init__(self, access: AzureAccess | None, *, state_dir: str, clock: Callable[[], float] = time.time) -> None:
        self.access = access
        self._state_dir = state_dir
        self._clock = clock
        self._lock = threading.Lock()
        self._vms: dict[str, _Vm] = {}

    @property
    def min_interval(self) -> float | None:
        return self.access.min_interval if self.access is not None else None

    def check(self, spec: SourcePairSpec) -> AzureSourceSpec:
        """That ``spec`` may join its VM's group: this agent reaches Azure, and the pair agrees with the VM's other
        pairs on the schedule (a VM whose only pair is this one may change it)."""
        azure = spec.azure
        assert azure is not None
        if self.access is None:
            raise InvalidPair(
                f"pair {spec.pair_id}: this process server has no Azure identity",
                remedy="add an [azure] section to agent.toml (see docs/azure-snapshots.md) and restart the agent",
            )
        with self._lock:
            vm = self._vms.get(azure.vm_key)
            others = set(vm.group.pairs) - {spec.pair_id} if vm is not None else set()
            if vm is not None and others and vm.schedule != azure.schedule:
                interval, consistency, resource_group = vm.schedule
                raise PairConflict(
                    f"pair {spec.pair_id}: the pairs of VM {azure.vm_name} ({', '.join(sorted(others))}) take a point "
                    f"every {interval:g} s as {consistency} in resource group {resource_group or 'of the VM'}; "
                    "one VM's pairs share one schedule",
                    remedy="put this pair with the same interval, consistency and snapshot resource group",
                )
            disk = azure.disk_resource_id.lower()
            twins = sorted(p for p in others if vm is not None and vm.group.pairs[p].lower() == disk)
            if twins:
                raise PairConflict(
                    f"pair {spec.pair_id}: pair {twins[0]} already reads disk {azure.disk_resource_id} of VM "
                    f"{azure.vm_name}",
                    remedy="pair each managed disk once",
                )
        return azure

    def join(self, spec: SourcePairSpec) -> SnapshotGroup:
        """Add the pair to its VM's group (made on first use); returns the group."""
        azure = self.check(spec)
        assert self.access is not None
        with self._lock:
            vm = self._vms.get(azure.vm_key)
            if vm is not None and vm.schedule != azure.schedule:
                # The VM's only pair changes the schedule: the group is made again over the same state.
                self._close(azure.vm_key)
                vm = None
            if vm is None:
                images = AzureImages(self.access.credential, azure.subscription, config=self.access.config)
                policy = SnapshotPolicy(interval=azure.interval, mode=azure.mode, min_interval=self.access.min_interval)
                group = SnapshotGroup(
                    azure.group_id,
                    vm_resource_group=azure.vm_resource_group,
                    vm_name=azure.vm_name,
                    pairs={spec.pair_id: azure.disk_resource_id},
                    azure=images,
                    state_dir=self._state_dir,
                    policy=policy,
                    snapshot_resource_group=azure.snapshot_resource_group,
                    clock=self._clock,
                )
                self._vms[azure.vm_key] = _Vm(group, images, azure.schedule)
                return group
            vm.group.add_pair(spec.pair_id, azure.disk_resource_id)
            return vm.group

    def group(self, spec: SourcePairSpec) -> SnapshotGroup:
        """The group the pair joined."""
        assert spec.azure is not None
        with self._lock:
            vm = self._vms.get(spec.azure.vm_key)
        if vm is None or spec.pair_id not in vm.group.pairs:
            raise InvalidPair(f"pair {spec.pair_id} is in no snapshot group")
        return vm.group

    def leave(self, spec: SourcePairSpec) -> None:
        """The pair is deleted (or moves to another disk): delete its images; the last pair retires the group. Azure
        failures are logged, never raised: the pair goes anyway, and what is left carries the group's tag (a later
        group of the VM deletes it on start)."""
        assert spec.azure is not None
        key = spec.azure.vm_key
        with self._lock:
            vm = self._vms.get(key)
            if vm is None or spec.pair_id not in vm.group.pairs:
                return
            try:
                if len(vm.group.pairs) == 1:
                    deleted = vm.group.retire()
                    self._close(key)
                else:
                    deleted = vm.group.remove_pair(spec.pair_id)
            except SnapshotError as exc:
                log.error(
                    "pair %s: its snapshots in group %s could not all be deleted: %s",
                    spec.pair_id,
                    vm.group.group,
                    exc,
                )
                return
        if deleted:
            log.info("pair %s left group %s; deleted %s", spec.pair_id, vm.group.group, ", ".join(deleted))

    def _close(self, key: str) -> None:
        vm = self._vms.pop(key)
        vm.group.close()
        vm.images.close()

    def close(self) -> None:
        with self._lock:
            for key in list(self._vms):
                self._close(key)


class SnapshotFeed:
    """One AZURE_SNAPSHOTS pair's side of its group, for the pair's sender thread: the change source, what the
    master target acknowledged, when to look again, and the points to delete once acknowledged."""

    #: Longest and shortest pause of an idle pair: acknowledgements and a due point are noticed within the longest;
    #: the shortest keeps a pair whose next point waits for a lagging one from asking again at the sender's pace.
    IDLE, MIN_IDLE = 1.0, 0.2

    def __init__(self, group: SnapshotGroup, pair: str, disk_id: str, remote: RemoteHashes) -> None:
        self.group = group
        self.pair = pair
        self.disk_id = disk_id
        self.source = SnapshotSource(group, pair, remote=remote)
        self._untidy = threading.Event()
        # The acknowledged point and its image's time, kept here for status calls: the group's lock is held across
        # Azure calls (taking a point), which a status call must not wait for.
        self._point: tuple[str | None, float | None] = (None, None)
        self._note_point()

    def _note_point(self) -> None:
        rpo = self.source.rpo()
        self._point = (self.group.acknowledged_point(self.pair), None if rpo is None else self.group.clock() - rpo)

    def disk_size(self) -> int:
        """The managed disk's size, as Azure reports it (read once per group)."""
        return self.group.vm.disk(self.disk_id).size

    def acknowledged(self, cursor: int) -> None:
        self.source.acknowledged(cursor)
        self._note_point()
        self._untidy.set()  # the points it no longer needs are deleted by the sender thread, not the ack thread

    def idle(self) -> float:
        """After a pump that sent nothing: delete the points no pair needs (after an acknowledgement), then how long
        to wait before the next pump (the next point's due time, at most :attr:`IDLE`)."""
        if self._untidy.is_set():
            self._untidy.clear()
            deleted = self.group.tidy()
            if deleted:
                log.info("group %s: deleted %s", self.group.group, ", ".join(deleted))
        return min(max(self.group.next_due() - self.group.clock(), self.MIN_IDLE), self.IDLE)

    def acknowledged_point(self) -> tuple[str | None, float | None]:
        """The newest acknowledged point's name and its age in seconds (None, None before the first)."""
        name, taken = self._point
        return name, None if taken is None else max(self.group.clock() - taken, 0.0)
