"""Consistency groups: a point across several pairs (disks of one VM, or VMs of one application).

The process server sends a group bookmark with the same id to every member pair. A group point exists only when
every member pair holds that id, durable, for this group; until the slowest member has it, it is not listed and
cannot be chosen. Bringing a group to a point brings every member; if one member fails, the members already moved
are returned (cancel) before the error propagates, so a group is never left half at a point.

This registry is in memory; the member lists come from the controller's configuration when the agent starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.retention.errors import GroupError

if TYPE_CHECKING:
    from agent.journal import PairJournal, PointSelector, RecoveryPoint

__all__ = ["GroupPoint", "GroupRegistry"]


@dataclass(frozen=True, slots=True)
class GroupPoint:
    id: str
    time: float  # the newest member's point time
    kind: str
    members: tuple[str, ...]


class GroupRegistry:
    def __init__(self) -> None:
        self._groups: dict[str, dict[str, PairJournal]] = {}

    def add(self, group: str, journal: PairJournal) -> None:
        self._groups.setdefault(group, {})[journal.spec.pair_id] = journal

    def remove(self, group: str, pair_id: str) -> None:
        self._groups.get(group, {}).pop(pair_id, None)

    def members(self, group: str) -> Sequence[PairJournal]:
        members = self._groups.get(group)
        if not members:
            raise GroupError(f"consistency group {group!r} has no members", remedy="add the group's pairs first")
        return list(members.values())

    def points(self, group: str) -> list[GroupPoint]:
        """Points every member holds for ``group``, oldest first (in the first member's order)."""
        members = self.members(group)
        per_member = [{p.id: p for p in m.points() if p.group == group} for m in members]
        common = set(per_member[0]).intersection(*per_member[1:])
        result = []
        for point_id, point in per_member[0].items():
            if point_id in common:
                time = max(held[point_id].time for held in per_member)
                result.append(GroupPoint(point_id, time, point.kind.value, tuple(m.spec.pair_id for m in members)))
        return result

    def bring_to(self, group: str, selector: PointSelector) -> dict[str, RecoveryPoint | None]:
        """Bring every member to the group point chosen by ``selector`` (LatestGroup, PointId or AtTime)."""
        from agent.journal import AtTime, LatestGroup, PointId

        points = self.points(group)
        chosen: GroupPoint | None
        if isinstance(selector, LatestGroup):
            chosen = points[-1] if points else None
        elif isinstance(selector, PointId):
            chosen = next((p for p in points if p.id == selector.id), None)
        elif isinstance(selector, AtTime):
            chosen = next((p for p in reversed(points) if p.time <= selector.time), None)
        else:
            raise GroupError(f"a group can be brought to LatestGroup, PointId or AtTime, not {selector!r}")
        if chosen is None:
            raise GroupError(
                f"no point of group {group!r} matches {selector}: every member must hold it",
                remedy="list the group's points and choose one of them",
            )
        moved: list[PairJournal] = []
        result: dict[str, RecoveryPoint | None] = {}
        try:
            for member in self.members(group):
                result[member.spec.pair_id] = member.bring_to(PointId(chosen.id))
                moved.append(member)
        except Exception:
            for member in moved:
                member.cancel()
            raise
        return result

    def cancel(self, group: str) -> None:
        for member in self.members(group):
            member.cancel()

    def commit(self, group: str) -> None:
        for member in self.members(group):
            member.commit()
