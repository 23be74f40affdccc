"""Specs built from records: recreating a VM's hardware, and restoring its static addresses."""

from __future__ import annotations

import dataclasses

import pytest
from pyVmomi import vim

from controller.vsphere import (
    Controller,
    GuestIp,
    Network,
    Nic,
    PowerState,
    StaticIp,
    VirtualMachine,
    customization_spec,
    static_ips,
)
from controller.vsphere._specs import config_spec
from controller.vsphere.errors import InvalidRequest, NotSupported

DVPG = Network("dvportgroup-13", "prod", "datacenter-2", "DistributedVirtualPortgroup", "dvportgroup-13", "50 2a")
STANDARD = Network("network-7", "VM Network", "datacenter-2", "Network", None, None)


def _nic(key: int, mac: str, network: str, ips: tuple[GuestIp, ...] = ()) -> Nic:
    return Nic(key, f"Network adapter {key}", "vmxnet3", mac, False, network, None, True, True, ips)


RECORD = VirtualMachine(
    instance_uuid="5012aaaa-0000-0000-0000-000000000001",
    bios_uuid="4212bbbb-0000-0000-0000-000000000001",
    moid="vm-12",
    name="web01",
    datacenter="datacenter-2",
    host="host-4",
    resource_pool="resgroup-1",
    power_state=PowerState.ON,
    template=False,
    guest_id="rhel9_64Guest",
    guest_full_name="Red Hat Enterprise Linux 9 (64-bit)",
    tools_running_status="guestToolsRunning",
    tools_version_status="guestToolsCurrent",
    firmware="efi",
    num_cpus=4,
    cores_per_socket=2,
    memory_mb=8192,
    vmx_path="[san-01] web01/web01.vmx",
    nics=(
        _nic(4000, "00:50:56:aa:00:01", "dvportgroup-13", (GuestIp("fe80::1", 64), GuestIp("10.1.2.3", 24))),
        _nic(4001, "00:50:56:aa:00:02", "network-7", (GuestIp("192.168.9.9", None),)),
    ),
    controllers=(
        Controller(1000, "pvscsi", 0, "noSharing"),
        Controller(1001, "lsilogic-sas", 1, "noSharing"),
        Controller(200, "ide", 0, None),
    ),
    disks=(),
    snapshots=(),
    disk_enable_uuid=True,
    change_tracking=True,
    datastores=("datastore-9",),
    gateways=("10.1.2.1", "172.16.0.1"),
    dns_servers=("10.1.0.53",),
)


def test_a_recreated_vm_gets_the_recorded_hardware() -> None:
    spec = config_spec(
        RECORD,
        name="web01-failback",
        datastore_name="san-02",
        networks={"dvportgroup-13": DVPG, "network-7": STANDARD},
        preserve_identity=False,
    )
    assert (spec.name, spec.guestId, spec.firmware) == ("web01-failback", "rhel9_64Guest", "efi")
    assert (spec.numCPUs, spec.numCoresPerSocket, spec.memoryMB) == (4, 2, 8192)
    assert spec.files.vmPathName == "[san-02]"
    assert [(o.key, o.value) for o in spec.extraConfig] == [("disk.EnableUUID", "TRUE")]
    assert spec.uuid is None
    devices = [change.device for change in spec.deviceChange]
    controllers = [d for d in devices if isinstance(d, vim.vm.device.VirtualSCSIController)]
    assert [(type(c), c.busNumber) for c in controllers] == [
        (vim.vm.device.ParaVirtualSCSIController, 0),
        (vim.vm.device.VirtualLsiLogicSASController, 1),
    ]
    nics = [d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    assert all(isinstance(n, vim.vm.device.VirtualVmxnet3) for n in nics)
    assert nics[0].backing.port.portgroupKey == "dvportgroup-13"
    assert nics[1].backing.deviceName == "VM Network"
    assert {n.addressType for n in nics} == {"generated"}
    assert len({d.key for d in devices}) == len(devices)
    assert all(d.key < 0 for d in devices)


def test_preserving_identity_keeps_bios_uuid_and_macs() -> None:
    spec = config_spec(
        RECORD,
        name="web01",
        datastore_name="san-02",
        networks={"dvportgroup-13": DVPG, "network-7": STANDARD},
        preserve_identity=True,
    )
    assert spec.uuid == RECORD.bios_uuid
    nics = [c.device for c in spec.deviceChange if isinstance(c.device, vim.vm.device.VirtualEthernetCard)]
    assert [(n.addressType, n.macAddress) for n in nics] == [
        ("manual", "00:50:56:aa:00:01"),
        ("manual", "00:50:56:aa:00:02"),
    ]


def test_a_nic_without_a_target_network_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="no target network"):
        config_spec(
            RECORD, name="web01", datastore_name="ds", networks={"dvportgroup-13": DVPG}, preserve_identity=False
        )


@pytest.mark.parametrize("name", ["", " web", "a/b", "x" * 81, "[ds]", "a..b"])
def test_an_unusable_vm_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidRequest):
        config_spec(RECORD, name=name, datastore_name="ds", networks={}, preserve_identity=False)


def test_static_ips_come_from_the_first_ipv4_address_with_a_prefix_and_its_gateway() -> None:
    assert static_ips(RECORD) == (StaticIp("00:50:56:aa:00:01", "10.1.2.3", 24, ("10.1.2.1",), ("10.1.0.53",)),)


def test_customisation_gives_listed_nics_their_address_and_the_others_dhcp_in_device_order() -> None:
    spec = customization_spec(RECORD, static_ips(RECORD), hostname="web01", domain="corp.example")
    first, second = spec.nicSettingMap
    assert first.macAddress == "00:50:56:aa:00:01"
    assert first.adapter.ip.ipAddress == "10.1.2.3"
    assert first.adapter.subnetMask == "255.255.255.0"
    assert first.adapter.gateway == ["10.1.2.1"]
    assert isinstance(second.adapter.ip, vim.vm.customization.DhcpIpGenerator)
    assert spec.globalIPSettings.dnsServerList == ["10.1.0.53"]
    assert spec.identity.hostName.name == "web01"


def test_windows_guests_are_not_customised() -> None:
    windows = dataclasses.replace(RECORD, guest_id="windows2019srv_64Guest")
    with pytest.raises(NotSupported, match="sysprep"):
        customization_spec(windows, static_ips(RECORD), hostname="web01", domain="corp.example")


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        (StaticIp("00:50:56:aa:00:99", "10.1.2.3", 24), InvalidRequest),
        (StaticIp("00:50:56:aa:00:01", "10.1.2.300", 24), InvalidRequest),
        (StaticIp("00:50:56:aa:00:01", "10.1.2.3", 33), InvalidRequest),
        (StaticIp("00:50:56:aa:00:01", "2001:db8::5", 64), NotSupported),
        (StaticIp("00:50:56:aa:00:01", "10.1.2.3", 24, gateways=("gateway",)), InvalidRequest),
    ],
)
def test_bad_static_settings_are_refused(setting: StaticIp, error: type[Exception]) -> None:
    with pytest.raises(error):
        customization_spec(RECORD, [setting], hostname="web01", domain="corp.example")


@pytest.mark.parametrize(("hostname", "domain"), [("web_01", "corp.example"), ("web01", ""), ("web01", "bad..dom")])
def test_bad_names_are_refused(hostname: str, domain: str) -> None:
    with pytest.raises(InvalidRequest):
        customization_spec(RECORD, [], hostname=hostname, domain=domain)
