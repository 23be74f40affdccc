"""ARM's permissions API for the caller's identity: ``GET {scope}/providers/Microsoft.Authorization/permissions``
(api-version 2022-04-01), as the process server's doctor check asks it.

Azure answers with the permissions of every role the caller holds at or above ``scope``; here one configurable set
of actions stands for all of them: by default every action docs/azure-permissions.md lists (both modes), and a test
removes some with :meth:`PermissionsService.deny` or sets its own per scope with :meth:`PermissionsService.grant`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from lab.azure._http import ArmError, Request, Response, Router

__all__ = ["AUTHORIZATION_API_VERSION", "DOCUMENTED_ACTIONS", "PermissionsService"]

AUTHORIZATION_API_VERSION = "2022-04-01"

_SNAPSHOT = "Microsoft.Compute/snapshots"
_RPC = "Microsoft.Compute/restorePointCollections"
#: What docs/azure-permissions.md asks for, written out here (the lab never imports product code).
DOCUMENTED_ACTIONS: tuple[str, ...] = (
    "Microsoft.Compute/virtualMachines/read",
    "Microsoft.Compute/disks/read",
    f"{_SNAPSHOT}/read",
    f"{_SNAPSHOT}/write",
    f"{_SNAPSHOT}/delete",
    f"{_SNAPSHOT}/beginGetAccess/action",
    f"{_SNAPSHOT}/endGetAccess/action",
    f"{_RPC}/read",
    f"{_RPC}/write",
    f"{_RPC}/delete",
    f"{_RPC}/restorePoints/read",
    f"{_RPC}/restorePoints/write",
    f"{_RPC}/restorePoints/delete",
    f"{_RPC}/restorePoints/diskRestorePoints/beginGetAccess/action",
    f"{_RPC}/restorePoints/diskRestorePoints/endGetAccess/action",
    "Microsoft.Authorization/permissions/read",
)


class PermissionsService:
    """The permissions every caller holds: ``default`` entries (``{"actions", "notActions", ...}``) everywhere,
    or those set for a scope (a scope's own setting wins over the default, case-insensitively)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.default: list[dict[str, list[str]]] = [_entry(DOCUMENTED_ACTIONS)]
        self._scopes: dict[str, list[dict[str, list[str]]]] = {}

    def register(self, router: Router) -> None:
        router.add("GET", r"(?P<scope>/subscriptions/.+?)/providers/Microsoft\.Authorization/permissions", self._get)

    def grant(self, entries: list[dict[str, list[str]]], *, scope: str | None = None) -> None:
        """Set the permission entries of ``scope`` (every scope: ``None``)."""
        with self._lock:
            if scope is None:
                self.default = entries
                self._scopes.clear()
            else:
                self._scopes[scope.rstrip("/").lower()] = entries

    def deny(self, *actions: str, scope: str | None = None) -> None:
        """Grant the documented actions except ``actions`` (at ``scope``, or everywhere)."""
        wanted = {a.lower() for a in actions}
        self.grant([_entry(a for a in DOCUMENTED_ACTIONS if a.lower() not in wanted)], scope=scope)

    def _get(self, request: Request, scope: str) -> Response:
        if request.param("api-version") != AUTHORIZATION_API_VERSION:
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{request.param('api-version')}' is invalid for Microsoft.Authorization in this "
                f"endpoint; use '{AUTHORIZATION_API_VERSION}'.",
            )
        with self._lock:
            entries = self._scopes.get(scope.rstrip("/").lower(), self.default)
            return Response(200, {"value": [dict(e) for e in entries]})


def _entry(actions: Iterable[str]) -> dict[str, list[str]]:
    return {"actions": list(actions), "notActions": [], "dataActions": [], "notDataActions": []}
