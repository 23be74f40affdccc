"""The vSphere adapter: inventory and VM, disk, snapshot, power, customisation and privilege operations on vCenter
or ESXi through pyVmomi, returning typed records and raising the errors in :mod:`controller.vsphere.errors`.

::

    with connect(Credentials(host="vc.example.com", user="failback@vsphere.local", password=secret,
                             ca_file=Path("/etc/failback/vcenter-ca.pem"))) as vc:
        inventory = vc.inventory()
"""

from controller.vsphere._client import REPLICA_FOLDER, Deadlines, VSphere, connect
from controller.vsphere._connection import Credentials
from controller.vsphere._devices import MAX_SCSI_BUSES, SCSI_UNITS, SlotPlan, plan_disk_slot
from controller.vsphere._power import PowerControl, ShutdownOutcome, shutdown_with_fallback
from controller.vsphere._privileges import (
    REQUIRED_PRIVILEGES,
    EntityKind,
    EntityPrivileges,
    Permission,
    PrivilegeReport,
    PrivilegeTarget,
    Role,
    effective_privileges,
    evaluate,
    privilege_target,
)
from controller.vsphere._records import (
    SCSI_KINDS,
    About,
    Cluster,
    Controller,
    Datacenter,
    Datastore,
    Disk,
    DiskPosition,
    GuestIp,
    Host,
    Inventory,
    Network,
    Nic,
    PowerState,
    Snapshot,
    VirtualMachine,
)
from controller.vsphere._specs import StaticIp, customization_spec, static_ips
from controller.vsphere._tasks import TaskLike, wait_for_task

__all__ = [
    "MAX_SCSI_BUSES",
    "REPLICA_FOLDER",
    "REQUIRED_PRIVILEGES",
    "SCSI_KINDS",
    "SCSI_UNITS",
    "About",
    "Cluster",
    "Controller",
    "Credentials",
    "Datacenter",
    "Datastore",
    "Deadlines",
    "Disk",
    "DiskPosition",
    "EntityKind",
    "EntityPrivileges",
    "GuestIp",
    "Host",
    "Inventory",
    "Network",
    "Nic",
    "Permission",
    "PowerControl",
    "PowerState",
    "PrivilegeReport",
    "PrivilegeTarget",
    "Role",
    "ShutdownOutcome",
    "SlotPlan",
    "Snapshot",
    "StaticIp",
    "TaskLike",
    "VSphere",
    "VirtualMachine",
    "connect",
    "customization_spec",
    "effective_privileges",
    "evaluate",
    "plan_disk_slot",
    "privilege_target",
    "shutdown_with_fallback",
    "static_ips",
    "wait_for_task",
]
