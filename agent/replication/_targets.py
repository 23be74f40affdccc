"""The master target's pair registry: create, update and delete pairs for the controller, persist them, and open
every pair's journal when the agent starts.

A put is idempotent and checks before it changes anything: a bad spec, a stale generation or a target that cannot be
used leaves the pair as it was. A new generation closes the pair's journal (fencing the current stream) and reopens it
at that generation, which restarts it (agent.journal: a new generation starts a fresh journal and an initial sync).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable

from agent.journal import JournalError, JournalOptions, PairJournal
from agent.replication._specs import TargetPairSpec, check_pair_id
from agent.replication._store import PairStore
from agent.replication._target import TargetPair, open_pair_journal
from agent.replication.errors import InvalidPair, PairConflict, PairNotFound
from agent.retention import GroupRegistry
from failback.errors import FailbackError

__all__ = ["TargetRegistry"]

log = logging.getLogger(__name__)

ResolveTarget = Callable[[TargetPairSpec], str]
"""The target's device or file path for a spec; raises a FailbackError saying why it cannot be used."""


class TargetRegistry:
    """Every pair of this master target. ``on_change(pair)`` is called when a pair's state may have changed (health),
    ``on_remove(pair_id)`` when it is deleted."""

    def __init__(
        self,
        store: PairStore,
        *,
        resolve_target: ResolveTarget,
        journal_options: JournalOptions | None = None,
        open_journal: Callable[[TargetPairSpec, str, JournalOptions], PairJournal] | None = None,
        check_retention_dir: Callable[[str], None] = lambda _path: None,
        on_change: Callable[[TargetPair], None] = lambda _pair: None,
        on_remove: Callable[[str], None] = lambda _pair_id: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._resolve = resolve_target
        self._options = journal_options or JournalOptions()
        self._open_journal = open_journal or open_pair_journal()
        self._check_retention_dir = check_retention_dir
        self._on_change = on_change
        self._on_remove = on_remove
        self._clock = clock
        self._lock = threading.RLock()
        self._pairs: dict[str, TargetPair] = {}
        self.groups = GroupRegistry()
        self.problems: list[str] = []

    def start(self) -> None:
        """Open every recorded pair. A pair that cannot be opened is kept, FAILED with the reason."""
        records, self.problems = self._store.load()
        for problem in self.problems:
            log.error("%s", problem)
        for pair_id, record in records.items():
            try:
                spec = TargetPairSpec.from_dict(record["spec"])
            except (InvalidPair, KeyError) as exc:
                self.problems.append(f"pair record {pair_id} is invalid: {exc}")
                log.error("%s", self.problems[-1])
                continue
            pair = self._new_pair(spec, None)
            with self._lock:
                self._pairs[pair_id] = pair
            try:
                pair.target_path = self._resolve(spec)
                self._open(pair)
            except FailbackError as exc:
                pair.set_unusable(f"pair {pair_id} cannot be opened: {exc}")
                log.error("pair %s cannot be opened: %s", pair_id, exc)

    def _new_pair(self, spec: TargetPairSpec, target_path: str | None) -> TargetPair:
        return TargetPair(
            spec,
            target_path,
            journal_options=self._options,
            open_journal=self._open_journal,
            on_change=self._on_change,
            clock=self._clock,
        )

    def _open(self, pair: TargetPair) -> None:
        pair.open()
        if pair.spec.group is not None and pair.journal is not None:
            self.groups.add(pair.spec.group, pair.journal)

    def _forget_group(self, pair: TargetPair) -> None:
        if pair.spec.group is not None:
            self.groups.remove(pair.spec.group, pair.spec.pair_id)

    # -- the controller's operations ------------------------------------------------------------------------------

    def put(self, spec: TargetPairSpec) -> TargetPair:
        """Create or update a pair (see the module docstring); returns it."""
        spec.check()
        with self._lock:
            pair = self._pairs.get(spec.pair_id)
            if pair is not None:
                self._check_update(pair, spec)
                if spec == pair.spec and pair.journal is not None:
                    return pair
            if pair is None or spec.generation != pair.spec.generation or not spec.same_disk(pair.spec):
                return self._replace(pair, spec)
            if pair.journal is None:  # the same pair, which could not be opened before: try again
                pair.target_path = self._resolve(spec)
                self._open(pair)
            self._forget_group(pair)
            self._store.save(spec.pair_id, {"spec": spec.to_dict()})
            pair.update(spec)
            if spec.group is not None and pair.journal is not None:
                self.groups.add(spec.group, pair.journal)
            return pair

    def _check_update(self, pair: TargetPair, spec: TargetPairSpec) -> None:
        held = pair.spec
        if spec.generation < held.generation:
            raise PairConflict(
                f"pair {spec.pair_id} is at generation {held.generation}; generation {spec.generation} is stale",
                remedy="put the pair with its current or a higher generation",
            )
        if spec.generation == held.generation and not spec.same_disk(held) and pair.journal is not None:
            raise PairConflict(
                f"pair {spec.pair_id} generation {held.generation} writes {held.disk_id or held.path} "
                f"({held.disk_size} bytes, journal in {held.retention_dir}); a new target needs a new generation",
                remedy="raise the generation to resync the pair onto the new target",
            )

    def _replace(self, old: TargetPair | None, spec: TargetPairSpec) -> TargetPair:
        """A new pair, or a new generation (or target) of an existing one."""
        target = self._resolve(spec)
        self._check_retention_dir(spec.retention_dir)
        if not os.path.isdir(spec.retention_dir):
            # A directory of the volume's root (e.g. <volume>/failback) is made here; a missing volume is not.
            if not os.path.isdir(os.path.dirname(spec.retention_dir)):
                raise InvalidPair(
                    f"retention_dir {spec.retention_dir} is not a directory",
                    remedy="create it on the retention volume (mount the volume first)",
                )
            os.makedirs(spec.retention_dir, mode=0o700, exist_ok=True)
        if old is not None:
            self._forget_group(old)
            old.close()
            if old.spec.journal_dir != spec.journal_dir:
                _discard(old.spec.journal_dir)
        pair = self._new_pair(spec, target)
        self._pairs[spec.pair_id] = pair
        try:
            self._open(pair)
        except JournalError:
            if old is None:
                del self._pairs[spec.pair_id]
                self._on_remove(spec.pair_id)
            raise
        self._store.save(spec.pair_id, {"spec": spec.to_dict()})
        log.info("pair %s generation %d writes %s (sender %s)", spec.pair_id, spec.generation, target, spec.sender)
        return pair

    def delete(self, pair_id: str) -> None:
        """Stop the pair and delete its record and journal."""
        check_pair_id(pair_id)
        with self._lock:
            pair = self._pairs.pop(pair_id, None)
            if pair is None:
                raise PairNotFound(f"there is no pair {pair_id} on this master target")
            self._forget_group(pair)
            pair.close()
            # Journal first: a crash in between leaves a record without history (a resync), never a new pair that
            # could open the old history.
            _discard(pair.spec.journal_dir)
            self._store.delete(pair_id)
        self._on_remove(pair_id)
        log.info("pair %s deleted with its journal", pair_id)

    def get(self, pair_id: str) -> TargetPair:
        with self._lock:
            pair = self._pairs.get(pair_id)
        if pair is None:
            raise PairNotFound(f"there is no pair {pair_id!r} on this master target", remedy="list the pairs")
        return pair

    def pairs(self) -> list[TargetPair]:
        with self._lock:
            return [self._pairs[key] for key in sorted(self._pairs)]

    def close(self) -> None:
        with self._lock:
            for pair in self._pairs.values():
                pair.close()


def _discard(journal_dir: str) -> None:
    """Delete a journal directory: renamed first (one atomic step), so a crash never leaves a half-deleted journal
    where a new pair could open it."""
    if not os.path.isdir(journal_dir):
        return
    doomed = f"{journal_dir}.deleted-{time.time_ns()}"
    os.rename(journal_dir, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
