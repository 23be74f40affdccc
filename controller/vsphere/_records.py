"""Typed, immutable records of what the adapter read from vCenter or ESXi.

Objects are named by their managed object id (``moid``: ``host-12``, ``datastore-3``), which is stable for the life
of the object within one vCenter; virtual machines by their instance UUID, which also survives re-registration.
Records hold plain values only (no pyVmomi objects), so the controller can store and compare them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "SCSI_KINDS",
    "About",
    "Cluster",
    "Controller",
    "Datacenter",
    "Datastore",
    "Disk",
    "DiskPosition",
    "GuestIp",
    "Host",
    "Inventory",
    "Network",
    "Nic",
    "PowerState",
    "Snapshot",
    "VirtualMachine",
]

SCSI_KINDS = frozenset({"pvscsi", "lsilogic", "lsilogic-sas", "buslogic"})


class PowerState(enum.StrEnum):
    ON = "poweredOn"
    OFF = "poweredOff"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class About:
    """The endpoint: ``api_type`` is ``VirtualCenter`` for vCenter, ``HostAgent`` for a host reached directly."""

    name: str
    version: str
    build: str
    api_type: str
    api_version: str
    instance_uuid: str | None


@dataclass(frozen=True)
class Datacenter:
    moid: str
    name: str


@dataclass(frozen=True)
class Cluster:
    moid: str
    name: str
    datacenter: str | None
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Host:
    """A host; ``license_edition`` is the edition key (``esxBasic`` is a free ESXi, whose API is read-only)."""

    moid: str
    name: str
    datacenter: str | None
    cluster: str | None
    resource_pool: str | None
    version: str
    build: str
    connection_state: str
    in_maintenance: bool
    license_edition: str | None
    license_name: str | None
    datastores: tuple[str, ...]
    networks: tuple[str, ...]


@dataclass(frozen=True)
class Datastore:
    """A datastore; ``type`` as vSphere reports it (``VMFS``, ``vsan``, ``NFS``, ``NFS41``, ``VVOL``, ``OTHER``)."""

    moid: str
    name: str
    datacenter: str | None
    type: str
    capacity_bytes: int
    free_bytes: int
    url: str
    accessible: bool
    hosts: tuple[str, ...]  # hosts that have it mounted


@dataclass(frozen=True)
class Network:
    """A standard port group (``Network``), distributed port group or opaque (NSX) network."""

    moid: str
    name: str
    datacenter: str | None
    kind: str  # "Network", "DistributedVirtualPortgroup" or "OpaqueNetwork"
    portgroup_key: str | None
    switch_uuid: str | None


@dataclass(frozen=True)
class GuestIp:
    address: str
    prefix_length: int | None


@dataclass(frozen=True)
class Nic:
    key: int
    label: str
    adapter: str  # "vmxnet3", "e1000e", "e1000", "vmxnet2", "pcnet32", "sriov"
    mac: str | None
    mac_manual: bool
    network: str | None  # moid, when the backing names a known network
    network_name: str | None
    connected: bool
    start_connected: bool
    guest_ips: tuple[GuestIp, ...]


@dataclass(frozen=True)
class Controller:
    """A storage controller; ``kind`` is one of :data:`SCSI_KINDS` or ``ide``, ``sata``, ``nvme``."""

    key: int
    kind: str
    bus_number: int
    shared_bus: str | None


@dataclass(frozen=True)
class DiskPosition:
    """Where a disk sits: SCSI bus ``bus_number`` (scsiB:U), unit ``unit_number``."""

    bus_number: int
    unit_number: int


@dataclass(frozen=True)
class Disk:
    """A virtual disk. ``uuid`` is ``backing.uuid``: the guest sees it as the disk's SCSI identifier when the VM has
    ``disk.EnableUUID`` set, and it stays with the VMDK file when the disk moves to another VM."""

    key: int
    label: str
    uuid: str | None
    file_name: str
    datastore: str | None
    capacity_bytes: int
    controller_key: int
    unit_number: int
    mode: str | None
    thin: bool | None


@dataclass(frozen=True)
class Snapshot:
    moid: str
    name: str
    description: str
    created: datetime | None
    parent: str | None  # moid of the parent snapshot
    current: bool


@dataclass(frozen=True)
class VirtualMachine:
    instance_uuid: str
    bios_uuid: str | None
    moid: str
    name: str
    datacenter: str | None
    host: str | None
    resource_pool: str | None
    power_state: PowerState
    template: bool
    guest_id: str | None
    guest_full_name: str | None
    tools_running_status: str | None
    tools_version_status: str | None
    firmware: str | None
    num_cpus: int
    cores_per_socket: int
    memory_mb: int
    vmx_path: str | None
    nics: tuple[Nic, ...]
    controllers: tuple[Controller, ...]
    disks: tuple[Disk, ...]
    snapshots: tuple[Snapshot, ...]
    disk_enable_uuid: bool | None  # extraConfig disk.EnableUUID; None when unset
    change_tracking: bool | None
    datastores: tuple[str, ...]
    gateways: tuple[str, ...]  # guest default gateways, from VMware Tools
    dns_servers: tuple[str, ...]

    @property
    def scsi_controllers(self) -> tuple[Controller, ...]:
        return tuple(c for c in self.controllers if c.kind in SCSI_KINDS)

    def position(self, disk: Disk) -> DiskPosition | None:
        """Where ``disk`` sits on a SCSI controller, or None on another kind of controller."""
        for controller in self.scsi_controllers:
            if controller.key == disk.controller_key:
                return DiskPosition(controller.bus_number, disk.unit_number)
        return None


@dataclass(frozen=True)
class Inventory:
    about: About
    datacenters: tuple[Datacenter, ...]
    clusters: tuple[Cluster, ...]
    hosts: tuple[Host, ...]
    datastores: tuple[Datastore, ...]
    networks: tuple[Network, ...]
    vms: tuple[VirtualMachine, ...]
    inaccessible_vms: tuple[str, ...]  # moids of VMs whose configuration could not be read (orphaned, inaccessible)

    def vm(self, instance_uuid: str) -> VirtualMachine | None:
        wanted = instance_uuid.lower()
        return next((vm for vm in self.vms if vm.instance_uuid.lower() == wanted), None)

    def host(self, moid: str) -> Host | None:
        return next((host for host in self.hosts if host.moid == moid), None)

    def datastore(self, moid: str) -> Datastore | None:
        return next((ds for ds in self.datastores if ds.moid == moid), None)

    def datastore_named(self, name: str, datacenter: str | None = None) -> Datastore | None:
        return next(
            (ds for ds in self.datastores if ds.name == name and datacenter in (None, ds.datacenter)),
            None,
        )

    def network_named(self, name: str, datacenter: str | None = None) -> Network | None:
        return next(
            (net for net in self.networks if net.name == name and datacenter in (None, net.datacenter)),
            None,
        )
