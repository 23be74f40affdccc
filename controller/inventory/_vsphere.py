"""A vCenter's inventory (``controller.vsphere.Inventory``) as inventory objects keyed by stable ids."""

from __future__ import annotations

from controller.inventory._plain import plain
from controller.store import InventoryItem
from controller.vsphere import Inventory, VirtualMachine

__all__ = ["vsphere_items"]


def vsphere_items(inventory: Inventory) -> list[InventoryItem]:
    items = [InventoryItem("datacenter", dc.moid, dc.name, None, {}) for dc in inventory.datacenters]
    items += [
        InventoryItem("cluster", c.moid, c.name, c.datacenter, {"datacenter": c.datacenter, "hosts": list(c.hosts)})
        for c in inventory.clusters
    ]
    for host in inventory.hosts:
        details = plain(host)
        del details["moid"], details["name"]
        items.append(InventoryItem("host", host.moid, host.name, host.cluster or host.datacenter, details))
    for ds in inventory.datastores:
        details = plain(ds)
        del details["moid"], details["name"]
        items.append(InventoryItem("datastore", ds.moid, ds.name, ds.datacenter, details))
    for net in inventory.networks:
        details = plain(net)
        del details["moid"], details["name"]
        items.append(InventoryItem("network", net.moid, net.name, net.datacenter, details))
    for vm in inventory.vms:
        items += _vm_items(vm)
    return items


def _vm_items(vm: VirtualMachine) -> list[InventoryItem]:
    uuid = vm.instance_uuid.lower()
    details = plain(vm)
    for key in ("instance_uuid", "name", "controllers", "vmx_path", "cores_per_socket"):
        details.pop(key, None)
    details["ip_addresses"] = sorted({ip.address for nic in vm.nics for ip in nic.guest_ips})
    items = [InventoryItem("vm", uuid, vm.name, vm.host, details)]
    for disk in vm.disks:
        position = vm.position(disk)
        disk_details = plain(disk) | {
            "vm": uuid,
            "bus_number": position.bus_number if position else None,
        }
        key = disk.uuid.lower() if disk.uuid else f"{uuid}:{disk.key}"
        items.append(InventoryItem("disk", key, f"{vm.name} {disk.label}", uuid, disk_details))
    for nic in vm.nics:
        nic_details = plain(nic) | {"vm": uuid}
        items.append(InventoryItem("nic", f"{uuid}:{nic.key}", f"{vm.name} {nic.label}", uuid, nic_details))
    return items
