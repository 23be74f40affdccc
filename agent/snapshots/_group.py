"""SnapshotGroup: the points in time of one protected VM, and each pair's cycles over them.

A *point* is an incremental snapshot of every paired disk of the VM (crash-consistent per disk) or a VM restore point
(consistent across the disks). A pair's *cycle* brings its target disk from one point (the base, or nothing known)
to the next; :class:`~agent.snapshots.SnapshotSource` streams it. The group decides when a point is due, takes it,
grants read access to its images, and deletes a point once no pair needs it any more: a point stays while it is a
pair's acknowledged point, the point or the base of a cycle not yet acknowledged, or the newest one (a lagging pair
will use it next). Deleting always revokes access first.

A pair's cursor is its cycle and the blocks sent of it (:mod:`agent.snapshots._cursor`).

Crash safety: a point's sequence number is made durable before the point is created, the point before a cycle
uses it, and the cycle before any entry of it is yielded. A point Azure created that the state never recorded
carries the group's tag and is deleted by :meth:`SnapshotGroup.start`, so a crash never leaves snapshots behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.dataplane import BandwidthLimiter
from agent.journal import IO
from agent.snapshots._azure import AzureImages, ImageRef, VmInfo
from agent.snapshots._config import PointMode, SnapshotPolicy
from agent.snapshots._cursor import DONE, split_cursor
from agent.snapshots._grant import ImageGrant
from agent.snapshots._reader import BlobSession, ImageReader, ReadStats
from agent.snapshots._state import CycleRecord, GroupState, PointRecord
from agent.snapshots.errors import InvalidConfig, SnapshotError

__all__ = ["TAG_GROUP", "TAG_PAIR", "TAG_POINT", "Cleanup", "Cycle", "SnapshotGroup"]

_log = logging.getLogger(__name__)

_GROUP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
TAG_GROUP, TAG_PAIR, TAG_POINT = "failback-group", "failback-pair", "failback-point"


@dataclass(frozen=True)
class Cycle:
    """Cycle ``number`` of a pair: from ``base`` (None: the target's content is unknown) to ``point``, in ``mode``
    ("diff", "scan", "full" or "full-empty"), resuming at ``position`` (see :mod:`agent.snapshots._cursor`)."""

    number: int
    point: PointRecord
    base: PointRecord | None
    mode: str
    position: int


@dataclass(frozen=True)
class Cleanup:
    """What :meth:`SnapshotGroup.start` found: images it deleted (orphans of a crash, points no pair needs) and
    recorded images that Azure no longer has."""

    deleted: tuple[str, ...]
    missing: tuple[str, ...]


def _short(text: str) -> str:
    return hashlib.blake2s(text.encode(), digest_size=3).hexdigest()


class SnapshotGroup:
    """The points of VM ``vm_resource_group``/``vm_name`` for ``pairs`` (pair id -> managed disk ARM id), taken by
    ``azure`` under ``policy`` into ``snapshot_resource_group`` (default: the VM's), with its state in
    ``state_dir``. ``group`` (letters, digits, ``_``, ``-``; at most 40) names it in tags and resource names and
    must be unique among the groups that share a resource group. Thread-safe: pairs may stream in parallel."""

    def __init__(
        self,
        group: str,
        *,
        vm_resource_group: str,
        vm_name: str,
        pairs: Mapping[str, str],
        azure: AzureImages,
        state_dir: str | os.PathLike[str],
        policy: SnapshotPolicy | None = None,
        snapshot_resource_group: str | None = None,
        clock: Callable[[], float] = time.time,
        io: IO | None = None,
    ) -> None:
        if _GROUP_ID.fullmatch(group) is None:
            raise InvalidConfig(f"group id {group!r} must be 1-40 letters, digits, '_' or '-', starting alphanumeric")
        if not pairs or any(not p or len(p) > 128 or not p.isprintable() for p in pairs):
            raise InvalidConfig("a group needs pairs, each named by 1-128 printable characters")
        if len({d.lower() for d in pairs.values()}) != len(pairs):
            raise InvalidConfig("two pairs of the group name the same disk")
        self.group = group
        self.policy = policy or SnapshotPolicy()
        self.azure = azure
        self.vm_resource_group = vm_resource_group
        self.vm_name = vm_name
        self.resource_group = snapshot_resource_group or vm_resource_group
        self.pairs = dict(pairs)
        self.clock = clock
        self.session = BlobSession(azure.config, threads=self.policy.read_threads)
        self._state = GroupState(Path(state_dir) / f"snapshots-{group}.json", group, io=io)
        self._lock = threading.RLock()
        self._grants: dict[tuple[int, str], ImageGrant] = {}
        self._vm: VmInfo | None = None
        self._started = False

    @property
    def collection(self) -> str:
        return f"fb-{self.group}"

    @property
    def vm(self) -> VmInfo:
        return self._load_vm()

    def _load_vm(self) -> VmInfo:
        """The VM and its disks, read once; every pair's disk must be one of them (:class:`UnknownDisk`)."""
        if self._vm is None:
            vm = self.azure.vm(self.vm_resource_group, self.vm_name)
            for disk_id in self.pairs.values():
                vm.disk(disk_id)
            self._vm = vm
        return self._vm

    # -- start and cleanup -------------------------------------------------------------------------------------

    def start(self) -> Cleanup:
        """Check the VM's disks, delete every image of this group that the state does not know (left by a crash),
        forget recorded images Azure no longer has, and delete the points no pair needs. Idempotent."""
        with self._lock:
            self._load_vm()  # a pair naming a disk the VM lacks stops here, before anything is deleted
            deleted, present, points = self._delete_orphans()
            missing = self._forget_missing(present, points)
            deleted += self._collect()
            self._state.save()
            self._started = True
            if deleted or missing:
                _log.info("group %s: deleted %s; gone from Azure: %s", self.group, deleted, missing)
            return Cleanup(tuple(deleted), tuple(missing))

    def _delete_orphans(self) -> tuple[list[str], set[str], set[str]]:
        """Delete the group's tagged snapshots and its restore points that the state does not record; returns what
        was deleted and the snapshot and restore point names still in Azure. Each kind is looked for when the
        policy uses it or the state holds one (the identity may hold only its mode's actions)."""
        deleted: list[str] = []
        restore_mode = self.policy.mode is not PointMode.SNAPSHOTS
        recorded = {p.restore_point[2].lower() for p in self._state.points.values() if p.restore_point}
        known = {i.name.lower() for p in self._state.points.values() if not p.restore_point for i in p.images.values()}
        present: set[str] = set()
        if not restore_mode or known:
            present = {n.lower() for n in self.azure.tagged_snapshots(self.resource_group, TAG_GROUP, self.group)}
            for name in sorted(present - known):
                self.azure.revoke(ImageRef("snapshot", self.resource_group, name))
                self.azure.delete_snapshot(self.resource_group, name)
                deleted.append(f"snapshot {name}")
        points: set[str] = set()
        if restore_mode or recorded:
            points = {n.lower() for n in self.azure.restore_points(self.resource_group, self.collection)}
            for name in sorted(points - recorded):
                self._delete_restore_point(name)
                deleted.append(f"restore point {name}")
        return deleted, present & known, points & recorded

    def _forget_missing(self, snapshots: set[str], restore_points: set[str]) -> list[str]:
        """Drop from the state the images Azure no longer has (deleted behind our back while we were down)."""
        missing: list[str] = []
        for seq, point in sorted(self._state.points.items()):
            if point.restore_point is not None:
                if point.restore_point[2].lower() not in restore_points:
                    missing.append(point.name)
                    del self._state.points[seq]
                continue
            for pair, image in list(point.images.items()):
                if image.name.lower() not in snapshots:
                    missing.append(str(image))
                    del point.images[pair]
            if not point.images:
                del self._state.points[seq]
        return missing

    def _delete_restore_point(self, name: str) -> None:
        for image in self.azure.restore_point_images(self.resource_group, self.collection, name):
            self.azure.revoke(image)
        self.azure.delete_restore_point(self.resource_group, self.collection, name)

    def _referenced(self) -> set[int]:
        refs: set[int] = set()
        for record in self._state.pairs.values():
            if record.acked_point is not None:
                refs.add(record.acked_point)
            for number, cycle in record.cycles.items():
                if number >= record.acked_cycle:
                    refs.add(cycle.point)
                if number > record.acked_cycle and cycle.base is not None:
                    refs.add(cycle.base)
        if self._state.points:
            refs.add(max(self._state.points))
        return refs

    def _collect(self) -> list[str]:
        """Revoke and delete the points no pair needs, and what failed points left behind; the state forgets each
        one as soon as it is gone."""
        if self._state.doomed:
            self._delete_doomed()
        deleted: list[str] = []
        for seq in sorted(set(self._state.points) - self._referenced()):
            point = self._state.points[seq]
            self._delete_point(point)
            for pair in point.images:
                self._grants.pop((seq, pair), None)
            del self._state.points[seq]
            self._state.save()
            deleted.append(point.name)
        return deleted

    def _delete_point(self, point: PointRecord) -> None:
        """Revoke every read grant of the point, then delete it."""
        if point.restore_point is not None:
            self._delete_restore_point(point.restore_point[2])
            return
        for image in point.images.values():
            self.azure.revoke(image)
            self.azure.delete_snapshot(image.resource_group, image.name)

    def tidy(self) -> list[str]:
        """Delete the points no pair needs any more (after acknowledgements; a cycle's start does it too); returns
        their names."""
        with self._lock:
            return self._collect()

    def retire(self) -> list[str]:
        """Delete every point of the group (the VM is no longer protected), and its restore point collection when
        it has one; the state forgets every pair."""
        with self._lock:
            self._state.pairs.clear()
            names = []
            collections = any(p.restore_point for p in self._state.points.values())
            for seq, point in sorted(self._state.points.items()):
                self._delete_point(point)
                names.append(point.name)
                del self._state.points[seq]
                self._state.save()
            self._grants.clear()
            self._delete_doomed()
            if collections or self.policy.mode is not PointMode.SNAPSHOTS:
                self.azure.delete_collection(self.resource_group, self.collection)
            return names

    def close(self) -> None:
        self.session.close()

    # -- schedule ----------------------------------------------------------------------------------------------

    def next_due(self) -> float:
        """When (this host's clock) the next point may be taken. It stays in the past while ``max_points`` are held
        by a lagging pair (the pump then finds nothing to send): poll no faster than the sender's idle interval."""
        with self._lock:
            if not self._state.points:
                return self.clock()
            return max(p.taken_at for p in self._state.points.values()) + self.policy.interval

    def rpo(self, pair: str, now: float | None = None) -> float | None:
        """Age of the pair's newest acknowledged point (None before the first acknowledgement)."""
        with self._lock:
            record = self._state.pairs.get(pair)
            if record is None or record.acked_image_time is None:
                return None
            return (self.clock() if now is None else now) - record.acked_image_time

    def worst_rpo(self, pair: str) -> float | None:
        """The oldest the pair's acknowledged point ever got before the next one was acknowledged."""
        with self._lock:
            record = self._state.pairs.get(pair)
            return None if record is None else record.worst_rpo

    def points(self) -> list[PointRecord]:
        with self._lock:
            return [self._state.points[s] for s in sorted(self._state.points)]

    # -- taking points -----------------------------------------------------------------------------------------

    def _take(self) -> PointRecord:
        now = self.clock()
        seq = self._state.next_seq
        self._state.next_seq += 1
        self._state.save()  # a sequence number is never used twice, even after a crash
        name = f"fb-{self.group}-{seq:08d}"
        tags = {TAG_GROUP: self.group, TAG_POINT: str(seq)}
        vm = self.vm
        sizes = {pair: vm.disk(disk).size for pair, disk in self.pairs.items()}
        if self.policy.mode is PointMode.SNAPSHOTS:
            images: dict[str, ImageRef] = {}
            times: dict[str, float] = {}
            try:
                for pair in sorted(self.pairs):
                    image, created = self.azure.create_snapshot(
                        self.resource_group,
                        f"{name}-{_short(pair)}",
                        vm.disk(self.pairs[pair]),
                        vm.location,
                        tags | {TAG_PAIR: pair},
                    )
                    images[pair], times[pair] = image, created
            except BaseException:
                # Any of them may exist (a create whose answer was lost counts): none may stay behind.
                self._doom([("snapshot", f"{name}-{_short(pair)}") for pair in sorted(self.pairs)])
                raise
            record = PointRecord(seq, name, now, PointMode.SNAPSHOTS.value, images, times, sizes)
        else:
            try:
                by_disk, created = self.azure.create_restore_point(
                    self.resource_group,
                    self.collection,
                    name,
                    vm,
                    self.policy.mode.value,
                    [vm.disk(d) for d in self.pairs.values()],
                    tags,
                )
            except BaseException:
                self._doom([("restore-point", name)])
                raise
            images = {pair: by_disk[disk.lower()] for pair, disk in self.pairs.items()}
            times = dict.fromkeys(self.pairs, created)
            record = PointRecord(
                seq,
                name,
                now,
                self.policy.mode.value,
                images,
                times,
                sizes,
                (self.resource_group, self.collection, name),
            )
        self._state.points[seq] = record
        self._state.save()
        _log.info("group %s: took point %s", self.group, name)
        return record

    def _doom(self, images: list[tuple[str, str]]) -> None:
        """Record images a failed point may have left in Azure, then try to delete them now."""
        self._state.doomed += [i for i in images if i not in self._state.doomed]
        self._state.save()
        self._delete_doomed()

    def _delete_doomed(self) -> None:
        """Delete the recorded leftovers of failed points; those Azure refuses now are tried again next time."""
        for kind, name in list(self._state.doomed):
            try:
                if kind == "snapshot":
                    self.azure.revoke(ImageRef("snapshot", self.resource_group, name))
                    self.azure.delete_snapshot(self.resource_group, name)
                else:
                    self._delete_restore_point(name)
            except SnapshotError as exc:
                _log.warning("group %s: the leftover %s %s stays until the next try: %s", self.group, kind, name, exc)
                continue
            self._state.doomed.remove((kind, name))
            self._state.save()

    def _point_for(self, pair: str, after: int, *, force: bool) -> PointRecord | None:
        """The newest point with an image of ``pair`` newer than ``after``; a new one when none is and one is due
        (or ``force``), unless ``max_points`` are kept already."""
        newest = max(self._state.points, default=0)
        if newest > after and pair in self._state.points[newest].images:
            return self._state.points[newest]
        if not force and self._state.points and self.clock() < self.next_due():
            return None
        if len(self._state.points) >= self.policy.max_points:
            self._collect()
            if len(self._state.points) >= self.policy.max_points:
                _log.warning(
                    "group %s: %d points kept, the limit; pair %s waits for lagging pairs",
                    self.group,
                    len(self._state.points),
                    pair,
                )
                return None
        return self._take()

    # -- cycles ------------------------------------------------------------------------------------------------

    def begin(self, pair: str, cursor: int, *, can_scan: bool, target_empty: bool) -> Cycle | None:
        """The cycle ``pair`` continues or starts at ``cursor``; None when nothing is due yet."""
        with self._lock:
            if not self._started:
                self.start()
            self._collect()
            number, position = split_cursor(cursor)
            record = self._state.pair(pair)
            cycle = record.cycles.get(number) if cursor else None
            if cycle is not None and position != DONE:
                point = self._state.points.get(cycle.point)
                base = self._state.points.get(cycle.base) if cycle.base is not None else None
                if point is None or pair not in point.images:
                    return self._new(pair, number + 1, base, can_scan, target_empty, force=True, after=cycle.point)
                if (cycle.base is not None and base is None) or (cycle.mode == "scan" and not can_scan):
                    return self._record(pair, number + 1, point, None, can_scan, target_empty)
                return Cycle(number, point, base, cycle.mode, position)
            if cycle is not None:
                if not cycle.done:
                    cycle.done = True  # the sender resumes after its bookmark: the bookmark is in the backlog
                    self._state.save()
                last = self._state.points.get(cycle.point)
                base = last if last is not None and pair in last.images else None
                ahead = record.cycles.get(number + 1)
                if ahead is not None and ahead.base == cycle.point and base is not None:
                    point = self._state.points.get(ahead.point)
                    if point is not None and pair in point.images and (ahead.mode != "scan" or can_scan):
                        return Cycle(number + 1, point, base, ahead.mode, 0)  # recorded, nothing of it sent
                return self._new(pair, number + 1, base, can_scan, target_empty, force=False, after=cycle.point)
            if cursor:
                _log.warning(
                    "group %s: pair %s resumes at cycle %d the state does not know; resyncing", self.group, pair, number
                )
            return self._new(
                pair, max(number, record.last_cycle) + 1, None, can_scan, target_empty, force=False, after=0
            )

    def _new(
        self,
        pair: str,
        number: int,
        base: PointRecord | None,
        can_scan: bool,
        target_empty: bool,
        *,
        force: bool,
        after: int,
    ) -> Cycle | None:
        point = self._point_for(pair, max(after, base.seq if base else 0), force=force)
        if point is None:
            return None
        return self._record(pair, number, point, base, can_scan, target_empty)

    def _record(
        self, pair: str, number: int, point: PointRecord, base: PointRecord | None, can_scan: bool, target_empty: bool
    ) -> Cycle:
        if base is not None:
            mode = "diff"
        elif can_scan:
            mode = "scan"
        else:
            mode = "full-empty" if target_empty else "full"
        record = self._state.pair(pair)
        record.cycles = {n: c for n, c in record.cycles.items() if record.acked_cycle <= n < number}
        record.cycles[number] = CycleRecord(point.seq, base.seq if base else None, mode)
        self._state.save()
        return Cycle(number, point, base, mode, 0)

    def image_gone(self, pair: str, cycle: Cycle, *, can_scan: bool, target_empty: bool) -> Cycle | None:
        """The cycle's point lost the pair's image: forget it and start the next cycle from the same base on a new
        point (taken now, out of schedule)."""
        with self._lock:
            point = self._state.points.get(cycle.point.seq)
            if point is not None:
                if point.restore_point is not None:
                    del self._state.points[point.seq]
                else:
                    point.images.pop(pair, None)
                    if not point.images:
                        del self._state.points[point.seq]
                self._grants.pop((cycle.point.seq, pair), None)
                self._state.save()
            base = self._state.points.get(cycle.base.seq) if cycle.base else None
            _log.warning("group %s: pair %s lost %s; taking a new point", self.group, pair, cycle.point.name)
            return self._new(pair, cycle.number + 1, base, can_scan, target_empty, force=True, after=cycle.point.seq)

    def base_unusable(self, pair: str, cycle: Cycle, *, can_scan: bool, target_empty: bool) -> Cycle:
        """Azure cannot diff against the cycle's base: send the point again as a resync (next cycle number)."""
        with self._lock:
            _log.warning("group %s: pair %s cannot diff against %s; resyncing", self.group, pair, cycle.base)
            return self._record(pair, cycle.number + 1, cycle.point, None, can_scan, target_empty)

    def acknowledged(self, pair: str, cursor: int) -> None:
        """The master target made everything up to ``cursor`` durable. The newest cycle whose bookmark that covers
        (the cursor's own cycle at its bookmark, or an earlier finished one: acknowledgements may skip batches)
        becomes the pair's acknowledged point; older points go at the next :meth:`tidy`."""
        number, position = split_cursor(cursor)
        with self._lock:
            record = self._state.pair(pair)
            covered = [
                n
                for n, c in record.cycles.items()
                if n > record.acked_cycle and ((n < number and c.done) or (n == number and position == DONE))
            ]
            if not covered:
                return
            acked = max(covered)
            cycle = record.cycles[acked]
            point = self._state.points.get(cycle.point)
            now = self.clock()
            image_time = point.times.get(pair) if point is not None else None
            if record.acked_image_time is not None:
                sample = now - record.acked_image_time
                record.worst_rpo = sample if record.worst_rpo is None else max(record.worst_rpo, sample)
            record.acked_cycle, record.acked_point = acked, cycle.point
            record.acked_image_time, record.acked_at = image_time, now
            record.cycles = {n: c for n, c in record.cycles.items() if n >= acked}
            self._state.save()

    # -- reading -----------------------------------------------------------------------------------------------

    def grant(self, point: PointRecord, pair: str) -> ImageGrant:
        with self._lock:
            key = (point.seq, pair)
            if key not in self._grants:
                self._grants[key] = ImageGrant(self.azure, point.images[pair], self.policy.sas_seconds, self.clock)
            return self._grants[key]

    def reader(
        self, point: PointRecord, pair: str, stats: ReadStats, limiter: BandwidthLimiter | None = None
    ) -> ImageReader:
        return ImageReader(
            self.session,
            self.grant(point, pair),
            point.sizes[pair],
            policy=self.azure.config.call_policy,
            pair=pair,
            limiter=limiter,
            stats=stats,
            list_segment=self.policy.list_segment,
        )
