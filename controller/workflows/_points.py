"""Which recovery point each disk of a VM fails over to. Pure.

A VM's disks must land on one point of the source's history, so every choice except ``latest`` after a drain is a
point that *every* disk of the VM holds (the source bookmarks all of a VM's disks with one id):

* ``latest``      planned (drained): each disk at everything acknowledged, which is the source's last state on every
                  disk; unplanned: a one-disk VM the same, a VM with several disks the newest point all of them hold
                  (per-disk "everything" would mix moments);
* ``latest-app``  the newest application-consistent point all disks hold;
* ``latest-group`` the newest point of the failback group's consistency group that every disk of every VM of the
                  group holds (chosen by the master target, which moves every member together);
* ``custom``      a point id all disks hold, or the newest such point at or before a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.agents import RecoveryPoint
from controller.workflows.errors import NotEligible

__all__ = ["Choice", "choose_point"]


@dataclass(frozen=True)
class Choice:
    """``point`` None: every disk to latest (everything acknowledged)."""

    point: RecoveryPoint | None
    why: str


def choose_point(
    item: str,
    points: Mapping[str, Sequence[RecoveryPoint]],
    *,
    kind: str,
    planned: bool,
    point_id: str | None = None,
    point_time: float | None = None,
) -> Choice:
    """The point for the disks in ``points`` (pair id -> its points, oldest first); raises :class:`NotEligible`
    naming what is missing when no point fits."""
    if kind == "latest" and (planned or len(points) == 1):
        return Choice(None, "everything the master target acknowledged" + (" (drained)" if planned else ""))
    common = _common(points)
    if kind == "latest":
        candidates = common
        what = "a point every disk holds"
    elif kind == "latest-app":
        candidates = [p for p in common if p.kind == "app"]
        what = "an application-consistent point every disk holds"
    elif kind == "custom" and point_id:
        candidates = [p for p in common if p.id == point_id]
        what = f"point {point_id} on every disk"
    elif kind == "custom" and point_time is not None:
        candidates = [p for p in common if p.time <= point_time]
        what = f"a point at or before {point_time:.3f} on every disk"
    else:
        raise NotEligible(f"{item}: no point choice {kind!r} (latest, latest-app, latest-group, custom)")
    if not candidates:
        raise NotEligible(
            f"{item}: the master target holds no {what}",
            remedy="list the points (failbackctl lab status, or the pair's points) and choose one, or wait",
        )
    chosen = candidates[-1]
    return Choice(chosen, f"{chosen.kind} point {chosen.id} ({chosen.tag or 'no tag'}), the newest that fits")


def _common(points: Mapping[str, Sequence[RecoveryPoint]]) -> list[RecoveryPoint]:
    """Points (of the first disk, in time order) whose id every disk holds (pending ones too: they are durable, and
    the master target applies them before it moves a disk)."""
    lists = list(points.values())
    if not lists:
        return []
    held = [{p.id for p in listed} for listed in lists]
    shared = set.intersection(*held)
    return sorted((p for p in lists[0] if p.id in shared), key=lambda p: (p.time, p.seq))
