"""Retention policy: how long points are kept (window), how they are thinned with age, and the RPO alarm threshold.

Pure functions of the point list and an injected "now": no I/O, no clock of its own. The engine applies the decision
(catalog record first, then whole undo segments are deleted).

Thinning buckets are aligned to absolute time (multiples of the interval since the epoch), not to "now", and each
bucket keeps its *oldest* point (application-consistent points first): points of a bucket age into the thinned span
newest last, so the point a bucket kept in one pass is still its choice in the next, until it leaves the window.
Pruning is stable and never flaps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["DEFAULT_THINNING", "PointLike", "RetentionPolicy", "ThinningRule"]

HOUR = 3600.0


class PointLike(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def time(self) -> float: ...

    @property
    def kind(self) -> object: ...


@dataclass(frozen=True, slots=True)
class ThinningRule:
    """Points aged at least ``older_than`` seconds keep one per ``every`` seconds (0 = keep all)."""

    older_than: float
    every: float


# Azure Site Recovery's schedule: everything for 2 h, then one per hour to 24 h, then one per 2 h.
DEFAULT_THINNING: tuple[ThinningRule, ...] = (
    ThinningRule(0.0, 0.0),
    ThinningRule(2 * HOUR, HOUR),
    ThinningRule(24 * HOUR, 2 * HOUR),
)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """``window`` seconds of history; thinning rules; RPO warning past ``rpo_threshold`` seconds; the volume
    threshold in percent of its capacity; crash-consistent points every ``crash_interval`` seconds."""

    window: float = 24 * HOUR
    thinning: tuple[ThinningRule, ...] = field(default=DEFAULT_THINNING)
    rpo_threshold: float = 15 * 60.0
    threshold_pct: float = 80.0
    crash_interval: float = 30.0
    # Over the volume threshold, pruning by this policy comes first; if that frees too little, appends are pushed
    # back (RetentionFull) until space returns. True drops the oldest points instead (never the newest), with a
    # health warning: replication keeps going at the cost of history.
    shorten_when_full: bool = False

    def __post_init__(self) -> None:
        if self.window <= 0 or self.rpo_threshold <= 0 or self.crash_interval <= 0:
            raise ValueError("retention window, RPO threshold and crash-point interval must be positive seconds")
        if not 0 < self.threshold_pct <= 100:
            raise ValueError(f"threshold_pct must be in (0, 100], not {self.threshold_pct}")
        ages = [rule.older_than for rule in self.thinning]
        if ages != sorted(ages) or any(rule.every < 0 for rule in self.thinning):
            raise ValueError("thinning rules must be sorted by age and have non-negative intervals")

    def _every(self, age: float) -> float:
        every = 0.0
        for rule in self.thinning:
            if age >= rule.older_than:
                every = rule.every
        return every

    def keep(self, points: Sequence[PointLike], now: float) -> set[str]:
        """Ids of the points to keep at ``now``; the newest point is always kept, whatever its age."""
        if not points:
            return set()
        kept: set[str] = set()
        buckets: dict[tuple[float, int], PointLike] = {}
        for point in points:
            age = now - point.time
            if age > self.window:
                continue
            every = self._every(age)
            if every == 0:
                kept.add(point.id)
                continue
            key = (every, math.floor(point.time / every))
            best = buckets.get(key)
            if best is None or _better(point, best):
                buckets[key] = point
        kept.update(point.id for point in buckets.values())
        kept.add(max(points, key=lambda p: p.time).id)
        return kept


def _better(candidate: PointLike, best: PointLike) -> bool:
    candidate_app = getattr(candidate.kind, "value", candidate.kind) == "app"
    best_app = getattr(best.kind, "value", best.kind) == "app"
    if candidate_app != best_app:
        return candidate_app
    return candidate.time < best.time
