"""The Azure actions the snapshot source needs, and a pure check of granted permissions against them.

:func:`check_permissions` takes permissions as ARM's permissions API returns them for a scope
(``GET {scope}/providers/Microsoft.Authorization/permissions``: a list of ``{"actions", "notActions", ...}``, or the
whole ``{"value": [...]}`` answer) and says which required actions are missing. ARM's rules: an action is granted
when one permission entry matches it in ``actions`` and that same entry does not match it in ``notActions``;
matching ignores case and ``*`` stands for any run of characters. docs/azure-permissions.md explains each action.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from agent.snapshots._config import PointMode

__all__ = ["REQUIRED_ACTIONS", "PermissionCheck", "RequiredAction", "check_permissions", "required_actions"]

_ALL = frozenset(PointMode)
_SNAPSHOTS = frozenset({PointMode.SNAPSHOTS})
_RESTORE_POINTS = frozenset({PointMode.CRASH_RESTORE_POINTS, PointMode.APP_RESTORE_POINTS})


@dataclass(frozen=True)
class RequiredAction:
    """An ARM action, why the source needs it, the modes that need it and where it must be granted: on the VM's
    resource group (``vm``), the disks' (``disks``) or the one the snapshots go to (``snapshots``)."""

    action: str
    why: str
    modes: frozenset[PointMode]
    scope: Literal["vm", "disks", "snapshots"]


REQUIRED_ACTIONS: tuple[RequiredAction, ...] = (
    RequiredAction("Microsoft.Compute/virtualMachines/read", "find the VM's managed disks", _ALL, "vm"),
    RequiredAction("Microsoft.Compute/disks/read", "read each disk's exact size", _ALL, "disks"),
    RequiredAction(
        "Microsoft.Compute/snapshots/read", "follow snapshot creation; find orphans by tag", _SNAPSHOTS, "snapshots"
    ),
    RequiredAction("Microsoft.Compute/snapshots/write", "take tagged incremental snapshots", _SNAPSHOTS, "snapshots"),
    RequiredAction(
        "Microsoft.Compute/snapshots/delete", "delete acknowledged and orphaned snapshots", _SNAPSHOTS, "snapshots"
    ),
    RequiredAction(
        "Microsoft.Compute/snapshots/beginGetAccess/action", "get a read SAS for a snapshot", _SNAPSHOTS, "snapshots"
    ),
    RequiredAction(
        "Microsoft.Compute/snapshots/endGetAccess/action", "revoke a snapshot's read SAS", _SNAPSHOTS, "snapshots"
    ),
    RequiredAction(
        "Microsoft.Compute/restorePointCollections/read", "find orphaned restore points", _RESTORE_POINTS, "snapshots"
    ),
    RequiredAction(
        "Microsoft.Compute/restorePointCollections/write",
        "create the VM's restore point collection",
        _RESTORE_POINTS,
        "snapshots",
    ),
    RequiredAction(
        "Microsoft.Compute/restorePointCollections/delete",
        "delete the collection when the VM is no longer protected",
        _RESTORE_POINTS,
        "snapshots",
    ),
    RequiredAction(
        "Microsoft.Compute/restorePointCollections/restorePoints/read",
        "read a restore point's disk restore points",
        _RESTORE_POINTS,
        "snapshots",
    ),
    RequiredAction(
        "Microsoft.Compute/restorePointCollections/restorePoints/write",
        "take crash- or application-consistent VM restore points",
        _RESTORE_POINTS,
        "snapshots",
    ),
    RequiredAction(
        "Microsoft.Compute/restorePointCollections/restorePoints/delete",
        "delete acknowledged and orphaned restore points",
        _RESTORE_POINTS,
        "snapshots",
    ),
    RequiredAction(
        "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints/beginGetAccess/action",
        "get a read SAS for a disk restore point",
        _RESTORE_POINTS,
        "snapshots",
    ),
    RequiredAction(
        "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints/endGetAccess/action",
        "revoke a disk restore point's read SAS",
        _RESTORE_POINTS,
        "snapshots",
    ),
)


def required_actions(mode: PointMode = PointMode.SNAPSHOTS) -> tuple[RequiredAction, ...]:
    """The actions ``mode`` needs. Changing a group's mode needs the old mode's actions too, until the points
    taken in the old mode are gone."""
    return tuple(a for a in REQUIRED_ACTIONS if mode in a.modes)


@dataclass(frozen=True)
class PermissionCheck:
    granted: tuple[RequiredAction, ...]
    missing: tuple[RequiredAction, ...]

    @property
    def ok(self) -> bool:
        return not self.missing

    def summary(self) -> str:
        if self.ok:
            return f"all {len(self.granted)} required Azure actions are granted"
        lines = [f"{len(self.missing)} required Azure action(s) missing:"]
        lines += [f"  {a.action} (on the {a.scope} resource group: {a.why})" for a in self.missing]
        return "\n".join(lines)


@lru_cache(maxsize=1024)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")), re.IGNORECASE)


def _matches(patterns: Iterable[Any], action: str) -> bool:
    return any(isinstance(p, str) and _pattern(p).fullmatch(action) is not None for p in patterns)


def _entries(permissions: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if isinstance(permissions, Mapping):
        value = permissions.get("value")
        if not isinstance(value, list):
            raise TypeError("a permissions answer is a list of permissions, or a mapping with one in 'value'")
        permissions = value
    entries = list(permissions)
    if not all(isinstance(e, Mapping) for e in entries):
        raise TypeError("every permission must be a mapping with 'actions' and 'notActions'")
    return entries


def is_granted(action: str, permissions: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> bool:
    """Whether ``permissions`` grant ``action`` (ARM's matching rules, see the module doc)."""
    return any(
        _matches(e.get("actions") or [], action) and not _matches(e.get("notActions") or [], action)
        for e in _entries(permissions)
    )


def check_permissions(
    permissions: Iterable[Mapping[str, Any]] | Mapping[str, Any],
    *,
    mode: PointMode = PointMode.SNAPSHOTS,
    scope: Literal["vm", "disks", "snapshots"] | None = None,
) -> PermissionCheck:
    """Which of the actions ``mode`` needs (only those for ``scope``, when given) ``permissions`` grant."""
    entries = _entries(permissions)
    wanted = [a for a in required_actions(mode) if scope is None or a.scope == scope]
    granted = tuple(a for a in wanted if is_granted(a.action, entries))
    return PermissionCheck(granted, tuple(a for a in wanted if a not in granted))
