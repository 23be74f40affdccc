"""Failback to a new VM, on one lab with a physical server (``lab up --physical``): app01's on-premises VM is deleted
before reprotect, so it fails back to an alternate location (a new VM on the master target's host and the datastore
the plan chooses, configured like the source as ASR recorded it); phys01, a physical server, always fails back as a
new VM. Both get a full initial sync; a planned failover puts the replica disks on the new VMs, which must hold the
source at its last bookmark. Real agents, the vSphere simulator, the local Azure endpoint.

The tests run in order on one lab.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim

from controller.agents import PairState
from lab.world import MASTER_TARGET, PHYSICAL_SERVER
from tests.workflows_e2e.support import LabDriver, lab_up

# The first test of the module also brings the lab up and reprotects (a few minutes on a busy 2-core machine).
pytestmark = [pytest.mark.vcsim, pytest.mark.slow, pytest.mark.timeout(900)]

_ITEMS = ("app01", PHYSICAL_SERVER.name)
_CHOSEN = "LocalDS_1"  # the lab's VMs live on LocalDS_0; the plan sends app01's new VM to the other datastore
_BLOCK = 4096


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, vcsim_binary: Path) -> Iterator[LabDriver]:
    with lab_up(tmp_path_factory.mktemp("new-vm") / "lab", "--physical") as driver:
        original = 'item = "app01"\nlocation = "original"\n'
        plan = driver.layout.plan.read_text()
        assert original in plan
        driver.apply_plan(plan.replace(original, f'item = "app01"\nlocation = "auto"\ndatastore = "{_CHOSEN}"\n'))
        yield driver


def _data_bytes(path: str) -> int:
    zero = bytes(_BLOCK)
    count = 0
    with open(path, "rb") as disk:
        while block := disk.read(_BLOCK):
            count += block != zero[: len(block)]
    return count * _BLOCK


@pytest.fixture(scope="module")
def reprotected(lab: LabDriver) -> dict[str, Any]:
    lab.delete_onprem_vm("app01")
    # What a full sync must send at least: every block holding data now (the workload only adds data).
    before = {
        d["disk_id"]: _data_bytes(d["source"]) for vm in lab.record.vms if vm["name"] in _ITEMS for d in vm["disks"]
    }
    document = lab.run("reprotect", *_ITEMS)
    return {"job": document, "data_bytes": before}


def _spec(lab: LabDriver, name: str) -> dict[str, Any]:
    return next(vm for vm in lab.record.vms if vm["name"] == name)["hardware"]


def _new_vm(lab: LabDriver, si: Any, item: str) -> Any:
    record = lab.items()[item]["record"]
    vm = lab.find_vm(si, record["vm_name"])
    assert vm is not None, f"no VM {record['vm_name']} in the simulator"
    assert vm.config.instanceUuid == record["vm"]
    return vm


def _assert_configured_like_the_source(lab: LabDriver, si: Any, item: str, datastore: str) -> Any:
    vm = _new_vm(lab, si, item)
    source = _spec(lab, item)
    master_target = lab.find_vm(si, MASTER_TARGET.name)
    assert master_target is not None
    assert vm.runtime.host == master_target.runtime.host
    assert vm.config.files.vmPathName.startswith(f"[{datastore}] ")
    hardware = vm.config.hardware
    assert (hardware.numCPU, hardware.memoryMB, vm.config.firmware) == (
        source["cpus"],
        source["memory_mb"],
        source["firmware"],
    )
    nics = [d for d in hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    assert [(type(n).__name__, n.backing.deviceName) for n in nics] == [
        ("vim.vm.device.VirtualVmxnet3", network) for network in source["nics"]
    ]
    assert [type(d).__name__ for d in hardware.device if isinstance(d, vim.vm.device.VirtualSCSIController)] == [
        "vim.vm.device.ParaVirtualSCSIController"
    ]
    return vm


def _vm_disks(vm: Any) -> list[tuple[str, int, int]]:
    """(file, capacity, unit) of each disk of the VM, in unit order."""
    disks = [d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    return sorted((d.backing.fileName, d.capacityInBytes, d.unitNumber) for d in disks)


def test_a_vm_that_no_longer_exists_fails_back_as_a_new_vm_configured_like_the_source(lab: LabDriver, reprotected):
    record = lab.items()["app01"]["record"]
    assert record["location"] == "alternate"
    assert any("no on-premises VM has the protected disks" in reason for reason in record["reasons"])
    with lab.simulator() as si:
        vm = _assert_configured_like_the_source(lab, si, "app01", _CHOSEN)
        assert vm.runtime.powerState == "poweredOff"
        # Until the failover, its replica disks (one per source disk, the source's size, on the chosen datastore)
        # are attached to the master target, not to the new VM.
        assert _vm_disks(vm) == []
        on_mt = {(f, size) for f, size, _ in _vm_disks(lab.find_vm(si, MASTER_TARGET.name))}
    sizes = [d["size_bytes"] for d in next(vm for vm in lab.record.vms if vm["name"] == "app01")["disks"]]
    replicas = [(d["file"], d["capacity_bytes"]) for d in record["disks"]]
    assert replicas == [
        (f"[{_CHOSEN}] failback-replicas/{record['vm_name']}/disk-{i}.vmdk", size) for i, size in enumerate(sizes)
    ]
    assert set(replicas) <= on_mt


def test_a_physical_server_fails_back_as_a_new_vm_configured_like_the_source(lab: LabDriver, reprotected):
    record = lab.items()[PHYSICAL_SERVER.name]["record"]
    assert record["location"] == "alternate"
    assert record["reasons"] == ["physical servers always fail back as a new VM"]
    with lab.simulator() as si:
        _assert_configured_like_the_source(lab, si, PHYSICAL_SERVER.name, lab.record.vcenter["datastore"]["name"])
    assert [d["capacity_bytes"] for d in record["disks"]] == list(PHYSICAL_SERVER.disk_bytes)


def test_a_new_vm_gets_a_full_initial_sync(lab: LabDriver, reprotected):
    for item in _ITEMS:
        assert lab.items()[item]["state"] == "replicating"
        for disk in lab.pairs(item):
            target = lab.mt.pair(disk["pair_id"])  # first: the sender's counters only grow after it
            source = lab.ps.pair(disk["pair_id"])
            assert source is not None
            assert target is not None
            assert (source.state, target.state) == (PairState.REPLICATING, PairState.REPLICATING)
            # The replica started empty: every block that held data had to cross the wire.
            assert source.plain_bytes_sent >= reprotected["data_bytes"][disk["source_id"]]
            assert 0 < target.bytes_received <= source.plain_bytes_sent


def test_a_planned_failover_puts_the_replica_disks_on_the_new_vms_holding_the_source(lab: LabDriver, reprotected):
    lab.run("failover", *_ITEMS, kind="planned", point="latest-app")
    with lab.simulator() as si:
        for item in _ITEMS:
            assert lab.items()[item]["state"] == "failed-over"
            record = lab.items()[item]["record"]
            vm = _new_vm(lab, si, item)
            assert vm.runtime.powerState == "poweredOn"
            assert _vm_disks(vm) == [(d["file"], d["capacity_bytes"], unit) for unit, d in enumerate(record["disks"])]
            last = lab.bookmarks(item)[-1]
            assert last["tag"] == "shutdown"
            points = {where["id"] for where in record["point"].values()}
            assert points == {last["id"]}
            assert {a["verdict"] for a in record["attestation"].values()} == {"match"}
            assert lab.oracle_mismatches(item, last["id"]) == []
