"""Which resource groups a VM's agentless replication needs actions on, and what is missing on each: pure, over
permission entries as ARM's permissions API returns them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from agent.snapshots import PointMode, check_vm_permissions, vm_scopes
from agent.snapshots.errors import AzureAuthError, AzureUnavailable, InvalidConfig

SUB = "/subscriptions/0000-1111"
VM = f"{SUB}/resourceGroups/rg-vm/providers/Microsoft.Compute/virtualMachines/web01"
DISK_SAME = f"{SUB}/resourceGroups/RG-VM/providers/Microsoft.Compute/disks/web01-os"
DISK_OTHER = f"{SUB}/resourceGroups/rg-disks/providers/Microsoft.Compute/disks/web01-data"


def test_a_vm_whose_disks_and_snapshots_share_its_group_is_one_scope_with_every_role():
    assert vm_scopes(VM, [DISK_SAME]) == {f"{SUB}/resourceGroups/rg-vm": ("vm", "disks", "snapshots")}


def test_disks_and_snapshots_elsewhere_are_scopes_of_their_own():
    scopes = vm_scopes(VM, [DISK_SAME, DISK_OTHER], "rg-snaps")
    assert scopes == {
        f"{SUB}/resourceGroups/rg-vm": ("vm", "disks"),
        f"{SUB}/resourceGroups/rg-disks": ("disks",),
        f"{SUB}/resourceGroups/rg-snaps": ("snapshots",),
    }


@pytest.mark.parametrize(("vm", "disks", "group"), [("web01", [], None), (VM, ["disk"], None), (VM, [], "a/b")])
def test_malformed_ids_and_groups_are_refused(vm: str, disks: list[str], group: str | None):
    with pytest.raises(InvalidConfig):
        vm_scopes(vm, disks, group)


def test_each_scope_is_checked_for_its_own_roles_only():
    def read(scope: str) -> Sequence[Mapping[str, Any]]:
        if scope.endswith("rg-disks"):
            return [{"actions": ["Microsoft.Compute/disks/read"], "notActions": []}]
        return [{"actions": ["Microsoft.Compute/*"], "notActions": ["Microsoft.Compute/snapshots/delete"]}]

    vm_scope, disk_scope = check_vm_permissions(read, VM, disk_resource_ids=[DISK_OTHER])
    assert vm_scope.roles == ("vm", "snapshots")
    assert vm_scope.missing == ("Microsoft.Compute/snapshots/delete",)
    assert disk_scope.roles == ("disks",)
    assert disk_scope.missing == ()
    assert disk_scope.granted == ("Microsoft.Compute/disks/read",)


def test_restore_point_mode_asks_for_restore_point_actions():
    (scope,) = check_vm_permissions(
        lambda _: [{"actions": ["Microsoft.Compute/snapshots/*", "Microsoft.Compute/*/read"]}],
        VM,
        mode=PointMode.CRASH_RESTORE_POINTS,
    )
    assert "Microsoft.Compute/restorePointCollections/restorePoints/write" in scope.missing
    assert not any("snapshots/" in action for action in scope.missing + scope.granted)


def test_an_unreadable_scope_carries_its_error_and_the_others_are_still_checked():
    def read(scope: str) -> Sequence[Mapping[str, Any]]:
        if scope.endswith("rg-disks"):
            raise AzureUnavailable("could not reach Azure")
        if scope.endswith("rg-snaps"):
            raise AzureAuthError("403 AuthorizationFailed")
        return [{"actions": ["*"]}]

    vm_scope, disk_scope, snap_scope = check_vm_permissions(read, VM, disk_resource_ids=[DISK_OTHER],
                                                            snapshot_resource_group="rg-snaps")  # fmt: skip
    assert vm_scope.error is None
    assert vm_scope.missing == ()
    assert disk_scope.error == "permissions API unreachable: could not reach Azure"
    assert snap_scope.error is not None
    assert snap_scope.error.startswith("permissions API refused: ")
    assert disk_scope.missing == snap_scope.missing == ()
