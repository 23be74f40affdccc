"""The process server's pair registry: create, update and delete pairs for the controller, persist them, and start
every pair's sender when the agent starts. All pairs share one encoder pool and one bandwidth limiter (fair by bytes,
changeable at run time).

A reprotect pair (SCAN_THEN_CHANGE_LOG) records the change log's durable position when its generation is created:
everything written before it is on the disk the resync pass reads, everything after it is replayed from the log.
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
from agent.replication._source import Connector, SenderOptions, SourcePair, SourceState
from agent.replication._specs import SourceKind, SourcePairSpec, check_pair_id
from agent.replication._store import PairStore
from agent.replication.errors import InvalidPair, PairConflict, PairNotFound

__all__ = ["SourceRegistry"]

log = logging.getLogger(__name__)


class SourceRegistry:
    """Every pair of this process server; send state lives under ``work_root/<pair_id>/g<generation>``."""

    def __init__(
        self,
        store: PairStore,
        *,
        work_root: str,
        connector: Connector,
        options: SenderOptions | None = None,
        bandwidth: int | None = None,
        encode_threads: int = 2,
        clock: Callable[[], float] = time.time,
        io: IO | None = None,
    ) -> None:
        self._store = store
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
        for pair_id, record in records.items():
            try:
                spec = SourcePairSpec.from_dict(record["spec"])
                log_start = int(record["log_start"])
                resync_end = record.get("resync_end")
                if resync_end is not None:
                    resync_end = int(resync_end)
            except (InvalidPair, KeyError, TypeError, ValueError) as exc:
                self.problems.append(f"pair record {pair_id} is invalid: {exc}")
                continue
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
            clock=self._clock,
        )
        with self._lock:
            self._pairs[spec.pair_id] = pair
        pair.start()
        return pair

    # -- the controller's operations ------------------------------------------------------------------------------

    def put(self, spec: SourcePairSpec) -> SourcePair:
        spec.check()
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
                pair.stop()
                shutil.rmtree(os.path.join(self._work_root, spec.pair_id), ignore_errors=True)
                return self._create(spec)
            if (spec.source_path, spec.kind, spec.change_log_dir) != (held.source_path, held.kind, held.change_log_dir):
                raise PairConflict(
                    f"pair {spec.pair_id} generation {held.generation} reads {held.source_path}; another source "
                    "needs a new generation",
                    remedy="raise the generation to resync the pair from the new source",
                )
            failed = pair.status().state is SourceState.FAILED
            if spec == held and not failed:
                return pair
            self._record(spec, pair.log_start, pair.resync_end)
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
        if spec.kind is SourceKind.SCAN_THEN_CHANGE_LOG:
            assert spec.change_log_dir is not None
            if not os.path.isdir(spec.change_log_dir):
                raise InvalidPair(
                    f"pair {spec.pair_id}: there is no change log at {spec.change_log_dir}",
                    remedy="start the source's write tracker before the pair",
                )
            log_start = read_durable(spec.change_log_dir)
        if not os.path.exists(spec.source_path):
            raise InvalidPair(f"pair {spec.pair_id}: the source disk {spec.source_path} does not exist")
        self._record(spec, log_start, None)
        log.info(
            "pair %s generation %d: %s from %s to %s (%s)",
            spec.pair_id,
            spec.generation,
            spec.kind.name,
            spec.source_path,
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
