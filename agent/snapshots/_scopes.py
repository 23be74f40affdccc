"""Which resource groups a VM's agentless replication needs actions on, and what its identity lacks on each.

The VM's resource group (``vm``), each managed disk's (``disks``) and the snapshots' (``snapshots``) may be one
group or several; each distinct group is asked once (ARM's permissions API, through ``read``) and checked against the
actions its roles need in the mode (:func:`~agent.snapshots.check_permissions`). A group whose permissions cannot be
read carries the error instead: one unreadable group does not hide what the others lack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agent.snapshots._config import PointMode
from agent.snapshots._permissions import check_permissions
from agent.snapshots.errors import AzureAuthError, InvalidConfig, SnapshotError

__all__ = ["ScopePermissions", "check_vm_permissions", "vm_scopes"]

Role = Literal["vm", "disks", "snapshots"]

_GROUP_OF = re.compile(r"(?P<group>/subscriptions/[0-9A-Za-z-]{1,64}/resourceGroups/[-\w._()]{1,90})/", re.IGNORECASE)
_GROUP_NAME = re.compile(r"[-\w._()]{1,90}")


@dataclass(frozen=True)
class ScopePermissions:
    """One resource group: the ``roles`` it holds for the VM, and the actions those need that are ``missing`` and
    ``granted``; or ``error`` (both empty) when its permissions could not be read."""

    scope: str
    roles: tuple[Role, ...]
    missing: tuple[str, ...] = ()
    granted: tuple[str, ...] = ()
    error: str | None = None


def _group(resource_id: str, what: str) -> str:
    found = _GROUP_OF.match(resource_id)
    if found is None:
        raise InvalidConfig(
            f"{what} {resource_id!r} is not an ARM resource id",
            remedy="give /subscriptions/<id>/resourceGroups/<rg>/providers/...",
        )
    return found["group"]


def vm_scopes(
    vm_resource_id: str, disk_resource_ids: Iterable[str] = (), snapshot_resource_group: str | None = None
) -> dict[str, tuple[Role, ...]]:
    """Each resource group (its ARM id, as first spelled) and the roles it holds: disks without ids and snapshots
    without a group are taken to be in the VM's group, as the source creates them by default."""
    vm_group = _group(vm_resource_id, "the VM id")
    subscription = vm_group.split("/resourceGroups/")[0]
    if snapshot_resource_group and _GROUP_NAME.fullmatch(snapshot_resource_group) is None:
        raise InvalidConfig(f"{snapshot_resource_group!r} is not a resource group name")
    disk_groups = [_group(d, "the disk id") for d in disk_resource_ids] or [vm_group]
    snapshots = f"{subscription}/resourceGroups/{snapshot_resource_group}" if snapshot_resource_group else vm_group
    wanted: list[tuple[str, Role]] = [(vm_group, "vm"), *((g, "disks") for g in disk_groups), (snapshots, "snapshots")]
    scopes: dict[str, tuple[str, list[Role]]] = {}
    for scope, role in wanted:
        roles = scopes.setdefault(scope.lower(), (scope, []))[1]
        if role not in roles:
            roles.append(role)
    return {spelled: tuple(roles) for spelled, roles in scopes.values()}


def check_vm_permissions(
    read: Callable[[str], Sequence[Mapping[str, Any]]],
    vm_resource_id: str,
    *,
    mode: PointMode = PointMode.SNAPSHOTS,
    disk_resource_ids: Iterable[str] = (),
    snapshot_resource_group: str | None = None,
) -> tuple[ScopePermissions, ...]:
    """What ``read`` (a scope's permission entries, e.g. :meth:`AzureImages.permissions`) says the identity lacks on
    each resource group of the VM for ``mode``."""
    results = []
    for scope, roles in vm_scopes(vm_resource_id, disk_resource_ids, snapshot_resource_group).items():
        try:
            entries = read(scope)
        except AzureAuthError as exc:
            # Reading permissions needs Microsoft.Authorization/permissions/read there (Reader has it).
            results.append(ScopePermissions(scope, roles, error=f"permissions API refused: {exc}"))
            continue
        except SnapshotError as exc:
            results.append(ScopePermissions(scope, roles, error=f"permissions API unreachable: {exc}"))
            continue
        missing: list[str] = []
        granted: list[str] = []
        for role in roles:
            check = check_permissions(list(entries), mode=mode, scope=role)
            missing += [a.action for a in check.missing]
            granted += [a.action for a in check.granted]
        results.append(ScopePermissions(scope, roles, tuple(missing), tuple(granted)))
    return tuple(results)
