"""Read the whole inventory in a constant number of round-trips, and turn pyVmomi objects into records.

One RetrievePropertiesEx over a container view (plus continuation pages on large vCenters) returns every datacenter,
folder, compute resource, host, datastore, network and VM with the properties we need, and the licence manager's
licences in the same call; one QueryAssignedLicenses gives every host's edition on vCenter. With the view's create
and destroy that is four SOAP calls whatever the number of VMs. Nothing here writes to vSphere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pyVmomi import vim, vmodl

from controller.vsphere._collector import Fetched, container_view, retrieve, upward_traversal, view_traversal
from controller.vsphere._faults import guard
from controller.vsphere._records import (
    About,
    Cluster,
    Controller,
    Datacenter,
    Datastore,
    Disk,
    GuestIp,
    Host,
    Inventory,
    Network,
    Nic,
    PowerState,
    Snapshot,
    VirtualMachine,
)
from controller.vsphere.errors import PermissionDenied

__all__ = ["VM_PROPERTIES", "read_inventory", "read_vm", "read_vm_with_devices"]

_Named = TypeVar("_Named", Datacenter, Cluster, Host, Datastore, Network)

VM_PROPERTIES = (
    "name",
    "parent",
    "resourcePool",
    "config.instanceUuid",
    "config.uuid",
    "config.template",
    "config.guestId",
    "config.guestFullName",
    "config.firmware",
    "config.hardware.numCPU",
    "config.hardware.numCoresPerSocket",
    "config.hardware.memoryMB",
    "config.hardware.device",
    "config.extraConfig",
    "config.files.vmPathName",
    "config.changeTrackingEnabled",
    "runtime.powerState",
    "runtime.host",
    "guest.toolsRunningStatus",
    "guest.toolsVersionStatus2",
    "guest.net",
    "guest.ipStack",
    "snapshot",
    "datastore",
)

_PROPERTIES: Mapping[type, Sequence[str]] = {
    vim.Folder: ("name", "parent"),
    vim.Datacenter: ("name", "parent"),
    vim.ComputeResource: ("name", "parent", "host", "resourcePool"),
    vim.HostSystem: (
        "name",
        "parent",
        "summary.config.product",
        "runtime.connectionState",
        "runtime.inMaintenanceMode",
        "datastore",
        "network",
    ),
    vim.Datastore: (
        "name",
        "parent",
        "summary.type",
        "summary.capacity",
        "summary.freeSpace",
        "summary.url",
        "summary.accessible",
        "host",
    ),
    vim.Network: ("name", "parent"),
    vim.dvs.DistributedVirtualPortgroup: ("key", "config.distributedVirtualSwitch"),
    vim.DistributedVirtualSwitch: ("name", "parent", "uuid"),
    vim.VirtualMachine: VM_PROPERTIES,
    vim.LicenseManager: ("licenses", "licenseAssignmentManager"),
}

_PC = vmodl.query.PropertyCollector

_VIEW_TYPES = (
    vim.Folder,
    vim.Datacenter,
    vim.ComputeResource,
    vim.HostSystem,
    vim.Datastore,
    vim.Network,
    vim.DistributedVirtualSwitch,
    vim.VirtualMachine,
)

_SCSI = {
    vim.vm.device.ParaVirtualSCSIController: "pvscsi",
    vim.vm.device.VirtualLsiLogicSASController: "lsilogic-sas",
    vim.vm.device.VirtualLsiLogicController: "lsilogic",
    vim.vm.device.VirtualBusLogicController: "buslogic",
}
_OTHER_CONTROLLERS = {
    vim.vm.device.VirtualIDEController: "ide",
    vim.vm.device.VirtualAHCIController: "sata",
    vim.vm.device.VirtualNVMEController: "nvme",
}
_NICS = {
    vim.vm.device.VirtualVmxnet3: "vmxnet3",
    vim.vm.device.VirtualE1000e: "e1000e",
    vim.vm.device.VirtualE1000: "e1000",
    vim.vm.device.VirtualVmxnet2: "vmxnet2",
    vim.vm.device.VirtualPCNet32: "pcnet32",
    vim.vm.device.VirtualSriovEthernetCard: "sriov",
}


def read_inventory(content: Any, about: Any) -> Inventory:
    """Read everything; ``about`` is ``content.about`` (already known from the connection)."""
    is_vcenter = about.apiType == "VirtualCenter"
    with container_view(content, _VIEW_TYPES, what="the inventory") as view:
        fetched = retrieve(content, [view_traversal(view), content.licenseManager], _PROPERTIES, what="the inventory")
    by_moid = {f.moid: f for f in fetched}
    licences = next((f for f in fetched if isinstance(f.ref, vim.LicenseManager)), None)
    editions = _host_editions(licences, is_vcenter, [f for f in fetched if isinstance(f.ref, vim.HostSystem)])
    resolver = _Resolver(by_moid)
    # A datastore's own mount list and the hosts' datastore lists can each miss entries (the simulator keeps only the
    # last host in the former), so "which hosts mount it" is their union.
    mounted_by: dict[str, set[str]] = {}
    for f in fetched:
        if isinstance(f.ref, vim.HostSystem):
            for ds in _moids(f.get("datastore")):
                mounted_by.setdefault(ds, set()).add(f.moid)

    vms: list[VirtualMachine] = []
    inaccessible: list[str] = []
    for f in fetched:
        if isinstance(f.ref, vim.VirtualMachine):
            vm = to_vm(f, resolver)
            if vm is None:
                inaccessible.append(f.moid)
            else:
                vms.append(vm)
    return Inventory(
        about=About(
            name=str(about.name),
            version=str(about.version),
            build=str(about.build),
            api_type=str(about.apiType),
            api_version=str(about.apiVersion),
            instance_uuid=about.instanceUuid or None,
        ),
        datacenters=_sorted(
            Datacenter(f.moid, f.get("name", "")) for f in fetched if isinstance(f.ref, vim.Datacenter)
        ),
        clusters=_sorted(
            Cluster(f.moid, f.get("name", ""), resolver.datacenter(f.moid), _moids(f.get("host")))
            for f in fetched
            if isinstance(f.ref, vim.ClusterComputeResource)
        ),
        hosts=_sorted(_to_host(f, resolver, editions) for f in fetched if isinstance(f.ref, vim.HostSystem)),
        datastores=_sorted(
            _to_datastore(f, resolver, mounted_by.get(f.moid, set()))
            for f in fetched
            if isinstance(f.ref, vim.Datastore)
        ),
        networks=_sorted(_to_network(f, resolver) for f in fetched if isinstance(f.ref, vim.Network)),
        vms=tuple(sorted(vms, key=lambda vm: (vm.name, vm.instance_uuid))),
        inaccessible_vms=tuple(sorted(inaccessible)),
    )


class _Resolver:
    """Answers questions that need more than one object: ancestors, datacenters, switch UUIDs."""

    def __init__(self, by_moid: Mapping[str, Fetched]) -> None:
        self._by_moid = by_moid
        self._portgroups = {
            str(f.get("key")): f.moid
            for f in by_moid.values()
            if isinstance(f.ref, vim.dvs.DistributedVirtualPortgroup) and f.get("key")
        }

    def fetched(self, moid: str | None) -> Fetched | None:
        return self._by_moid.get(moid) if moid else None

    def datacenter(self, moid: str) -> str | None:
        seen: set[str] = set()
        current = self._by_moid.get(moid)
        while current is not None and current.moid not in seen:
            if isinstance(current.ref, vim.Datacenter):
                return current.moid
            seen.add(current.moid)
            current = self.fetched(_moid(current.get("parent")))
        return None

    def portgroup(self, key: str | None) -> str | None:
        # vCenter names a distributed port group's managed object after its key, so the key is the fallback.
        return self._portgroups.get(key, key) if key else None

    def name(self, moid: str | None) -> str | None:
        fetched = self.fetched(moid)
        return None if fetched is None else fetched.get("name")


def _host_editions(
    licences: Fetched | None, is_vcenter: bool, hosts: Sequence[Fetched]
) -> Mapping[str, tuple[str, str]]:
    """host moid -> (edition key, licence name)."""
    if licences is None:
        return {}
    if not is_vcenter:  # a host reached directly reports only its own licence
        installed = [lic for lic in licences.get("licenses") or () if lic.editionKey]
        if not installed:
            return {}
        return {h.moid: (str(installed[0].editionKey), str(installed[0].name)) for h in hosts}
    manager = licences.get("licenseAssignmentManager")
    if manager is None:
        return {}
    try:
        with guard("reading licence assignments"):
            assignments = manager.QueryAssignedLicenses() or ()
    except PermissionDenied:
        return {}  # an account without licence visibility still gets its inventory; editions stay unknown (None)
    return {
        str(a.entityId): (str(a.assignedLicense.editionKey), str(a.assignedLicense.name))
        for a in assignments
        if a.assignedLicense is not None
    }


def _to_host(f: Fetched, resolver: _Resolver, editions: Mapping[str, tuple[str, str]]) -> Host:
    product = f.get("summary.config.product")
    parent = resolver.fetched(_moid(f.get("parent")))
    cluster = parent.moid if parent is not None and isinstance(parent.ref, vim.ClusterComputeResource) else None
    edition, licence_name = editions.get(f.moid, (None, None))
    return Host(
        moid=f.moid,
        name=f.get("name", ""),
        datacenter=resolver.datacenter(f.moid),
        cluster=cluster,
        resource_pool=_moid(parent.get("resourcePool")) if parent is not None else None,
        version=str(product.version) if product is not None else "",
        build=str(product.build) if product is not None else "",
        connection_state=str(f.get("runtime.connectionState", "")),
        in_maintenance=bool(f.get("runtime.inMaintenanceMode", False)),
        license_edition=edition,
        license_name=licence_name,
        datastores=_moids(f.get("datastore")),
        networks=_moids(f.get("network")),
    )


def _to_datastore(f: Fetched, resolver: _Resolver, listed_by_hosts: set[str]) -> Datastore:
    mounts = f.get("host") or ()
    mounted = listed_by_hosts | {
        str(m.key._moId) for m in mounts if m.mountInfo is None or m.mountInfo.mounted in (None, True)
    }
    return Datastore(
        moid=f.moid,
        name=f.get("name", ""),
        datacenter=resolver.datacenter(f.moid),
        type=str(f.get("summary.type", "")),
        capacity_bytes=int(f.get("summary.capacity", 0)),
        free_bytes=int(f.get("summary.freeSpace", 0)),
        url=str(f.get("summary.url", "")),
        accessible=bool(f.get("summary.accessible", False)),
        hosts=tuple(sorted(mounted)),
    )


def _to_network(f: Fetched, resolver: _Resolver) -> Network:
    switch_uuid = None
    if isinstance(f.ref, vim.dvs.DistributedVirtualPortgroup):
        kind = "DistributedVirtualPortgroup"
        switch = resolver.fetched(_moid(f.get("config.distributedVirtualSwitch")))
        switch_uuid = switch.get("uuid") if switch is not None else None
    elif isinstance(f.ref, vim.OpaqueNetwork):
        kind = "OpaqueNetwork"
    else:
        kind = "Network"
    return Network(
        moid=f.moid,
        name=f.get("name", ""),
        datacenter=resolver.datacenter(f.moid),
        kind=kind,
        portgroup_key=f.get("key"),
        switch_uuid=switch_uuid,
    )


def read_vm(content: Any, vm: Any) -> VirtualMachine | None:
    """One VM's record in one call: the VM, its ancestors (for the datacenter) and its networks (for names)."""
    return read_vm_with_devices(content, vm)[0]


def read_vm_with_devices(content: Any, vm: Any) -> tuple[VirtualMachine | None, Sequence[Any]]:
    """:func:`read_vm`, plus the VM's pyVmomi device objects, which a device change must hand back."""
    networks = _PC.TraversalSpec(name="networks", path="network", skip=False, type=vim.VirtualMachine)
    spec = upward_traversal(vm)
    spec.selectSet = [*spec.selectSet, networks]
    properties: Mapping[type, Sequence[str]] = {
        vim.VirtualMachine: VM_PROPERTIES,
        vim.Folder: ("name", "parent"),
        vim.Datacenter: ("name", "parent"),
        vim.Network: ("name", "parent"),
        vim.dvs.DistributedVirtualPortgroup: ("key",),
    }
    fetched = retrieve(content, [spec], properties, what=f"virtual machine {vm._moId}")
    resolver = _Resolver({f.moid: f for f in fetched})
    record = next((f for f in fetched if isinstance(f.ref, vim.VirtualMachine) and f.moid == vm._moId), None)
    if record is None:
        return None, ()
    return to_vm(record, resolver), tuple(record.get("config.hardware.device") or ())


def to_vm(f: Fetched, resolver: _Resolver) -> VirtualMachine | None:
    """The record of one VM, or None when its configuration is unreadable (no instance UUID)."""
    instance_uuid = f.get("config.instanceUuid")
    if not instance_uuid:
        return None
    devices = f.get("config.hardware.device") or ()
    guest_ips = _guest_ips(f.get("guest.net") or ())
    extra = {str(o.key): str(o.value) for o in f.get("config.extraConfig") or ()}
    gateways, dns = _ip_stack(f.get("guest.ipStack") or ())
    return VirtualMachine(
        instance_uuid=str(instance_uuid),
        bios_uuid=f.get("config.uuid"),
        moid=f.moid,
        name=f.get("name", ""),
        datacenter=resolver.datacenter(f.moid),
        host=_moid(f.get("runtime.host")),
        resource_pool=_moid(f.get("resourcePool")),
        power_state=PowerState(str(f.get("runtime.powerState", PowerState.OFF))),
        template=bool(f.get("config.template", False)),
        guest_id=f.get("config.guestId"),
        guest_full_name=f.get("config.guestFullName"),
        tools_running_status=f.get("guest.toolsRunningStatus"),
        tools_version_status=f.get("guest.toolsVersionStatus2"),
        firmware=f.get("config.firmware"),
        num_cpus=int(f.get("config.hardware.numCPU", 0)),
        cores_per_socket=int(f.get("config.hardware.numCoresPerSocket", 0) or 1),
        memory_mb=int(f.get("config.hardware.memoryMB", 0)),
        vmx_path=f.get("config.files.vmPathName"),
        nics=tuple(
            _to_nic(d, resolver, guest_ips) for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)
        ),
        controllers=tuple(c for c in (_to_controller(d) for d in devices) if c is not None),
        disks=tuple(_to_disk(d) for d in devices if isinstance(d, vim.vm.device.VirtualDisk)),
        snapshots=_snapshots(f.get("snapshot")),
        disk_enable_uuid=_bool_option(extra.get("disk.EnableUUID")),
        change_tracking=f.get("config.changeTrackingEnabled"),
        datastores=_moids(f.get("datastore")),
        gateways=gateways,
        dns_servers=dns,
    )


def _to_controller(device: Any) -> Controller | None:
    for kinds in (_SCSI, _OTHER_CONTROLLERS):
        for cls, kind in kinds.items():
            if isinstance(device, cls):
                shared = getattr(device, "sharedBus", None)
                return Controller(int(device.key), kind, int(device.busNumber), str(shared) if shared else None)
    return None


def _to_disk(device: Any) -> Disk:
    backing = device.backing
    capacity = device.capacityInBytes or (device.capacityInKB or 0) * 1024
    datastore = getattr(backing, "datastore", None)
    return Disk(
        key=int(device.key),
        label=str(device.deviceInfo.label) if device.deviceInfo is not None else "",
        uuid=getattr(backing, "uuid", None) or None,
        file_name=str(getattr(backing, "fileName", "") or ""),
        datastore=_moid(datastore),
        capacity_bytes=int(capacity),
        controller_key=int(device.controllerKey or 0),
        unit_number=int(device.unitNumber or 0),
        mode=getattr(backing, "diskMode", None),
        thin=getattr(backing, "thinProvisioned", None),
    )


def _to_nic(device: Any, resolver: _Resolver, guest_ips: Mapping[int, tuple[GuestIp, ...]]) -> Nic:
    backing = device.backing
    network: str | None = None
    if isinstance(backing, vim.vm.device.VirtualEthernetCard.NetworkBackingInfo):
        network = _moid(backing.network)
    elif isinstance(backing, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
        network = resolver.portgroup(backing.port.portgroupKey if backing.port is not None else None)
    elif isinstance(backing, vim.vm.device.VirtualEthernetCard.OpaqueNetworkBackingInfo):
        network = None
    connectable = device.connectable
    adapter = next((kind for cls, kind in _NICS.items() if isinstance(device, cls)), type(device).__name__)
    return Nic(
        key=int(device.key),
        label=str(device.deviceInfo.label) if device.deviceInfo is not None else "",
        adapter=adapter,
        mac=device.macAddress or None,
        mac_manual=device.addressType == "manual",
        network=network,
        network_name=resolver.name(network) or getattr(backing, "deviceName", None),
        connected=bool(connectable.connected) if connectable is not None else False,
        start_connected=bool(connectable.startConnected) if connectable is not None else False,
        guest_ips=guest_ips.get(int(device.key), ()),
    )


def _guest_ips(guest_net: Iterable[Any]) -> Mapping[int, tuple[GuestIp, ...]]:
    """NIC device key -> the addresses VMware Tools reports for it (with prefix lengths when known)."""
    ips: dict[int, tuple[GuestIp, ...]] = {}
    for nic in guest_net:
        if nic.deviceConfigId is None or nic.deviceConfigId < 0:
            continue
        configured = nic.ipConfig.ipAddress if nic.ipConfig is not None else None
        if configured:
            # A prefix of 0 on an interface address means the reporter did not fill it in.
            found = tuple(GuestIp(str(a.ipAddress), a.prefixLength or None) for a in configured)
        else:
            found = tuple(GuestIp(str(a), None) for a in nic.ipAddress or ())
        ips[int(nic.deviceConfigId)] = found
    return ips


def _ip_stack(stacks: Iterable[Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    gateways: list[str] = []
    dns: list[str] = []
    for stack in stacks:
        routes = stack.ipRouteConfig.ipRoute if stack.ipRouteConfig is not None else ()
        for route in routes or ():
            if route.prefixLength == 0 and route.gateway is not None and route.gateway.ipAddress:
                gateways.append(str(route.gateway.ipAddress))
        if stack.dnsConfig is not None:
            dns.extend(str(a) for a in stack.dnsConfig.ipAddress or ())
    return tuple(dict.fromkeys(gateways)), tuple(dict.fromkeys(dns))


def _snapshots(info: Any) -> tuple[Snapshot, ...]:
    if info is None:
        return ()
    current = _moid(info.currentSnapshot)
    found: list[Snapshot] = []

    def walk(trees: Iterable[Any], parent: str | None) -> None:
        for tree in trees:
            moid = _moid(tree.snapshot) or ""
            found.append(
                Snapshot(
                    moid=moid,
                    name=str(tree.name),
                    description=str(tree.description or ""),
                    created=tree.createTime,
                    parent=parent,
                    current=moid == current,
                )
            )
            walk(tree.childSnapshotList or (), moid)

    walk(info.rootSnapshotList or (), None)
    return tuple(found)


def _bool_option(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("true", "1", "yes")


def _moid(ref: Any) -> str | None:
    return None if ref is None else str(ref._moId)


def _moids(refs: Iterable[Any] | None) -> tuple[str, ...]:
    return tuple(sorted(str(r._moId) for r in refs or ()))


def _sorted(items: Iterable[_Named]) -> tuple[_Named, ...]:
    return tuple(sorted(items, key=lambda item: (item.name, item.moid)))
