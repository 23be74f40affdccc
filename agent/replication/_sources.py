"""The process server's pair registry: create, update and delete pairs for the controller, persist them, and start
every pair's sender when the agent starts. All pairs share one encoder pool and one bandwidth limiter (fair by bytes,
changeable at run time).

A reprotect pair (SCAN_THEN_CHANGE_LOG) records the change log's durable position when its generation is created:
everything written before it is on the disk the resync pass reads, everything after it is replayed from the log.
An agentless pair (AZURE_SNAPSHOTS) joins its VM's snapshot group (:mod:`agent.replication._groups`) before it starts
and leaves it when it is deleted.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable

from agent.dataplane import BandwidthLimiter, BatchEncoder, read_durable
from agent.journal import IO
from agent.replication._groups import SnapshotGroups
from agent.replication._source import Connector, SenderOptions, SourcePair, SourceState
from agent.replication._specs import SourceKind, SourcePairSpec, check_pair_id
from agent.replication._store import PairStore
from agent.replication.errors import InvalidPair, PairConflict, PairNotFound
from agent.snapshots.errors import SnapshotError

__all__ = ["SourceRegistry"]

log = logging.getLogger(__name__)


class SourceRegistry:
    """Every pair of this process server; send state lives under ``work_root/<pair_id>/g<generation>``. ``groups``
    holds the snapshot groups of AZURE_SNAPSHOTS pairs (without one, such pairs are refused)."""

    def __init__(
        self,
        store: PairStore,
        *,
        work_root: str,
        connector: Connector,
        options: SenderOptions | None = None,
        bandwidth: int | None = None,
        encode_threads: int = 2,
        groups: SnapshotGroups | None = None,
        clock: Callable[[], float] = time.time,
        io: IO | None = None,
    ) -> None:
        self._store = store
        self._groups = groups or SnapshotGroups(None, state_dir=work_root)
        self._work_root = work_root
        self._connector = connector
        self._options = options or SenderOptions()
        self.limiter = BandwidthLimiter(bandwidth)
        self._encoder = BatchEncoder(threads=encode_threads)
        self._clock = clock
        self._io = io
        self._lock = threading.RLock()
        self._store_lock = threading.Lock()
        self._pairs: dict[str, SourcePair] = {}
        self.problems: list[str] = []

    def start(self) -> None:
        records, self.problems = self._store.load()
        loaded: list[tuple[SourcePairSpec, int, int | None]] = []
        for pair_id, record in records.items():
            try:
                spec = SourcePairSpec.from_dict(record["spec"], min_interval=self._groups.min_interval)
                log_start = int(record["log_start"])
                resync_end = record.get("resync_end")
                if resync_end is not None:
                    resync_end = int(resync_end)
                if spec.azure is not None:
                    # Every pair of a VM joins before any starts: the group's first point holds all its disks.
                    self._groups.join(spec)
            except (InvalidPair, PairConflict, KeyError, TypeError, ValueError) as exc:
                self.problems.append(f"pair record {pair_id} is invalid: {exc}")
                continue
            except SnapshotError as exc:  # the group's state file is damaged, or the group cannot be made
                self.problems.append(f"pair {pair_id} cannot join its VM's snapshot group: {exc}")
                continue
            loaded.append((spec, log_start, resync_end))
        for spec, log_start, resync_end in loaded:
            self._start(spec, log_start, resync_end)
        for problem in self.problems:
            log.error("%s", problem)

    def _start(self, spec: SourcePairSpec, log_start: int, resync_end: int | None = None) -> SourcePair:
        pair = SourcePair(
            spec,
            log_start=log_start,
            resync_end=resync_end,
            on_resync_end=lambda end: self._resync_ended(spec.pair_id, end),
            work_dir=os.path.join(self._work_root, spec.pair_id),
            connector=self._connector,
            encoder=self._encoder,
            limiter=self.limiter,
            options=self._options,
            snapshots=self._groups.group(spec) if spec.azure is not None else None,
            clock=self._clock,
        )
        with self._lock:
            self._pairs[spec.pair_id] = pair
        pair.start()
        return pair

    # -- the controller's operations ------------------------------------------------------------------------------

    def put(self, spec: SourcePairSpec) -> SourcePair:
        spec.check(min_interval=self._groups.min_interval)
        with self._lock:
            pair = self._pairs.get(spec.pair_id)
            if pair is None:
                return self._create(spec)
            held = pair.spec
            if spec.generation < held.generation:
                raise PairConflict(
                    f"pair {spec.pair_id} is at generation {held.generation}; generation {spec.generation} is stale",
                    remedy="put the pair with its current or a higher generation",
                )
            if spec.generation > held.generation:
                if spec.azure is not None:
                    self._groups.check(spec)
                pair.stop()
                if held.azure is not None and (spec.azure is None or _disk(spec) != _disk(held)):
                    self._groups.leave(held)
                shutil.rmtree(os.path.join(self._work_root, spec.pair_id), ignore_errors=True)
                return self._create(spec)
            if _source_of(spec) != _source_of(held):
                raise PairConflict(
                    f"pair {spec.pair_id} generation {held.generation} reads {held.source}; another source "
                    "needs a new generation",
                    remedy="raise the generation to resync the pair from the new source",
                )
            failed = pair.status().state is SourceState.FAILED
            if spec == held and not failed:
                return pair
            rejoin = spec.azure is not None and held.azure is not None and spec.azure != held.azure
            if rejoin:
                self._groups.check(spec)
            self._record(spec, pair.log_start, pair.resync_end)
            if rejoin:
                pair.stop()
                self._groups.join(spec)
                return self._start(spec, pair.log_start, pair.resync_end)
            if spec.master_target_address != held.master_target_address or failed:
                pair.stop()
                return self._start(spec, pair.log_start, pair.resync_end)
            pair.spec = spec
            pair.set_bandwidth(spec.bandwidth)
            return pair

    def _resync_ended(self, pair_id: str, end: int) -> None:
        # Called from the pair's own threads: never take the registry lock here (put() holds it while it stops
        # the pair and waits for those threads).
        pair = self._pairs.get(pair_id)
        if pair is not None:
            self._record(pair.spec, pair.log_start, end)

    def _record(self, spec: SourcePairSpec, log_start: int, resync_end: int | None) -> None:
        with self._store_lock:
            self._store.save(spec.pair_id, {"spec": spec.to_dict(), "log_start": log_start, "resync_end": resync_end})

    def _create(self, spec: SourcePairSpec) -> SourcePair:
        log_start = 0
        if spec.azure is not None:
            self._groups.join(spec)
        elif spec.kind is SourceKind.SCAN_THEN_CHANGE_LOG:
            assert spec.change_log_dir is not None
            if not os.path.isdir(spec.change_log_dir):
                raise InvalidPair(
                    f"pair {spec.pair_id}: there is no change log at {spec.change_log_dir}",
                    remedy="start the source's write tracker before the pair",
                )
            log_start = read_durable(spec.change_log_dir)
        if spec.azure is None and not os.path.exists(spec.source_path):
            raise InvalidPair(f"pair {spec.pair_id}: the source disk {spec.source_path} does not exist")
        self._record(spec, log_start, None)
        log.info(
            "pair %s generation %d: %s from %s to %s (%s)",
            spec.pair_id,
            spec.generation,
            spec.kind.name,
            spec.source,
            spec.master_target_name,
            spec.master_target_address,
        )
        return self._start(spec, log_start)

    def delete(self, pair_id: str) -> None:
        check_pair_id(pair_id)
        with self._lock:
            pair = self._pairs.pop(pair_id, None)
            if pair is None:
                raise PairNotFound(f"there is no pair {pair_id} on this process server")
            pair.stop()
            if pair.spec.azure is not None:
                self._groups.leave(pair.spec)
            self._store.delete(pair_id)
            shutil.rmtree(os.path.join(self._work_root, pair_id), ignore_errors=True)
            self.limiter.forget(pair_id)
        log.info("pair %s deleted", pair_id)

    def get(self, pair_id: str) -> SourcePair:
        with self._lock:
            pair = self._pairs.get(pair_id)
        if pair is None:
            raise PairNotFound(f"there is no pair {pair_id!r} on this process server", remedy="list the pairs")
        return pair

    def pairs(self) -> list[SourcePair]:
        with self._lock:
            return [self._pairs[key] for key in sorted(self._pairs)]

    def set_bandwidth(self, rate: int | None) -> None:
        self.limiter.set_rate(rate)
        log.info("bandwidth limit: %s", f"{rate} B/s" if rate else "none")

    def close(self) -> None:
        with self._lock:
            pairs = list(self._pairs.values())
        for pair in pairs:
            pair.request_stop()  # all at once, then wait for each
        for pair in pairs:
            pair.stop()
        self._encoder.close()
        self._groups.close()


def _disk(spec: SourcePairSpec) -> str | None:
    return spec.azure.disk_resource_id.lower() if spec.azure is not None else None


def _source_of(spec: SourcePairSpec) -> tuple[object, ...]:
    """What a pair reads: changing it needs a new generation (the VM's schedule may change in place)."""
    vm = spec.azure.vm_key if spec.azure is not None else None
    return (spec.source_path, spec.kind, spec.change_log_dir, vm, _disk(spec))
