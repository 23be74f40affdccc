"""Privilege computation: what is missing for a user, and vSphere's permission rules."""

from __future__ import annotations

from controller.vsphere import (
    REQUIRED_PRIVILEGES,
    EntityKind,
    Permission,
    PrivilegeTarget,
    Role,
    effective_privileges,
    evaluate,
)

READ_ONLY = frozenset({"System.Anonymous", "System.View", "System.Read"})
ROLES = {
    -5: Role(-5, "NoAccess", frozenset()),
    -2: Role(-2, "ReadOnly", READ_ONLY),
    -1: Role(-1, "Admin", READ_ONLY | REQUIRED_PRIVILEGES[EntityKind.DATASTORE] | REQUIRED_PRIVILEGES[EntityKind.HOST]),
    10: Role(10, "Storage", READ_ONLY | {"Datastore.Browse"}),
}
DATASTORE = PrivilegeTarget(EntityKind.DATASTORE, "datastore-9", "san-01", "Datastore")
HOST = PrivilegeTarget(EntityKind.HOST, "host-4", "esx-01", "HostSystem")
# datastore-9 sits in folder group-s5, in datacenter-2, under the root folder group-d1.
CHAIN = ["datastore-9", "group-s5", "datacenter-2", "group-d1"]


def test_a_read_only_user_misses_every_datastore_privilege_but_view() -> None:
    report = evaluate("svc", [DATASTORE, HOST], {"datastore-9": READ_ONLY, "host-4": ROLES[-1].privileges})
    assert not report.ok
    datastore, host = report.entities
    assert datastore.missing == REQUIRED_PRIVILEGES[EntityKind.DATASTORE] - {"System.View"}
    assert host.ok
    (line,) = report.problems()
    assert "san-01" in line
    assert "will not discover it" in line


def test_an_object_with_no_answer_counts_as_holding_nothing() -> None:
    (entity,) = evaluate("svc", [HOST], {}).entities
    assert entity.missing == REQUIRED_PRIVILEGES[EntityKind.HOST]


def test_a_permission_on_an_ancestor_propagates_down() -> None:
    permissions = [Permission("datacenter-2", "svc", False, -1, True)]
    assert effective_privileges("svc", CHAIN, permissions, ROLES) == ROLES[-1].privileges


def test_a_non_propagating_permission_applies_only_to_its_own_object() -> None:
    permissions = [Permission("datacenter-2", "svc", False, -1, False)]
    assert effective_privileges("svc", CHAIN, permissions, ROLES) == frozenset()
    assert effective_privileges("svc", ["datacenter-2", "group-d1"], permissions, ROLES) == ROLES[-1].privileges


def test_the_closest_permission_wins_even_when_it_grants_less() -> None:
    permissions = [Permission("group-d1", "svc", False, -1, True), Permission("group-s5", "svc", False, -2, True)]
    assert effective_privileges("svc", CHAIN, permissions, ROLES) == READ_ONLY


def test_no_access_close_to_the_object_removes_everything_granted_above() -> None:
    permissions = [Permission("group-d1", "svc", False, -1, True), Permission("datastore-9", "svc", False, -5, False)]
    assert effective_privileges("svc", CHAIN, permissions, ROLES) == frozenset()


def test_a_user_permission_beats_group_permissions_on_the_same_object() -> None:
    permissions = [
        Permission("datacenter-2", "admins", True, -1, True),
        Permission("datacenter-2", "svc", False, -2, True),
    ]
    assert effective_privileges("svc", CHAIN, permissions, ROLES, groups=["admins"]) == READ_ONLY


def test_group_permissions_on_the_same_object_add_up() -> None:
    permissions = [
        Permission("datacenter-2", "readers", True, -2, True),
        Permission("datacenter-2", "storage", True, 10, True),
    ]
    granted = effective_privileges("svc", CHAIN, permissions, ROLES, groups=["readers", "storage"])
    assert granted == READ_ONLY | {"Datastore.Browse"}


def test_principals_and_groups_compare_without_case() -> None:
    permissions = [Permission("datacenter-2", "VSPHERE.LOCAL\\Admins", True, -1, True)]
    assert (
        effective_privileges("x", CHAIN, permissions, ROLES, groups=["vsphere.local\\admins"]) == ROLES[-1].privileges
    )


def test_a_principal_without_any_permission_holds_nothing() -> None:
    permissions = [Permission("group-d1", "someone-else", False, -1, True)]
    assert effective_privileges("svc", CHAIN, permissions, ROLES) == frozenset()
