"""The lab: a whole failback site on one machine, consistent from vSphere to the guest's disks.

``failbackctl lab up|status|down`` (``controller/cli/_lab.py``) drive it; product code never imports it.
"""

from lab.vcsim import Model
from lab.world._drill import DrillFailed, DrillSettings, run_drill
from lab.world._drill_view import RichObserver
from lab.world._drill_view import final_table as drill_table
from lab.world._layout import (
    LAB_VMS,
    MASTER_TARGET,
    PHYSICAL_SERVER,
    PROCESS_SERVER,
    Layout,
    Shape,
    VmSpec,
    default_dir,
)
from lab.world._restart import controller_proc, restart_controller, wait_controller_gone
from lab.world._status import SCHEMA, status
from lab.world._up import down, up
from lab.world._workload import WorkloadSettings
from lab.world.errors import LabError, LabExists, LabNotFound, LabStartError

# One datacenter, one standalone host mounting two datastores (the lab's VMs live on the first; a plan may choose the
# second for a VM that fails back as a new VM), no model VMs: the lab creates its own.
LAB_MODEL = Model(clusters=0, hosts_per_cluster=0, standalone_hosts=1, vms=0, datastores=2, portgroups=0)

__all__ = [
    "LAB_MODEL",
    "LAB_VMS",
    "MASTER_TARGET",
    "PHYSICAL_SERVER",
    "PROCESS_SERVER",
    "SCHEMA",
    "DrillFailed",
    "DrillSettings",
    "LabError",
    "LabExists",
    "LabNotFound",
    "LabStartError",
    "Layout",
    "RichObserver",
    "Shape",
    "VmSpec",
    "WorkloadSettings",
    "controller_proc",
    "default_dir",
    "down",
    "drill_table",
    "restart_controller",
    "run_drill",
    "status",
    "up",
    "wait_controller_gone",
]
