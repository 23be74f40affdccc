"""Build vSphere specs from records: a VM's configuration to recreate it, and a guest customisation to restore its
static IP addresses. Pure functions (pyVmomi data objects only, no calls), validated before anything is sent.

A recreated VM gets the recorded hardware (firmware, CPUs, memory, SCSI controllers with their types and buses, NICs
with their adapter types) but no disks: the replica disks are attached afterwards at the recorded positions.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim

from controller.vsphere._devices import controller_spec
from controller.vsphere._records import Network, Nic, VirtualMachine
from controller.vsphere.errors import InvalidRequest, NotSupported

__all__ = ["StaticIp", "config_spec", "customization_spec", "extra_config_spec", "static_ips", "validate_name"]

_NIC_CLASSES: dict[str, Any] = {
    "vmxnet3": vim.vm.device.VirtualVmxnet3,
    "e1000e": vim.vm.device.VirtualE1000e,
    "e1000": vim.vm.device.VirtualE1000,
    "vmxnet2": vim.vm.device.VirtualVmxnet2,
    "pcnet32": vim.vm.device.VirtualPCNet32,
}
_NAME_FORBIDDEN = re.compile(r"[/\\\[\]%]|\.\.")
_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def validate_name(name: str, *, what: str, limit: int = 80) -> str:
    """A name that is safe both as a vSphere object name and as one datastore path component."""
    if not name or len(name) > limit or name != name.strip() or _NAME_FORBIDDEN.search(name):
        raise InvalidRequest(
            f"{what} {name!r} is not usable",
            remedy=f"use 1-{limit} characters without / \\ [ ] %, '..' or surrounding spaces",
        )
    return name


def config_spec(
    record: VirtualMachine,
    *,
    name: str,
    datastore_name: str,
    networks: Mapping[str, Network],
    preserve_identity: bool,
) -> vim.vm.ConfigSpec:
    """The spec that recreates ``record`` as ``name`` on ``datastore_name``.

    ``networks`` maps each recorded NIC's network moid to the network to use. With ``preserve_identity`` the BIOS
    UUID and MAC addresses are kept (what the guest sees); otherwise vCenter assigns new ones.
    """
    validate_name(name, what="VM name")
    devices: list[vim.vm.device.VirtualDeviceSpec] = []
    for index, controller in enumerate(record.scsi_controllers):
        devices.append(controller_spec(controller.kind, controller.bus_number, -(100 + index)))
    for index, nic in enumerate(record.nics):
        devices.append(_nic_spec(nic, _target_network(nic, networks), -(200 + index), preserve_identity))
    spec = vim.vm.ConfigSpec(
        name=name,
        guestId=record.guest_id or "otherGuest64",
        numCPUs=record.num_cpus,
        numCoresPerSocket=record.cores_per_socket,
        memoryMB=record.memory_mb,
        files=vim.vm.FileInfo(vmPathName=f"[{datastore_name}]"),
        deviceChange=devices,
    )
    if record.firmware:
        spec.firmware = record.firmware
    if record.disk_enable_uuid is not None:
        spec.extraConfig = [vim.option.OptionValue(key="disk.EnableUUID", value=str(record.disk_enable_uuid).upper())]
    if preserve_identity and record.bios_uuid:
        spec.uuid = record.bios_uuid
    return spec


def _target_network(nic: Nic, networks: Mapping[str, Network]) -> Network:
    target = networks.get(nic.network) if nic.network else None
    if target is None:
        raise InvalidRequest(
            f"NIC {nic.label} was on network {nic.network_name or nic.network or '(unknown)'}, "
            "which has no target network",
            remedy="map every recorded network to a network at the failback site",
        )
    return target


def _nic_spec(nic: Nic, network: Network, key: int, preserve_identity: bool) -> vim.vm.device.VirtualDeviceSpec:
    cls = _NIC_CLASSES.get(nic.adapter)
    if cls is None:
        raise InvalidRequest(
            f"NIC {nic.label} is a {nic.adapter} adapter, which cannot be recreated",
            remedy=f"change the recorded adapter to one of {sorted(_NIC_CLASSES)}",
        )
    device = cls(
        key=key,
        backing=_nic_backing(network),
        connectable=vim.vm.device.VirtualDevice.ConnectInfo(
            startConnected=nic.start_connected, allowGuestControl=True, connected=False
        ),
    )
    if preserve_identity and nic.mac:
        device.addressType = "manual"
        device.macAddress = nic.mac
    else:
        device.addressType = "generated"
    return vim.vm.device.VirtualDeviceSpec(operation=vim.vm.device.VirtualDeviceSpec.Operation.add, device=device)


def _nic_backing(network: Network) -> vim.vm.device.VirtualDevice.BackingInfo:
    if network.kind == "DistributedVirtualPortgroup":
        if not network.switch_uuid or not network.portgroup_key:
            raise InvalidRequest(f"distributed port group {network.name} has no switch UUID or key")
        port = vim.dvs.PortConnection(switchUuid=network.switch_uuid, portgroupKey=network.portgroup_key)
        return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(port=port)
    if network.kind == "OpaqueNetwork":
        raise NotSupported(f"NSX network {network.name}: recreating NICs on opaque networks is not supported yet")
    return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(
        deviceName=network.name, network=vim.Network(network.moid)
    )


def extra_config_spec(values: Mapping[str, str]) -> vim.vm.ConfigSpec:
    if not values:
        raise InvalidRequest("no extraConfig values given")
    for key in values:
        if not key or key != key.strip() or any(c.isspace() for c in key):
            raise InvalidRequest(f"extraConfig key {key!r} is not usable", remedy="use a key without spaces")
    return vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=k, value=v) for k, v in values.items()])


@dataclass(frozen=True)
class StaticIp:
    """A static IPv4 setting for the NIC with MAC ``mac``: ``address/prefix_length``, gateways and DNS servers."""

    mac: str
    address: str
    prefix_length: int
    gateways: tuple[str, ...] = ()
    dns_servers: tuple[str, ...] = ()


def static_ips(record: VirtualMachine) -> tuple[StaticIp, ...]:
    """The first IPv4 address of each NIC as VMware Tools reported it, with the VM's gateways and DNS servers."""
    found: list[StaticIp] = []
    for nic in record.nics:
        if nic.mac is None:
            continue
        for ip in nic.guest_ips:
            address = ipaddress.ip_address(ip.address)
            if address.version == 4 and not address.is_link_local and ip.prefix_length is not None:
                gateways = tuple(
                    g
                    for g in record.gateways
                    if ipaddress.ip_address(g) in ipaddress.ip_network(f"{ip.address}/{ip.prefix_length}", strict=False)
                )
                found.append(StaticIp(nic.mac, ip.address, ip.prefix_length, gateways, record.dns_servers))
                break
    return tuple(found)


def customization_spec(
    record: VirtualMachine, settings: Sequence[StaticIp], *, hostname: str, domain: str
) -> vim.vm.customization.Specification:
    """A Linux guest customisation giving the NICs in ``settings`` their static addresses and the rest DHCP.

    Windows guests are refused: vSphere customises them with sysprep, which would give the server a new identity.
    """
    if record.guest_id and record.guest_id.lower().startswith("win"):
        raise NotSupported(
            f"VM {record.name} runs Windows; vSphere would customise it with sysprep and change its identity",
            remedy="restore the addresses from inside the guest instead",
        )
    if not _HOSTNAME.fullmatch(hostname):
        raise InvalidRequest(f"host name {hostname!r} is not a valid DNS label", remedy="use letters, digits and -")
    if not domain or any(not _HOSTNAME.fullmatch(label) for label in domain.split(".")):
        raise InvalidRequest(f"domain {domain!r} is not a DNS domain", remedy="e.g. corp.example.com or localdomain")
    by_mac = {s.mac.lower(): s for s in settings}
    unknown = set(by_mac) - {n.mac.lower() for n in record.nics if n.mac}
    if unknown:
        raise InvalidRequest(f"no NIC of VM {record.name} has MAC {', '.join(sorted(unknown))}")
    mappings = []
    dns: list[str] = []
    for nic in record.nics:  # vSphere pairs settings with NICs by order: one mapping per NIC, in device order
        setting = by_mac.get((nic.mac or "").lower())
        adapter = vim.vm.customization.IPSettings()
        if setting is None:
            adapter.ip = vim.vm.customization.DhcpIpGenerator()
        else:
            interface = _ipv4_interface(setting)
            adapter.ip = vim.vm.customization.FixedIp(ipAddress=str(interface.ip))
            adapter.subnetMask = str(interface.netmask)
            adapter.gateway = [str(_ipv4(g, "gateway")) for g in setting.gateways]
            dns.extend(str(_ipv4(d, "DNS server")) for d in setting.dns_servers)
        mappings.append(vim.vm.customization.AdapterMapping(macAddress=nic.mac, adapter=adapter))
    return vim.vm.customization.Specification(
        identity=vim.vm.customization.LinuxPrep(
            hostName=vim.vm.customization.FixedName(name=hostname), domain=domain, hwClockUTC=True
        ),
        globalIPSettings=vim.vm.customization.GlobalIPSettings(dnsServerList=list(dict.fromkeys(dns))),
        nicSettingMap=mappings,
    )


def _ipv4_interface(setting: StaticIp) -> ipaddress.IPv4Interface:
    try:
        interface = ipaddress.ip_interface(f"{setting.address}/{setting.prefix_length}")
    except ValueError as exc:
        raise InvalidRequest(f"{setting.address}/{setting.prefix_length} is not an IP address with a prefix") from exc
    if not isinstance(interface, ipaddress.IPv4Interface):
        raise NotSupported(f"{setting.address}: restoring IPv6 addresses is not supported yet")
    return interface


def _ipv4(value: str, what: str) -> ipaddress.IPv4Address:
    try:
        address = ipaddress.ip_address(value)
    except ValueError as exc:
        raise InvalidRequest(f"{what} {value!r} is not an IP address") from exc
    if not isinstance(address, ipaddress.IPv4Address):
        raise NotSupported(f"{what} {value}: IPv6 is not supported yet")
    return address
