"""One view of a vCenter's inventory for the doctor, built from a live read or from the stored snapshot.

A live read is the adapter's :class:`~controller.vsphere.Inventory` (one PropertyCollector query for every VM); a
stored one is the newest snapshot a refresh kept (``controller.inventory``). The snapshot does not keep storage
controllers, so a stored disk's controller is ``scsi`` (its SCSI bus is recorded) or ``non-scsi``, never the kind.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.store import InventoryItem
from controller.vsphere import Inventory, VirtualMachine
from failback.diskid import InvalidDiskId, normalize_disk_id

__all__ = [
    "DatastoreView",
    "DiskView",
    "HostView",
    "InventoryView",
    "IpView",
    "VmView",
    "disk_key",
    "os_family",
    "view_from_inventory",
    "view_from_snapshot",
]

# guestId prefixes (VirtualMachineGuestOsIdentifier) of Linux guests; Windows ones all start with "win".
_LINUX_IDS = (
    "rhel", "centos", "oracle", "sles", "suse", "opensuse", "ubuntu", "debian", "fedora", "other24xlinux",
    "other26xlinux", "other3xlinux", "other4xlinux", "other5xlinux", "other6xlinux", "otherlinux", "genericlinux",
    "asianux", "coreos", "vmwarephoton", "amazonlinux", "rockylinux", "almalinux", "mandrake", "mandriva",
    "redhat", "turbolinux", "miraclelinux", "pardus", "kylinlinux", "crxpod", "crxsys",
)  # fmt: skip


def disk_key(value: str | None) -> str | None:
    """A VMDK UUID or SCSI id normalised (``naa.6000c29...``), or None when it is in no recognised spelling."""
    if not value:
        return None
    try:
        return normalize_disk_id(value)
    except InvalidDiskId:
        return None


def os_family(guest_id: str | None, full_name: str | None = None) -> str | None:
    """``linux`` or ``windows`` from what vCenter says the guest is, or None when it does not say."""
    identifier = (guest_id or "").lower()
    if identifier.startswith("win") or "windows" in (full_name or "").lower():
        return "windows"
    if identifier.startswith(_LINUX_IDS) or "linux" in (full_name or "").lower():
        return "linux"
    return None


@dataclass(frozen=True)
class DiskView:
    id: str | None  # normalised VMDK UUID
    datastore: str | None  # moid
    controller: str  # pvscsi, lsilogic, lsilogic-sas, buslogic, ide, sata, nvme; stored: scsi or non-scsi
    file_name: str


@dataclass(frozen=True)
class IpView:
    mac: str | None
    address: str
    prefix: int | None


@dataclass(frozen=True)
class VmView:
    uuid: str  # instance UUID, lower case
    moid: str
    name: str
    host: str | None
    template: bool
    powered_on: bool
    guest_id: str | None
    guest_full_name: str | None
    tools_running_status: str | None
    tools_version_status: str | None
    enable_uuid: bool | None
    snapshots: tuple[str, ...]
    disks: tuple[DiskView, ...]
    ips: tuple[IpView, ...]  # what VMware Tools reported, per NIC

    @property
    def os_family(self) -> str | None:
        return os_family(self.guest_id, self.guest_full_name)

    @property
    def tools_installed(self) -> bool | None:
        status = self.tools_version_status
        if not status:
            return None
        return status != "guestToolsNotInstalled"

    @property
    def tools_running(self) -> bool | None:
        status = self.tools_running_status
        return None if not status else status == "guestToolsRunning"

    def ipv4(self) -> list[IpView]:
        found = []
        for ip in self.ips:
            try:
                address = ipaddress.ip_address(ip.address)
            except ValueError:
                continue
            if address.version == 4 and not (address.is_link_local or address.is_loopback or address.is_unspecified):
                found.append(ip)
        return found


@dataclass(frozen=True)
class HostView:
    moid: str
    name: str
    license_edition: str | None
    datastores: frozenset[str]


@dataclass(frozen=True)
class DatastoreView:
    moid: str
    name: str
    type: str
    free_bytes: int | None


@dataclass(frozen=True)
class InventoryView:
    vcenter: str
    live: bool
    taken_at: dt.datetime
    vms: tuple[VmView, ...]
    hosts: tuple[HostView, ...]
    datastores: tuple[DatastoreView, ...]

    def vm(self, uuid: str | None) -> VmView | None:
        wanted = (uuid or "").lower()
        return next((vm for vm in self.vms if vm.uuid == wanted), None) if wanted else None

    def host(self, moid: str | None) -> HostView | None:
        return next((host for host in self.hosts if host.moid == moid), None) if moid else None

    def datastore(self, moid_or_name: str | None) -> DatastoreView | None:
        if not moid_or_name:
            return None
        by_moid = next((ds for ds in self.datastores if ds.moid == moid_or_name), None)
        return by_moid or next((ds for ds in self.datastores if ds.name == moid_or_name), None)

    def vm_by_disks(self, disk_ids: set[str], *, exclude: Iterable[str] = ()) -> VmView | None:
        """The VM holding the most of ``disk_ids`` (normalised), ignoring templates and ``exclude`` (instance
        UUIDs: the master targets, which hold the disks while they replicate). The workflows find an item's
        on-premises VM the same way."""
        skipped = {uuid.lower() for uuid in exclude}
        best: tuple[int, VmView] | None = None
        for vm in self.vms:
            if vm.template or vm.uuid in skipped:
                continue
            held = sum(1 for disk in vm.disks if disk.id in disk_ids)
            if held and (best is None or held > best[0]):
                best = (held, vm)
        return best[1] if best else None


def _vm_view(vm: VirtualMachine) -> VmView:
    kinds = {controller.key: controller.kind for controller in vm.controllers}
    return VmView(
        uuid=vm.instance_uuid.lower(),
        moid=vm.moid,
        name=vm.name,
        host=vm.host,
        template=vm.template,
        powered_on=vm.power_state.value == "poweredOn",
        guest_id=vm.guest_id,
        guest_full_name=vm.guest_full_name,
        tools_running_status=vm.tools_running_status,
        tools_version_status=vm.tools_version_status,
        enable_uuid=vm.disk_enable_uuid,
        snapshots=tuple(s.name for s in vm.snapshots),
        disks=tuple(
            DiskView(disk_key(d.uuid), d.datastore, kinds.get(d.controller_key, "unknown"), d.file_name)
            for d in vm.disks
        ),
        ips=tuple(
            IpView(nic.mac, ip.address, ip.prefix_length) for nic in vm.nics for ip in nic.guest_ips if ip.address
        ),
    )


def view_from_inventory(vcenter: str, inventory: Inventory, taken_at: dt.datetime) -> InventoryView:
    mounted: dict[str, set[str]] = {}
    for ds in inventory.datastores:
        for host in ds.hosts:
            mounted.setdefault(host, set()).add(ds.moid)
    return InventoryView(
        vcenter=vcenter,
        live=True,
        taken_at=taken_at,
        vms=tuple(_vm_view(vm) for vm in inventory.vms),
        hosts=tuple(
            HostView(h.moid, h.name, h.license_edition, frozenset(h.datastores) | mounted.get(h.moid, set()))
            for h in inventory.hosts
        ),
        datastores=tuple(DatastoreView(ds.moid, ds.name, ds.type, ds.free_bytes) for ds in inventory.datastores),
    )


def _stored_vm(item: InventoryItem, buses: Mapping[tuple[str, int], Any]) -> VmView:
    details = item.details or {}
    uuid = item.key.lower()
    disks = []
    for disk in details.get("disks") or ():
        bus = buses.get((uuid, int(disk.get("key", 0))))
        disks.append(
            DiskView(
                disk_key(disk.get("uuid")),
                disk.get("datastore"),
                "scsi" if bus is not None else "non-scsi",
                str(disk.get("file_name") or ""),
            )
        )
    ips = [
        IpView(nic.get("mac"), str(ip.get("address")), ip.get("prefix_length"))
        for nic in details.get("nics") or ()
        for ip in nic.get("guest_ips") or ()
        if ip.get("address")
    ]
    return VmView(
        uuid=uuid,
        moid=str(details.get("moid") or ""),
        name=item.name,
        host=details.get("host"),
        template=bool(details.get("template")),
        powered_on=details.get("power_state") == "poweredOn",
        guest_id=details.get("guest_id"),
        guest_full_name=details.get("guest_full_name"),
        tools_running_status=details.get("tools_running_status"),
        tools_version_status=details.get("tools_version_status"),
        enable_uuid=details.get("disk_enable_uuid"),
        snapshots=tuple(str(s.get("name")) for s in details.get("snapshots") or ()),
        disks=tuple(disks),
        ips=tuple(ips),
    )


def view_from_snapshot(vcenter: str, items: Sequence[InventoryItem], taken_at: dt.datetime) -> InventoryView:
    """The view of a stored snapshot (``items`` of kinds host, datastore, vm and disk)."""
    buses = {
        (str((i.details or {}).get("vm")), int((i.details or {}).get("key", 0))): (i.details or {}).get("bus_number")
        for i in items
        if i.kind == "disk"
    }
    datastores = [i for i in items if i.kind == "datastore"]
    mounted: dict[str, set[str]] = {}
    for ds in datastores:
        for host in (ds.details or {}).get("hosts") or ():
            mounted.setdefault(str(host), set()).add(ds.key)
    return InventoryView(
        vcenter=vcenter,
        live=False,
        taken_at=taken_at,
        vms=tuple(_stored_vm(i, buses) for i in items if i.kind == "vm"),
        hosts=tuple(
            HostView(
                i.key,
                i.name,
                (i.details or {}).get("license_edition"),
                frozenset((i.details or {}).get("datastores") or ()) | mounted.get(i.key, set()),
            )
            for i in items
            if i.kind == "host"
        ),
        datastores=tuple(
            DatastoreView(i.key, i.name, str((i.details or {}).get("type", "")), (i.details or {}).get("free_bytes"))
            for i in datastores
        ),
    )
