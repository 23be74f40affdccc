"""Inventory against the real simulator: what each record holds, and that it costs a constant number of calls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim

from controller.vsphere import PowerState, VSphere, connect
from lab.vcsim import FREE_ESXI, Model, Simulator
from tests.vsphere.conftest import credentials_for

pytestmark = pytest.mark.vcsim


def test_hosts_carry_cluster_version_connection_and_licence(vc: VSphere) -> None:
    inventory = vc.inventory()
    (cluster,) = inventory.clusters
    assert cluster.name == "DC0_C0"
    assert len(cluster.hosts) == 3
    standalone = next(h for h in inventory.hosts if h.name == "DC0_H0")
    assert standalone.cluster is None
    for host in inventory.hosts:
        assert host.datacenter == inventory.datacenters[0].moid
        assert host.version == "6.5.0"
        assert host.build
        assert host.connection_state == "connected"
        assert host.license_edition == "eval"
        assert host.resource_pool is not None
    assert {h.moid for h in inventory.hosts if h.cluster == cluster.moid} == set(cluster.hosts)


def test_a_datastore_lists_capacity_free_space_and_every_host_that_mounts_it(vc: VSphere) -> None:
    inventory = vc.inventory()
    datastore = inventory.datastore_named("LocalDS_0")
    assert datastore is not None
    assert datastore.type == "OTHER"  # the simulator's local datastores
    assert datastore.capacity_bytes > datastore.free_bytes > 0
    assert datastore.accessible
    assert set(datastore.hosts) == {h.moid for h in inventory.hosts}


def test_an_nfs_datastore_is_typed_and_mounted_only_where_added(operator: Any, vc: VSphere, tmp_path: Path) -> None:
    export = tmp_path / "nfs-export"
    export.mkdir()
    hosts = [h for h in vc.inventory().hosts if h.cluster is not None][:2]
    for host in hosts:
        system = vim.HostSystem(host.moid, operator.rootFolder._stub).configManager.datastoreSystem
        spec = vim.host.NasVolume.Specification(
            remoteHost="nfs.example", remotePath=str(export), localPath=str(export), accessMode="readWrite", type="NFS"
        )
        system.CreateNasDatastore(spec)
    datastore = vc.inventory().datastore_named("nfs-export")
    assert datastore is not None
    assert datastore.type == "NFS"
    assert set(datastore.hosts) == {h.moid for h in hosts}


def test_a_vm_record_holds_identity_hardware_disks_and_nics(vc: VSphere) -> None:
    inventory = vc.inventory()
    vm = next(v for v in inventory.vms if v.name == "DC0_C0_RP0_VM0")
    assert len(vm.instance_uuid) == 36
    assert vm.bios_uuid is not None
    assert vm.bios_uuid != vm.instance_uuid
    assert vm.power_state is PowerState.ON
    assert vm.guest_id == "otherGuest"
    assert vm.firmware == "bios"
    assert (vm.num_cpus, vm.memory_mb) == (1, 32)
    assert vm.tools_running_status == "guestToolsRunning"  # the simulator runs Tools with a powered-on guest (fix 7)
    assert vm.host in {h.moid for h in inventory.hosts}
    (controller,) = vm.scsi_controllers
    assert (controller.kind, controller.bus_number) == ("pvscsi", 0)
    (disk,) = vm.disks
    assert disk.file_name == "[LocalDS_0] DC0_C0_RP0_VM0/disk1.vmdk"
    assert disk.uuid is not None
    assert disk.uuid.startswith("6000C29")
    assert disk.capacity_bytes == 1024 * 1024
    assert disk.controller_key == controller.key
    assert disk.unit_number == 0
    assert vm.position(disk) is not None
    (nic,) = vm.nics
    assert nic.mac is not None
    assert nic.mac.startswith("00:0c:29")
    network = next(n for n in inventory.networks if n.moid == nic.network)
    assert (network.name, network.kind) == ("DC0_DVPG0", "DistributedVirtualPortgroup")
    assert nic.network_name == "DC0_DVPG0"
    assert vm.datastores == (inventory.datastore_named("LocalDS_0").moid,)  # type: ignore[union-attr]
    assert vm.snapshots == ()
    assert vm.disk_enable_uuid is None


def test_extra_config_and_snapshots_show_in_the_next_inventory(vc: VSphere) -> None:
    vm = next(v for v in vc.inventory().vms if v.name == "DC0_H0_VM1")
    vc.set_extra_config(vm.instance_uuid, {"disk.EnableUUID": "TRUE"})
    first = vc.create_snapshot(vm.instance_uuid, "before-failback")
    second = vc.create_snapshot(vm.instance_uuid, "after-sync")
    record = vc.inventory().vm(vm.instance_uuid)
    assert record is not None
    assert record.disk_enable_uuid is True
    assert [(s.name, s.parent, s.current) for s in record.snapshots] == [
        ("before-failback", None, False),
        ("after-sync", first.moid, True),
    ]
    assert second.current


def test_a_vm_is_found_by_instance_uuid_and_an_unknown_uuid_finds_nothing(vc: VSphere) -> None:
    wanted = vc.inventory().vms[0]
    assert vc.find_vm(wanted.instance_uuid) == wanted
    assert vc.find_vm("00000000-0000-0000-0000-000000000000") is None


def test_inventory_costs_the_same_round_trips_for_10_and_200_vms(
    start_simulator: Callable[[Model], Simulator],
) -> None:
    costs = {}
    for vms_per_pool in (5, 100):
        sim = start_simulator(Model(vms=vms_per_pool))
        with connect(credentials_for(sim)) as vc:
            before = vc.round_trips_by_method()
            inventory = vc.inventory()
            after = vc.round_trips_by_method()
        costs[len(inventory.vms)] = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert set(costs) == {10, 200}
    assert (
        costs[10]
        == costs[200]
        == {
            "CreateContainerView": 1,
            "RetrievePropertiesEx": 1,
            "DestroyView": 1,
            "QueryAssignedLicenses": 1,
        }
    )


def test_a_host_reached_directly_presents_its_free_esxi_licence(start_simulator: Callable[[Model], Simulator]) -> None:
    sim = start_simulator(Model(esx=True, license=FREE_ESXI))
    with connect(credentials_for(sim)) as vc:
        inventory = vc.inventory()
    assert inventory.about.api_type == "HostAgent"
    (host,) = inventory.hosts
    assert (host.license_edition, host.license_name) == ("esxBasic", FREE_ESXI.name)
