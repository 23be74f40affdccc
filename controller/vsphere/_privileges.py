"""Which privileges failback needs on which objects, and what is missing for a given user.

Two sources feed the same report: what vCenter says the connected session holds (HasPrivilegeOnEntities), or what
a principal's permissions and roles grant, computed here with vSphere's rules (the closest entity with a permission
for the principal decides; a user permission there beats group permissions; ancestors count only if propagating).
The second explains a denial and works for any principal, which matters because a read-only service account is the
classic cause of "datastores not discovered".

Pure code: no pyVmomi, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from controller.vsphere._records import Datastore, Host, Network, VirtualMachine

__all__ = [
    "REQUIRED_PRIVILEGES",
    "EntityKind",
    "EntityPrivileges",
    "Permission",
    "PrivilegeReport",
    "PrivilegeTarget",
    "Role",
    "effective_privileges",
    "evaluate",
    "privilege_target",
]


class EntityKind(enum.StrEnum):
    DATASTORE = "datastore"
    HOST = "host"
    NETWORK = "network"
    VM = "vm"


REQUIRED_PRIVILEGES: Mapping[EntityKind, frozenset[str]] = {
    # Browsing and file management are what make a datastore usable as a failback target at all.
    EntityKind.DATASTORE: frozenset(
        {
            "System.View",
            "Datastore.Browse",
            "Datastore.FileManagement",
            "Datastore.AllocateSpace",
            "Datastore.DeleteFile",
            "Datastore.UpdateVirtualMachineFiles",
        }
    ),
    # Placing a recreated VM or a master target on the host (permissions propagate down to its resource pool).
    EntityKind.HOST: frozenset(
        {
            "System.View",
            "Resource.AssignVMToPool",
            "VirtualMachine.Inventory.Create",
            "VirtualMachine.Inventory.Register",
        }
    ),
    EntityKind.NETWORK: frozenset({"System.View", "Network.Assign"}),
    # What the workflows do to a recreated VM or a master target.
    EntityKind.VM: frozenset(
        {
            "System.View",
            "VirtualMachine.Config.AddExistingDisk",
            "VirtualMachine.Config.AddNewDisk",
            "VirtualMachine.Config.RemoveDisk",
            "VirtualMachine.Config.AddRemoveDevice",
            "VirtualMachine.Config.AdvancedConfig",
            "VirtualMachine.Interact.PowerOn",
            "VirtualMachine.Interact.PowerOff",
            "VirtualMachine.State.CreateSnapshot",
            "VirtualMachine.State.RevertToSnapshot",
            "VirtualMachine.State.RemoveSnapshot",
            "VirtualMachine.Provisioning.Customize",
        }
    ),
}

_CONSEQUENCE: Mapping[EntityKind, str] = {
    EntityKind.DATASTORE: "failback will not discover it as a target datastore and cannot create replica disks on it",
    EntityKind.HOST: "failback cannot create or register VMs on it",
    EntityKind.NETWORK: "failback cannot connect recreated VMs to it",
    EntityKind.VM: "failback cannot attach disks, snapshot, customise or power this VM",
}


@dataclass(frozen=True)
class PrivilegeTarget:
    """An object to check; ``managed_type`` is its vSphere type (``DistributedVirtualPortgroup``...), which a
    managed object reference must carry. Build targets from inventory records with :func:`privilege_target`."""

    kind: EntityKind
    moid: str
    name: str
    managed_type: str


def privilege_target(record: Datastore | Host | Network | VirtualMachine) -> PrivilegeTarget:
    if isinstance(record, Datastore):
        return PrivilegeTarget(EntityKind.DATASTORE, record.moid, record.name, "Datastore")
    if isinstance(record, Host):
        return PrivilegeTarget(EntityKind.HOST, record.moid, record.name, "HostSystem")
    if isinstance(record, Network):
        return PrivilegeTarget(EntityKind.NETWORK, record.moid, record.name, record.kind)
    return PrivilegeTarget(EntityKind.VM, record.moid, record.name, "VirtualMachine")


@dataclass(frozen=True)
class EntityPrivileges:
    target: PrivilegeTarget
    granted: frozenset[str]
    missing: frozenset[str]

    @property
    def ok(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class PrivilegeReport:
    user: str
    entities: tuple[EntityPrivileges, ...]

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entities)

    def problems(self) -> tuple[str, ...]:
        """One operator-facing line per object with missing privileges: what is missing, what breaks, what to do."""
        lines: list[str] = []
        for entity in self.entities:
            if entity.ok:
                continue
            target = entity.target
            lines.append(
                f"{self.user} lacks {', '.join(sorted(entity.missing))} on {target.kind} {target.name} "
                f"({target.moid}): {_CONSEQUENCE[target.kind]}; grant a role with these privileges on it or on a "
                "parent folder or datacenter, with propagation"
            )
        return tuple(lines)


def evaluate(user: str, targets: Sequence[PrivilegeTarget], granted: Mapping[str, frozenset[str]]) -> PrivilegeReport:
    """Compare what ``user`` holds on each target (``granted`` by moid; absent means nothing) with what it needs."""
    entities = []
    for target in targets:
        held = granted.get(target.moid, frozenset())
        entities.append(EntityPrivileges(target, held, REQUIRED_PRIVILEGES[target.kind] - held))
    return PrivilegeReport(user, tuple(entities))


@dataclass(frozen=True)
class Permission:
    entity: str  # moid
    principal: str
    group: bool
    role_id: int
    propagate: bool


@dataclass(frozen=True)
class Role:
    role_id: int
    name: str
    privileges: frozenset[str]


def effective_privileges(
    principal: str,
    chain: Sequence[str],
    permissions: Iterable[Permission],
    roles: Mapping[int, Role],
    *,
    groups: Iterable[str] = (),
) -> frozenset[str]:
    """The privileges ``principal`` (a member of ``groups``) holds on ``chain[0]``, whose ancestors follow in ``chain``.

    Principal and group names compare case-insensitively, as vCenter's directory does.
    """
    user = principal.casefold()
    member_of = {g.casefold() for g in groups}
    by_entity: dict[str, list[Permission]] = {}
    for permission in permissions:
        by_entity.setdefault(permission.entity, []).append(permission)
    for depth, entity in enumerate(chain):
        applicable = [
            p
            for p in by_entity.get(entity, ())
            if (depth == 0 or p.propagate)
            and ((not p.group and p.principal.casefold() == user) or (p.group and p.principal.casefold() in member_of))
        ]
        if not applicable:
            continue
        personal = [p for p in applicable if not p.group]
        deciding = personal or applicable
        privileges: set[str] = set()
        for permission in deciding:
            role = roles.get(permission.role_id)
            if role is not None:
                privileges |= role.privileges
        return frozenset(privileges)
    return frozenset()
