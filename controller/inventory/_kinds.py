"""The kinds of inventory objects, their stable keys, and the fields of their ``details``.

vCenter (``source_kind="vcenter"``):

=============  ==============================  ===========================================================
kind           key                             details
=============  ==============================  ===========================================================
datacenter     moid                            {}
cluster        moid                            {"datacenter", "hosts": [moid]}
host           moid                            {"datacenter", "cluster", "version", "build", "connection_state",
                                               "in_maintenance", "license_edition", "datastores", "networks"}
datastore      moid                            {"datacenter", "type", "capacity_bytes", "free_bytes", "url",
                                               "accessible", "hosts"}
network        moid                            {"datacenter", "kind", "portgroup_key", "switch_uuid"}
vm             instance UUID                   {"moid", "bios_uuid", "datacenter", "host", "power_state",
                                               "template", "guest_id", "guest_full_name", "num_cpus", "memory_mb",
                                               "firmware", "disk_enable_uuid", "change_tracking", "datastores",
                                               "tools_running_status", "disks": [...], "nics": [...],
                                               "snapshots": [...], "ip_addresses": [...]}
disk           backing UUID                    {"vm", "label", "file_name", "datastore", "capacity_bytes",
               (or "<vm uuid>:<device key>")   "controller_key", "unit_number", "bus_number", "mode", "thin"}
nic            "<vm uuid>:<device key>"        {"vm", "label", "adapter", "mac", "network", "network_name",
                                               "connected", "guest_ips"}
=============  ==============================  ===========================================================

Azure Site Recovery (``source_kind="azure"``), keyed by ARM id: ``fabric``, ``process-server``, ``master-target``,
``protection-container``, ``protected-item``, ``recovery-plan``, ``recovery-point``, ``asr-job``. Their details are
the adapter's records (``controller.azure``) as JSON, with ``protected-item`` adding ``replication_direction``,
``is_physical`` and ``azure_vm_id``.

The parent of a disk or NIC is its VM; of a VM, its host; of a host, its cluster (or datacenter); of process
servers and master targets, their fabric; of a protected item, its fabric; of a recovery point, its item.
"""

from __future__ import annotations

__all__ = ["AZURE_KINDS", "KIND_ALIASES", "VCENTER_KINDS"]

VCENTER_KINDS = ("datacenter", "cluster", "host", "datastore", "network", "vm", "disk", "nic")
AZURE_KINDS = (
    "fabric",
    "process-server",
    "master-target",
    "protection-container",
    "protected-item",
    "recovery-plan",
    "recovery-point",
    "asr-job",
)
# What failbackctl's plural subcommands list.
KIND_ALIASES = {
    "vms": ("vm",),
    "hosts": ("host",),
    "datastores": ("datastore",),
    "items": ("protected-item",),
    "plans": ("recovery-plan",),
}
