"""Targeted lookups for operations: where a new VM goes, where a datastore lives, an object's ancestors.

Each is one PropertyCollector read (two for distributed switches), so an operation never needs the whole inventory.
Nothing here writes to vSphere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim, vmodl

from controller.vsphere._collector import retrieve, upward_traversal
from controller.vsphere._privileges import PrivilegeTarget
from controller.vsphere._records import Network
from controller.vsphere.errors import InvalidRequest, ObjectNotFound

__all__ = ["Placement", "ancestries", "datastore_location", "managed_entity", "placement"]


@dataclass(frozen=True)
class Placement:
    """Where a new VM goes: pyVmomi references to its host, pool and folder, and the resolved networks."""

    host: Any
    pool: Any
    vm_folder: Any
    datastore_name: str
    networks: Mapping[str, Network]


def datastore_location(content: Any, stub: Any, datastore: str) -> tuple[str, Any]:
    """The datastore's name and its datacenter (a pyVmomi reference); one round-trip."""
    ref = vim.Datastore(datastore, stub)
    fetched = retrieve(
        content,
        [upward_traversal(ref)],
        {vim.Datastore: ("name",), vim.Folder: ("parent",), vim.Datacenter: ("parent",)},
        what=f"datastore {datastore}",
    )
    name = next((f.get("name") for f in fetched if f.moid == datastore), None)
    datacenter = next((f.ref for f in fetched if isinstance(f.ref, vim.Datacenter)), None)
    if name is None or datacenter is None:
        raise ObjectNotFound(f"datastore {datastore} does not exist", remedy="refresh the inventory")
    return str(name), datacenter


def placement(content: Any, stub: Any, host: str, datastore: str, networks: Sequence[str]) -> Placement:
    """Resolve where a new VM goes, checking that the datastore is mounted on the host; one or two round-trips.

    The networks are looked up among the datacenter's, which also gives their exact managed types (a moref to a
    distributed port group must say so).
    """
    host_ref = vim.HostSystem(host, stub)
    ds_ref = vim.Datastore(datastore, stub)
    datacenter_networks = vmodl.query.PropertyCollector.TraversalSpec(
        name="networks", path="network", skip=False, type=vim.Datacenter
    )
    fetched = retrieve(
        content,
        [upward_traversal(host_ref, also=[datacenter_networks]), ds_ref],
        {
            vim.HostSystem: ("name", "parent", "datastore"),
            vim.ComputeResource: ("resourcePool", "parent"),
            vim.Folder: ("parent",),
            vim.Datacenter: ("vmFolder", "parent"),
            vim.Datastore: ("name",),
            vim.Network: ("name", "parent"),
            vim.dvs.DistributedVirtualPortgroup: ("key", "config.distributedVirtualSwitch"),
        },
        what=f"the placement on host {host} and datastore {datastore}",
    )
    by_moid = {f.moid: f for f in fetched}
    host_props = by_moid.get(host)
    ds_props = by_moid.get(datastore)
    compute = next((f for f in fetched if isinstance(f.ref, vim.ComputeResource)), None)
    datacenter = next((f for f in fetched if isinstance(f.ref, vim.Datacenter)), None)
    if host_props is None or compute is None or datacenter is None:
        raise ObjectNotFound(f"host {host} does not exist", remedy="refresh the inventory")
    if ds_props is None:
        raise ObjectNotFound(f"datastore {datastore} does not exist", remedy="refresh the inventory")
    if datastore not in {d._moId for d in host_props.get("datastore") or ()}:
        raise InvalidRequest(
            f"datastore {ds_props.get('name')} is not mounted on host {host_props.get('name')}",
            remedy="choose a datastore the host can reach",
        )
    switches = {
        f.moid: f.get("config.distributedVirtualSwitch")
        for f in fetched
        if isinstance(f.ref, vim.dvs.DistributedVirtualPortgroup)
    }
    uuids: dict[str, str] = {}
    if switches:
        for fetched_switch in retrieve(
            content,
            list({s._moId: s for s in switches.values() if s is not None}.values()),
            {vim.DistributedVirtualSwitch: ("uuid",)},
            what="distributed switches",
        ):
            uuids[fetched_switch.moid] = str(fetched_switch.get("uuid"))
    resolved: dict[str, Network] = {}
    for moid in networks:
        net = by_moid.get(moid)
        if net is None or not isinstance(net.ref, vim.Network):
            raise ObjectNotFound(
                f"network {moid} is not in the datacenter of host {host}",
                remedy="map the VM's networks to networks of the target datacenter",
            )
        switch = switches.get(moid)
        resolved[moid] = Network(
            moid=moid,
            name=str(net.get("name", "")),
            datacenter=datacenter.moid,
            kind=network_kind(net.ref),
            portgroup_key=net.get("key"),
            switch_uuid=uuids.get(switch._moId) if switch is not None else None,
        )
    return Placement(
        host=host_props.ref,
        pool=compute.get("resourcePool"),
        vm_folder=datacenter.get("vmFolder"),
        datastore_name=str(ds_props.get("name")),
        networks=resolved,
    )


def ancestries(content: Any, stub: Any, targets: Sequence[PrivilegeTarget]) -> dict[str, list[str]]:
    """Each target's moid followed by its ancestors' up to the root folder; one round-trip for all."""
    if not targets:
        return {}
    fetched = retrieve(
        content,
        [upward_traversal(managed_entity(t, stub)) for t in targets],
        {vim.ManagedEntity: ("parent",)},
        what="the parents of the checked objects",
    )
    parents = {f.moid: f.get("parent") for f in fetched}
    chains: dict[str, list[str]] = {}
    for target in targets:
        chain = [target.moid]
        while (parent := parents.get(chain[-1])) is not None and parent._moId not in chain:
            chain.append(str(parent._moId))
        chains[target.moid] = chain
    return chains


_ENTITY_CLASSES: dict[str, Any] = {
    "Datastore": vim.Datastore,
    "HostSystem": vim.HostSystem,
    "Network": vim.Network,
    "DistributedVirtualPortgroup": vim.dvs.DistributedVirtualPortgroup,
    "OpaqueNetwork": vim.OpaqueNetwork,
    "VirtualMachine": vim.VirtualMachine,
}


def managed_entity(target: PrivilegeTarget, stub: Any) -> Any:
    try:
        cls = _ENTITY_CLASSES[target.managed_type]
    except KeyError:
        raise InvalidRequest(
            f"cannot check privileges on a {target.managed_type}", remedy=f"use one of {sorted(_ENTITY_CLASSES)}"
        ) from None
    return cls(target.moid, stub)


def network_kind(ref: Any) -> str:
    if isinstance(ref, vim.dvs.DistributedVirtualPortgroup):
        return "DistributedVirtualPortgroup"
    if isinstance(ref, vim.OpaqueNetwork):
        return "OpaqueNetwork"
    return "Network"
