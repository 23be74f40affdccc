"""The Azure side of the lab, one process: the local Azure endpoint (Site Recovery, Compute, Entra ID token) for an
estate that matches the simulator, and the Azure VMs' workloads writing their disks.

The estate says what happened before the lab starts: the on-premises VMs web01, app01 and db01 (in the simulator)
were protected to Azure (InMageAzureV2) and failed over; the failover was committed, so each is a protected item in
``UnplannedFailoverCommitted`` whose disks carry the on-premises VMDKs' UUIDs, and an Azure VM that runs. The
configuration server's fabric lists the lab's process server and master targets by the names their agents registered
with, and holds the VMs in its own protection group or, for a lab of several groups, in the groups the lab names.
The workloads follow the estate's power states, so an ASR or Compute action that stops a VM stops its writes.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from pathlib import Path
from typing import Any

from lab.azure import (
    AzureVm,
    Datastore,
    Disk,
    Estate,
    Fabric,
    Item,
    LocalAzure,
    MasterTarget,
    Policy,
    ProcessServer,
    RecoveryPoint,
    RetentionVolume,
    RunAsAccount,
)
from lab.world._layout import MASTER_TARGET, PROCESS_SERVER, Layout, Record
from lab.world._workload import Workload, WorkloadDisk, WorkloadSettings

__all__ = ["MULTI_VM_GROUP", "AzureSide", "build_estate", "lab_id"]

_NAMESPACE = uuid.UUID("5b1f7a52-2f4e-4c1b-9a43-6c6162666c62")  # the lab's: ids are stable across labs
_CONFIG_SERVER = "cs-lab"
# The multi-VM consistency group the lab's "mobility service" stamps on its shared bookmarks. An operator names it
# after the failback group, which the controller makes from the protection group (here the configuration server's
# one container, which the endpoint names like its fabric) as "<group>_Failback", and registers the pairs under.
MULTI_VM_GROUP = f"{_CONFIG_SERVER}_Failback"
_ASR_FIRMWARE = {"bios": "BIOS", "efi": "UEFI"}


def lab_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


def build_estate(record: Record, layout: Layout) -> Estate:
    azure = record.azure
    now = datetime.datetime.now(datetime.UTC)
    failed_over = now - datetime.timedelta(days=3)
    mts = [
        MasterTarget(
            id=lab_id(name),
            name=name,
            ip_address="127.0.0.1",
            os_type="Linux",
            retention_volumes=[RetentionVolume(str(layout.retention), 8 << 30, 6 << 30)],
            # Every datastore its host mounts, as the configuration server reports them.
            datastores=[Datastore(ds, lab_id(ds), "100.0", "80.0") for ds in record.vcenter["datastores"]],
            disk_count=1,
            last_heartbeat=now,
        )
        for name in record.master_targets or [MASTER_TARGET.name]
    ]
    ps = ProcessServer(
        id=lab_id(PROCESS_SERVER),
        friendly_name=PROCESS_SERVER,
        ip_address="127.0.0.1",
        os_type="Linux",
        machine_count=str(len(record.vms)),
        replication_pair_count="0",
        last_heartbeat=now,
    )
    fabric = Fabric(
        name=lab_id("config-server"),
        friendly_name=_CONFIG_SERVER,
        host_name="cs-lab.lab.local",
        ip_address="127.0.0.1",
        process_servers=[ps],
        master_targets=mts,
        run_as_accounts=[RunAsAccount("1", "vcenter-lab"), RunAsAccount("2", "linux-root")],
        containers=[f"cloud_{lab_id('container')}"],
    )
    for group in sorted({vm["group"] for vm in record.vms if vm.get("group")}):
        fabric.containers.append(_container(group))
        fabric.container_names[_container(group)] = group
    items, vms = [], []
    for vm in record.vms:
        hardware = vm.get("hardware", {})
        items.append(
            Item(
                name=lab_id(f"item-{vm['name']}"),
                fabric=fabric.name,
                container=_container(vm["group"]) if vm.get("group") else fabric.containers[0],
                friendly_name=vm["name"],
                physical=bool(vm.get("physical")),
                provider="InMageAzureV2",
                policy="lab-24h",
                os_type="Linux",
                ip_address="127.0.0.1",
                disks=[Disk(d["disk_id"], d["file_name"] or d["disk_id"], d["size_bytes"]) for d in vm["disks"]],
                azure_vm=vm["name"],
                process_server_id=ps.id,
                firmware_type=_ASR_FIRMWARE[hardware.get("firmware", "bios")],
                cpu_count=int(hardware.get("cpus", 1)),
                memory_mb=int(hardware.get("memory_mb", 512)),
                nic_networks=list(hardware.get("nics", ())),
                vcenter_id="vcenter-lab",
                recovery_points=[RecoveryPoint("rp-before-failover", failed_over, "ApplicationConsistent")],
                failover_recovery_point="rp-before-failover",
                last_failover=failed_over,
            )
        )
        vms.append(
            AzureVm(
                azure["resource_group"],
                vm["name"],
                vm_id=lab_id(f"azure-vm-{vm['name']}"),
                computer_name=vm["name"],
                os_name="Debian 12",
            )
        )
    return Estate(
        subscription_id=azure["subscription_id"],
        resource_group=azure["resource_group"],
        vault=azure["vault"],
        fabrics=[fabric],
        policies=[Policy("lab-24h", "lab-24-hour-retention"), Policy("lab-failback-24h", "lab-failback-24h")],
        items=items,
        vms=vms,
        page_size=50,
    )


def _container(group: str) -> str:
    return f"cloud_{lab_id(f'container-{group}')}"


def consistency_group(vm: dict[str, Any]) -> str:
    """The multi-VM consistency group a lab VM's shared bookmarks carry: its failback group's name."""
    return f"{vm['group']}_Failback" if vm.get("group") else MULTI_VM_GROUP


class AzureSide:
    """The endpoint and the workloads; :meth:`start` serves, :meth:`stop` closes every tracker cleanly."""

    def __init__(self, record: Record, layout: Layout, secret: str, settings: WorkloadSettings | None = None) -> None:
        azure = record.azure
        self.estate = build_estate(record, layout)
        self.endpoint = LocalAzure(
            self.estate,
            tls_dir=layout.azure / "tls",
            token=f"lab-{uuid.uuid4().hex}",
            principals={(azure["tenant_id"], azure["client_id"]): secret},
        )
        self._state_file = layout.azure / "state.json"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.workloads = []
        for index, vm in enumerate(record.vms):
            disks = [WorkloadDisk(d["disk_id"], Path(d["source"]), Path(d["change_log"])) for d in vm["disks"]]
            self.workloads.append(
                Workload(
                    vm["name"],
                    disks,
                    layout.bookmarks(vm["name"]),
                    self._runs(vm["name"]),
                    settings,
                    seed=index,
                    group=consistency_group(vm),
                )
            )

    def _runs(self, name: str) -> Any:
        vm = self.estate.vm(name)
        return lambda: vm.power_state in ("running", "starting")

    def start(self) -> str:
        self.endpoint.__enter__()
        for workload in self.workloads:
            thread = threading.Thread(target=workload.run, args=(self._stop,), name=f"workload-{workload.vm}")
            thread.start()
            self._threads.append(thread)
        return self.endpoint.base_url

    def publish(self) -> None:
        """Write ``azure/state.json``: each VM's power state and each item's protection state, for ``lab status``."""
        state = {
            "vms": {vm.name: vm.power_state for vm in self.estate.vms},
            "items": {item.friendly_name: item.protection_state for item in self.estate.items},
        }
        tmp = self._state_file.with_name("state.json.tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
        tmp.replace(self._state_file)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.endpoint.__exit__(None, None, None)
