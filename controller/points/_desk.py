"""The operators' recovery-point desk: list a pair's points, hold its target disk at one (a test of the point, as a
test failover does), return it to latest, and report retention use and RPO health.

The desk never fights the workflows. A disk is brought to a point only while its VM replicates and no job holds it:
the VM first moves to ``point-test`` by a conditional update (no workflow starts from there, so a failover cannot
start on a disk an operator is looking at, and a workflow that got there first makes the move fail), and returns to
``replicating`` when none of its pairs is held any more. A VM a workflow has (failing over, failed over...) is
refused with what to do instead. Every refusal happens before the master target is asked to change anything.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from controller.agents import (
    AgentError,
    Agents,
    AgentUnavailable,
    MasterTarget,
    PairState,
    PointSelector,
    RecoveryPoint,
    RetentionVolume,
    TargetStatus,
)
from controller.points._directory import PairDirectory, PairLocation
from controller.points.errors import (
    AgentUnreachable,
    InvalidRequest,
    PairBusy,
    PointGone,
    PointsRefused,
)
from controller.store import ProtectionStore, TransitionRefused
from controller.workflows import ItemState

T = TypeVar("T")

__all__ = [
    "FILTERS",
    "MasterTargetRetention",
    "PairAtPoint",
    "PairPoints",
    "PairRetention",
    "PairView",
    "PointsDesk",
    "RetentionReport",
]

FILTERS = frozenset({"app", "crash", "group"})
_MAY_HOLD = frozenset({ItemState.REPLICATING.value, ItemState.POINT_TEST.value})
# What an operator does about a VM a workflow has, by the item's state.
_INSTEAD = {
    ItemState.FAILED_OVER.value: "commit it (failbackctl commit) or roll it back (failbackctl cancel-failover)",
    ItemState.FAILED_OVER_TO_AZURE.value: "reprotect it first (failbackctl reprotect)",
}


@dataclass(frozen=True)
class PairView:
    """A pair as recorded, and what its master target says now: ``state`` is absent when it holds no such pair."""

    location: PairLocation
    state: str
    reason: str


@dataclass(frozen=True)
class PairPoints:
    pair: PairView
    points: tuple[RecoveryPoint, ...]


@dataclass(frozen=True)
class PairAtPoint:
    """``held``: the disk is held (replication paused); ``point`` None with ``held``: at everything acknowledged."""

    pair: PairView
    point: RecoveryPoint | None
    held: bool


@dataclass(frozen=True)
class MasterTargetRetention:
    name: str
    address: str
    volumes: tuple[RetentionVolume, ...]
    error: str | None


@dataclass(frozen=True)
class PairRetention:
    pair: PairView
    points: int
    oldest: RecoveryPoint | None
    newest: RecoveryPoint | None
    rpo_seconds: float | None
    rpo_threshold_seconds: float
    health: str
    health_reasons: tuple[str, ...]
    error: str | None


@dataclass(frozen=True)
class RetentionReport:
    master_targets: tuple[MasterTargetRetention, ...]
    pairs: tuple[PairRetention, ...]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _keep(point: RecoveryPoint, kind: str | None, group: str) -> bool:
    if kind is None:
        return True
    if kind == "app":
        return point.kind == "app"
    if kind == "crash":
        return point.kind in ("crash", "resync-complete")
    return bool(group) and point.group == group


def _unreachable(location: PairLocation, address: str, exc: AgentError) -> AgentUnreachable:
    return AgentUnreachable(
        f"master target {location.master_target} at {address} does not answer: {exc.message}",
        remedy="check that failback-agent runs there and the controller reaches it, then try again",
    )


class PointsDesk:
    def __init__(
        self,
        protection: ProtectionStore,
        agents: Agents,
        *,
        clock: Callable[[], float] = time.time,
        now: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self._protection = protection
        self._directory = PairDirectory(protection)
        self._agents = agents
        self._clock = clock
        self._now = now
        # One bring or cancel per VM at a time in this controller: whether the VM still has a held pair is decided
        # from the agent's answers, which a concurrent call on another of its disks would make stale.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    # -- reading ----------------------------------------------------------------------------------------------------

    def list_points(
        self, *, pair_id: str | None = None, vm: str | None = None, kind: str | None = None
    ) -> list[PairPoints]:
        if kind is not None and kind not in FILTERS:
            raise InvalidRequest(f"kind is one of {', '.join(sorted(FILTERS))}, not {kind!r}")
        if pair_id and vm:
            raise InvalidRequest("name a pair or a VM, not both")
        locations = [self._directory.pair(pair_id)] if pair_id else self._directory.vm(vm or "")
        listed = []
        for location in locations:
            address, mt = self._master_target(location.master_target)
            status = self._call(location, address, partial(mt.pair, location.pair_id))
            points: list[RecoveryPoint] = []
            if status is not None:
                try:
                    points = mt.points(location.pair_id)
                except AgentUnavailable as exc:
                    raise _unreachable(location, address, exc) from exc
                except AgentError:
                    pass  # a pair without an open journal (failed, its disk gone) has no points; its state says why
            view = self._view(location, status)
            listed.append(PairPoints(view, tuple(p for p in points if _keep(p, kind, location.group))))
        return listed

    def retention(self) -> RetentionReport:
        locations = self._directory.pairs()
        addresses = self._directory.addresses()
        names = sorted(set(addresses) | {location.master_target for location in locations})
        reports: list[MasterTargetRetention] = []
        reachable: dict[str, MasterTarget] = {}
        for name in names:
            address = addresses.get(name, "")
            if not address:
                reports.append(MasterTargetRetention(name, "", (), "no applied plan gives its address"))
                continue
            mt = self._agents.master_target(name, address)
            try:
                volumes = mt.retention_volumes()
            except AgentError as exc:
                reports.append(MasterTargetRetention(name, address, (), exc.message))
                continue
            reachable[name] = mt
            reports.append(MasterTargetRetention(name, address, volumes, None))
        pairs = []
        for location in locations:
            mt_or_none = reachable.get(location.master_target)
            if mt_or_none is None:
                view = PairView(location, "unknown", "")
                pairs.append(PairRetention(view, 0, None, None, None, 0.0, "unknown", (), "master target not asked"))
                continue
            pairs.append(self._pair_retention(location, mt_or_none))
        return RetentionReport(tuple(reports), tuple(pairs))

    def _pair_retention(self, location: PairLocation, mt: MasterTarget) -> PairRetention:
        try:
            status = mt.pair(location.pair_id)
            points = mt.points(location.pair_id) if status is not None and status.state is not PairState.FAILED else []
        except AgentError as exc:
            view = PairView(location, "unknown", "")
            return PairRetention(view, 0, None, None, None, 0.0, "unknown", (), exc.message)
        view = self._view(location, status)
        if status is None:
            return PairRetention(view, 0, None, None, None, 0.0, "unknown", (), "the master target has no such pair")
        newest = max(points, key=lambda p: (p.time, p.seq)) if points else None
        oldest = min(points, key=lambda p: (p.time, p.seq)) if points else None
        return PairRetention(
            view,
            len(points),
            oldest,
            newest,
            max(self._clock() - newest.time, 0.0) if newest else None,
            status.rpo_threshold,
            status.health,
            status.health_reasons,
            None,
        )

    # -- holding a disk at a point ------------------------------------------------------------------------------------

    def bring(self, pair_id: str, selector: PointSelector) -> PairAtPoint:
        _check_selector(selector)
        location = self._directory.pair(pair_id)
        with self._lock(location.item_key):
            location = self._directory.pair(pair_id)  # fresh, under the lock
            self._may_hold(location, "bring a disk to a point")
            address, mt = self._master_target(location.master_target)
            status = self._replicating(location, address, mt)
            points = self._call(location, address, partial(mt.points, location.pair_id))
            chosen = _match(location, selector, points)
            try:
                self._protection.move(
                    location.item_key, expected=_MAY_HOLD, state=ItemState.POINT_TEST.value, now=self._now()
                )
            except TransitionRefused as exc:
                raise PairBusy(exc.message, remedy=exc.remedy) from exc
            try:
                moved = mt.bring_to_point([location.pair_id], "", selector)
            except AgentError as exc:
                self._settle(location, mt)
                if isinstance(exc, AgentUnavailable):
                    raise _unreachable(location, address, exc) from exc
                raise PointGone(
                    f"{location.master_target} refused to bring pair {location.pair_id} there: {exc.message}",
                    remedy=f"list the points again (failbackctl points list --pair {location.pair_id})",
                ) from exc
            member = next((m for m in moved if m.pair_id == location.pair_id), None)
            point = chosen if member is None or member.point_id is None else None
            if member is not None and member.point_id is not None:
                point = next((p for p in points if p.id == member.point_id), chosen)
            status = self._call(location, address, partial(mt.pair, location.pair_id)) or status
            return PairAtPoint(self._view(self._directory.pair(pair_id), status), point, True)

    def cancel(self, pair_id: str) -> PairAtPoint:
        location = self._directory.pair(pair_id)
        with self._lock(location.item_key):
            location = self._directory.pair(pair_id)
            self._may_hold(location, "return a disk to latest")
            address, mt = self._master_target(location.master_target)
            status = self._call(location, address, partial(mt.pair, location.pair_id))
            if status is not None and status.state is PairState.AT_POINT:
                self._call(location, address, partial(mt.cancel_point, location.pair_id, location.generation))
            self._settle(location, mt)
            status = self._call(location, address, partial(mt.pair, location.pair_id))
            return PairAtPoint(self._view(self._directory.pair(pair_id), status), None, False)

    # -- pieces -------------------------------------------------------------------------------------------------------

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(key, threading.Lock())

    def _master_target(self, name: str) -> tuple[str, MasterTarget]:
        address = self._directory.address(name)
        return address, self._agents.master_target(name, address)

    def _call(self, location: PairLocation, address: str, rpc: Callable[[], T]) -> T:
        try:
            return rpc()
        except AgentUnavailable as exc:
            raise _unreachable(location, address, exc) from exc
        except AgentError as exc:
            raise PointsRefused(exc.message, remedy=exc.remedy) from exc

    @staticmethod
    def _view(location: PairLocation, status: TargetStatus | None) -> PairView:
        if status is None:
            return PairView(location, "absent", f"{location.master_target} holds no such pair")
        return PairView(location, status.state.value, status.reason)

    @staticmethod
    def _may_hold(location: PairLocation, what: str) -> None:
        if location.item_state in _MAY_HOLD:
            return
        instead = _INSTEAD.get(location.item_state, "wait until it replicates again (failbackctl items)")
        raise PairBusy(
            f"{location.vm} is {location.item_state}: a workflow has its disks, and 'failbackctl points' may {what} "
            "only while the VM replicates",
            remedy=instead,
        )

    def _replicating(self, location: PairLocation, address: str, mt: MasterTarget) -> TargetStatus:
        status = self._call(location, address, partial(mt.pair, location.pair_id))
        if status is None:
            raise PairBusy(
                f"master target {location.master_target} holds no pair {location.pair_id}",
                remedy=f"reprotect {location.vm} again (failbackctl reprotect)",
            )
        if status.pair.generation != location.generation:
            raise PairBusy(
                f"pair {location.pair_id} is at generation {status.pair.generation} on {location.master_target}, "
                f"the controller recorded {location.generation}",
                remedy=f"reprotect {location.vm} again (failbackctl reprotect)",
            )
        if status.state not in (PairState.REPLICATING, PairState.AT_POINT):
            raise PairBusy(
                f"pair {location.pair_id} is {status.state.value}"
                + (f" ({status.reason})" if status.reason else "")
                + ": only a replicating pair's disk can be brought to a point",
                remedy="wait until it replicates ('failbackctl retention' shows its state)",
            )
        return status

    def _settle(self, location: PairLocation, mt: MasterTarget) -> None:
        """Back to ``replicating`` when no pair of the VM is held any more. A master target that cannot say leaves
        the VM in ``point-test``: safe (no workflow starts), and the next cancel settles it."""
        try:
            held = [
                other.pair_id
                for other in self._directory.item_pairs(location.item_key)
                if (status := mt.pair(other.pair_id)) is not None and status.state is PairState.AT_POINT
            ]
        except AgentError:
            return
        if not held:
            self._protection.move(
                location.item_key,
                expected=_MAY_HOLD,
                state=ItemState.REPLICATING.value,
                now=self._now(),
            )


def _check_selector(selector: PointSelector) -> None:
    if selector.kind in ("latest", "latest-app"):
        return
    if selector.kind == "point" and (selector.point_id or selector.at_time is not None):
        return
    raise InvalidRequest("choose the point: --latest, --latest-app, --point ID or --time ISO-8601")


def _match(location: PairLocation, selector: PointSelector, points: Sequence[RecoveryPoint]) -> RecoveryPoint | None:
    """The point the master target will choose (None for latest), or :class:`PointGone` before anything moves."""
    if selector.kind == "latest":
        return None
    if selector.kind == "latest-app":
        candidates = [p for p in points if p.kind == "app"]
        what = "no application-consistent point"
    elif selector.point_id:
        candidates = [p for p in points if p.id == selector.point_id]
        what = f"no point {selector.point_id!r}"
    else:
        at = float(selector.at_time or 0.0)
        candidates = [p for p in points if p.time <= at]
        when = dt.datetime.fromtimestamp(at, dt.UTC).isoformat()
        what = f"no point at or before {when}"
    if not candidates:
        oldest = min(points, key=lambda p: p.time, default=None)
        held = (
            f"; its oldest point is {oldest.id} at {dt.datetime.fromtimestamp(oldest.time, dt.UTC).isoformat()}"
            if oldest
            else "; it holds no points yet"
        )
        raise PointGone(
            f"pair {location.pair_id} holds {what} (pruned from retention, or never taken){held}",
            remedy=f"choose one that 'failbackctl points list --pair {location.pair_id}' shows",
        )
    return max(candidates, key=lambda p: (p.time, p.seq))
