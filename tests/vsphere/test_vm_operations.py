"""VM operations against the real simulator: recreate from a record, power, guest shutdown, snapshots, guest
customisation, privileges read back, and faults arriving as the adapter's errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pyVmomi import vim, vmodl

from controller.vsphere import (
    EntityKind,
    GuestIp,
    PowerState,
    ShutdownOutcome,
    StaticIp,
    VirtualMachine,
    VSphere,
    privilege_target,
)
from controller.vsphere.errors import InvalidRequest, ObjectNotFound, WrongState

pytestmark = pytest.mark.vcsim


def _template(vc: VSphere, name: str = "DC0_H0_VM0") -> VirtualMachine:
    return next(v for v in vc.inventory().vms if v.name == name)


def _recreate(vc: VSphere, name: str, **kwargs: Any) -> VirtualMachine:
    template = _template(vc)
    datastore = vc.inventory().datastore_named("LocalDS_0")
    assert datastore is not None
    assert template.host is not None
    return vc.create_vm(template, name=name, host=template.host, datastore=datastore.moid, **kwargs)


def test_a_vm_recreated_from_its_record_has_the_recorded_hardware_and_no_disks(
    vc: VSphere, unique: Callable[[str], str]
) -> None:
    template = _template(vc)
    name = unique("recreated")
    created = _recreate(vc, name)
    assert created.name == name
    assert created.instance_uuid != template.instance_uuid
    assert created.bios_uuid != template.bios_uuid
    assert created.power_state is PowerState.OFF
    assert created.host == template.host
    assert (created.guest_id, created.firmware, created.num_cpus, created.memory_mb) == (
        template.guest_id,
        template.firmware,
        template.num_cpus,
        template.memory_mb,
    )
    assert [(c.kind, c.bus_number) for c in created.scsi_controllers] == [
        (c.kind, c.bus_number) for c in template.scsi_controllers
    ]
    assert [(n.adapter, n.network) for n in created.nics] == [(n.adapter, n.network) for n in template.nics]
    assert created.nics[0].mac != template.nics[0].mac
    assert created.disks == ()
    assert vc.find_vm(created.instance_uuid) == created


def test_preserving_identity_keeps_the_bios_uuid_and_mac_addresses(vc: VSphere, unique: Callable[[str], str]) -> None:
    template = _template(vc)
    created = _recreate(vc, unique("same-identity"), preserve_identity=True)
    assert created.bios_uuid == template.bios_uuid
    assert [n.mac for n in created.nics] == [n.mac for n in template.nics]
    assert all(n.mac_manual for n in created.nics)


def test_networks_are_mapped_to_the_target_site(vc: VSphere, unique: Callable[[str], str]) -> None:
    template = _template(vc)
    standard = vc.inventory().network_named("VM Network")
    assert standard is not None
    assert template.nics[0].network is not None
    created = _recreate(vc, unique("mapped"), networks={template.nics[0].network: standard.moid})
    assert [(n.network, n.network_name) for n in created.nics] == [(standard.moid, "VM Network")]


def test_a_missing_target_network_is_refused_before_creating_anything(
    vc: VSphere, unique: Callable[[str], str]
) -> None:
    template = _template(vc)
    assert template.nics[0].network is not None
    name = unique("nonet")
    with pytest.raises(ObjectNotFound, match="not in the datacenter"):
        _recreate(vc, name, networks={template.nics[0].network: "network-does-not-exist"})
    assert all(v.name != name for v in vc.inventory().vms)


def test_a_vm_on_a_missing_datastore_is_not_found(vc: VSphere, unique: Callable[[str], str]) -> None:
    template = _template(vc)
    assert template.host is not None
    with pytest.raises(ObjectNotFound):
        vc.create_vm(template, name=unique("nods"), host=template.host, datastore="datastore-does-not-exist")


def test_power_on_and_off_are_idempotent(vc: VSphere, unique: Callable[[str], str]) -> None:
    vm = _recreate(vc, unique("power"))
    vc.power_on(vm.instance_uuid)
    vc.power_on(vm.instance_uuid)
    assert vc.vm(vm.instance_uuid).power_state is PowerState.ON
    vc.power_off(vm.instance_uuid)
    vc.power_off(vm.instance_uuid)
    assert vc.vm(vm.instance_uuid).power_state is PowerState.OFF


def test_guest_shutdown_stops_a_running_vm_and_leaves_a_stopped_one(vc: VSphere, unique: Callable[[str], str]) -> None:
    vm = _recreate(vc, unique("shutdown"))
    vc.power_on(vm.instance_uuid)
    assert vc.shutdown_guest(vm.instance_uuid, deadline=30) is ShutdownOutcome.GUEST
    assert vc.vm(vm.instance_uuid).power_state is PowerState.OFF
    assert vc.shutdown_guest(vm.instance_uuid, deadline=30) is ShutdownOutcome.ALREADY_OFF


def test_snapshots_are_created_reverted_and_removed(vc: VSphere, unique: Callable[[str], str]) -> None:
    vm = _recreate(vc, unique("snap"))
    base = vc.create_snapshot(vm.instance_uuid, "base", description="before the sync")
    top = vc.create_snapshot(vm.instance_uuid, "top")
    assert (base.name, base.description, top.parent) == ("base", "before the sync", base.moid)
    vc.revert_snapshot(vm.instance_uuid, base.moid)
    assert [s.name for s in vc.vm(vm.instance_uuid).snapshots if s.current] == ["base"]
    vc.remove_snapshot(vm.instance_uuid, top.moid)
    assert [s.name for s in vc.vm(vm.instance_uuid).snapshots] == ["base"]
    vc.remove_snapshot(vm.instance_uuid, base.moid)
    assert vc.vm(vm.instance_uuid).snapshots == ()


def test_an_unknown_snapshot_is_not_found(vc: VSphere, unique: Callable[[str], str]) -> None:
    vm = _recreate(vc, unique("nosnap"))
    with pytest.raises(ObjectNotFound, match="no snapshot"):
        vc.revert_snapshot(vm.instance_uuid, "snapshot-does-not-exist")


def test_operations_on_an_unknown_vm_are_not_found(vc: VSphere) -> None:
    with pytest.raises(ObjectNotFound, match="instance UUID"):
        vc.power_on("00000000-0000-0000-0000-000000000000")


def test_customisation_restores_a_static_address_at_power_on(vc: VSphere, unique: Callable[[str], str]) -> None:
    vm = _recreate(vc, unique("static"))
    (nic,) = vm.nics
    assert nic.mac is not None
    setting = StaticIp(nic.mac, "10.20.30.40", 24, gateways=("10.20.30.1",), dns_servers=("10.20.30.2",))
    vc.customize_guest(vm.instance_uuid, [setting], hostname="web01", domain="corp.example")
    vc.power_on(vm.instance_uuid)
    (restored,) = vc.vm(vm.instance_uuid).nics
    assert restored.guest_ips == (GuestIp("10.20.30.40", None),)


def test_customising_a_running_vm_is_a_wrong_state_error(vc: VSphere, unique: Callable[[str], str]) -> None:
    vm = _recreate(vc, unique("running"))
    vc.power_on(vm.instance_uuid)
    assert vm.nics[0].mac is not None
    with pytest.raises(WrongState) as caught:
        vc.customize_guest(vm.instance_uuid, [StaticIp(vm.nics[0].mac, "10.0.0.5", 24)], hostname="h", domain="d")
    assert caught.value.fault == "vim.fault.InvalidPowerState"
    assert isinstance(caught.value.__cause__, vim.fault.InvalidPowerState)


def test_bad_extra_config_keys_are_refused_before_any_call(vc: VSphere) -> None:
    before = vc.round_trips
    with pytest.raises(InvalidRequest):
        vc.set_extra_config("4210aaaa-0000-0000-0000-000000000000", {"disk EnableUUID": "TRUE"})
    assert vc.round_trips == before


def test_the_session_privileges_are_read_back_per_datastore_and_host(vc: VSphere) -> None:
    inventory = vc.inventory()
    targets = [privilege_target(ds) for ds in inventory.datastores] + [privilege_target(h) for h in inventory.hosts]
    targets.append(privilege_target(next(n for n in inventory.networks if n.name == "DC0_DVPG0")))
    report = vc.check_privileges(targets)
    assert report.user == vc.user
    assert report.ok  # the simulator grants every privilege to every session
    assert {e.target.moid for e in report.entities} == {t.moid for t in targets}
    datastore = next(e for e in report.entities if e.target.kind is EntityKind.DATASTORE)
    assert "Datastore.Browse" in datastore.granted


def test_a_read_only_principal_is_shown_unable_to_use_datastores(vc: VSphere, operator: Any) -> None:
    inventory = vc.inventory()
    datacenter = vim.Datacenter(inventory.datacenters[0].moid, operator.rootFolder._stub)
    read_only = next(r.roleId for r in operator.authorizationManager.roleList if r.name == "ReadOnly")
    permission = vim.AuthorizationManager.Permission(
        principal="VSPHERE.LOCAL\\readonly-svc", group=False, roleId=read_only, propagate=True
    )
    operator.authorizationManager.SetEntityPermissions(entity=datacenter, permission=[permission])
    targets = [privilege_target(ds) for ds in inventory.datastores]
    report = vc.principal_privileges("vsphere.local\\READONLY-SVC", targets)
    assert not report.ok
    for entity in report.entities:
        assert "System.Read" in entity.granted
        assert {"Datastore.Browse", "Datastore.AllocateSpace"} <= entity.missing
    assert all("will not discover it" in line for line in report.problems())
    # The simulator gives "admin" and the group "root" the Admin role on the root folder; a user permission on the
    # datacenter is closer than that, so membership of "root" does not lift the read-only account.
    assert vc.principal_privileges("admin", targets).ok
    assert vc.principal_privileges("someone", targets, groups=["root"]).ok
    assert not vc.principal_privileges("VSPHERE.LOCAL\\readonly-svc", targets, groups=["root"]).ok


def test_a_fault_keeps_its_name_and_original_exception(vc: VSphere) -> None:
    with pytest.raises(ObjectNotFound) as caught:
        vc.create_replica_disk("datastore-gone", "vm", "disk0", 1024)
    assert caught.value.fault == "vmodl.fault.ManagedObjectNotFound"
    assert isinstance(caught.value.__cause__, vmodl.fault.ManagedObjectNotFound)
