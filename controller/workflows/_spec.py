"""Failback plans written by operators: which VMs, in which boot order, through which master target and process
server, onto which datastore, with which network settings. TOML or YAML, same keys::

    name = "web-tier"
    vault = "dr-vault"                  # the registered vault the items were imported from
    vcenter = "vc1"                     # the registered vCenter to fail back into
    recovery_plan = "rp-3tier"          # optional: take the VMs and their boot order from this ASR plan
    datastore = "datastore-ssd-01"      # defaults for every VM (each VM may override)
    retention_volume = "/mnt/retention"
    master_targets = ["mt-01", "mt-02"] # placement chooses among these by free slots, retention space and load
    process_server = "ps-01"
    policy = "failback-24h"             # ASR's failback replication policy (name or id)
    run_as_account = "linux-root"       # optional, ASR's run-as account (name or id)
    rollback_window = "24h"             # how long a failover stays cancellable before it must be committed

    [network]
    map = { "VM Network" = "DR Network" }   # source network -> network at the failback site (alternate location)
    restore_static_ips = true           # re-apply the addresses recorded before failover (Linux guests)
    domain = "corp.example.com"

    [[agents]]                          # every agent the plan uses: where the controller reaches it
    name = "mt-01"
    role = "master-target"
    address = "10.0.0.5:9443"
    vm = "5012c0de-…"                   # master targets: the VM's instance UUID in vCenter
    asr_id = "…"                        # optional: the server's id in the vault (default: matched by name)

    [[vms]]
    item = "web01"                      # ASR protected item: friendly name or ARM id
    boot_group = 3                      # lower groups power on first; default: the ASR plan's order, else 1
    location = "auto"                   # auto | original | alternate
    disks = [{ id = "6000C29a-…", source = "/dev/disk/azure/scsi1/lun0", change_log = "/var/lib/fb/web01-0" }]
    ips = [{ mac = "00:50:56:…", address = "10.10.5.11", prefix = 24, gateways = ["10.10.5.1"] }]

Parsing checks every field and refuses unknown keys, naming the key; nothing is stored until a plan parses.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from controller.workflows.errors import PlanInvalid
from failback.config import Table, parse_address
from failback.errors import ConfigError

__all__ = [
    "LOCATIONS",
    "AgentSpec",
    "DiskSource",
    "NetworkSettings",
    "PlanSpec",
    "StaticIpSpec",
    "VmSpec",
    "load_plan",
    "parse_plan",
    "plan_from_json",
]

LOCATIONS = frozenset({"auto", "original", "alternate"})
_ROLES = frozenset({"master-target", "process-server"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class AgentSpec:
    name: str
    role: str
    address: str
    vm: str | None = None
    asr_id: str | None = None


@dataclass(frozen=True)
class DiskSource:
    """Where the process server reads one disk of the failed-over VM (``id`` is the protected disk's id)."""

    id: str
    source: str
    change_log: str | None = None


@dataclass(frozen=True)
class StaticIpSpec:
    address: str
    prefix: int
    mac: str | None = None
    gateways: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()


@dataclass(frozen=True)
class VmSpec:
    item: str
    boot_group: int | None = None
    location: str = "auto"
    name: str | None = None
    datastore: str | None = None
    master_target: str | None = None
    process_server: str | None = None
    retention_volume: str | None = None
    host: str | None = None
    disks: tuple[DiskSource, ...] = ()
    ips: tuple[StaticIpSpec, ...] = ()


@dataclass(frozen=True)
class NetworkSettings:
    map: Mapping[str, str] = field(default_factory=dict)
    restore_static_ips: bool = True
    domain: str = "localdomain"


@dataclass(frozen=True)
class PlanSpec:
    name: str
    vault: str
    vcenter: str
    vms: tuple[VmSpec, ...]
    agents: tuple[AgentSpec, ...]
    master_targets: tuple[str, ...]
    process_server: str
    datastore: str
    retention_volume: str
    policy: str
    recovery_plan: str | None = None
    run_as_account: str | None = None
    rollback_window: dt.timedelta = dt.timedelta(hours=24)
    network: NetworkSettings = NetworkSettings()

    def agent(self, name: str) -> AgentSpec:
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise PlanInvalid(f"plan {self.name}: no [[agents]] entry named {name!r}", remedy="add it with its address")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vault": self.vault,
            "vcenter": self.vcenter,
            "recovery_plan": self.recovery_plan,
            "datastore": self.datastore,
            "retention_volume": self.retention_volume,
            "master_targets": list(self.master_targets),
            "process_server": self.process_server,
            "policy": self.policy,
            "run_as_account": self.run_as_account,
            "rollback_window": f"{int(self.rollback_window.total_seconds())}s",
            "network": {
                "map": dict(self.network.map),
                "restore_static_ips": self.network.restore_static_ips,
                "domain": self.network.domain,
            },
            "agents": [_drop_none(vars(agent)) for agent in self.agents],
            "vms": [_vm_json(vm) for vm in self.vms],
        }


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _vm_json(vm: VmSpec) -> dict[str, Any]:
    document = _drop_none({k: v for k, v in vars(vm).items() if k not in ("disks", "ips")})
    if vm.disks:
        document["disks"] = [_drop_none(vars(disk)) for disk in vm.disks]
    if vm.ips:
        document["ips"] = [
            _drop_none({**vars(ip), "gateways": list(ip.gateways), "dns": list(ip.dns)}) for ip in vm.ips
        ]
    return document


class _Table(Table):
    def __enter__(self) -> _Table:
        return self

    def table(self, key: str) -> _Table:
        value = self._get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a table, got {type(value).__name__}")
        return _Table(self._source, value, f"{self._name}.{key}" if self._name else key)

    def tables(self, key: str) -> list[_Table]:
        value = self._get(key, [])
        if not isinstance(value, list) or not all(isinstance(entry, Mapping) for entry in value):
            raise self.error(key, "expected a list of tables")
        prefix = f"{self._name}.{key}" if self._name else key
        return [_Table(self._source, entry, f"{prefix}[{index}]") for index, entry in enumerate(value)]

    def mapping(self, key: str) -> dict[str, str]:
        value = self._get(key, {})
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self.error(key, "expected a table of strings")
        return dict(value)

    def optional_integer(self, key: str, *, minimum: int, maximum: int) -> int | None:
        if self._data.get(key) is None:
            self._seen.add(key)
            return None
        return self.integer(key, 0, minimum=minimum, maximum=maximum)


def load_plan(path: Path) -> PlanSpec:
    """Read a plan file: ``.toml``, or ``.yaml``/``.yml``."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise PlanInvalid(f"{path}: cannot read it: {exc.strerror}") from exc
    return parse_plan(text, source=str(path), yaml_syntax=path.suffix.lower() in (".yaml", ".yml"))


def parse_plan(text: str, *, source: str = "plan", yaml_syntax: bool = False) -> PlanSpec:
    try:
        data = yaml.safe_load(text) if yaml_syntax else tomllib.loads(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise PlanInvalid(f"{source}: not valid {'YAML' if yaml_syntax else 'TOML'}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise PlanInvalid(f"{source}: a plan is a table of keys, not {type(data).__name__}")
    return plan_from_json(data, source=source)


def plan_from_json(data: Mapping[str, Any], *, source: str = "plan") -> PlanSpec:
    """Build a plan from parsed keys (a file, or a plan stored by :meth:`PlanSpec.to_json`)."""
    try:
        return _read(_Table(source, data))
    except ConfigError as exc:
        raise PlanInvalid(exc.message, remedy="fix the plan file and apply it again") from exc


def _read(root: _Table) -> PlanSpec:
    with root:
        name = _name(root, "name")
        vault = root.string("vault")
        vcenter = root.string("vcenter")
        recovery_plan = root.optional_string("recovery_plan")
        datastore = root.string("datastore")
        retention_volume = root.string("retention_volume")
        master_targets = root.strings("master_targets")
        if not master_targets:
            raise root.error("master_targets", "name at least one master target")
        process_server = root.string("process_server")
        policy = root.string("policy")
        run_as_account = root.optional_string("run_as_account")
        window = root.duration("rollback_window", "24h")
        if window < dt.timedelta(minutes=5):
            raise root.error("rollback_window", "expected at least 5m")
        with root.table("network") as net:
            network = NetworkSettings(
                map=net.mapping("map"),
                restore_static_ips=net.boolean("restore_static_ips", True),
                domain=net.string("domain", "localdomain"),
            )
        agents = tuple(_agent(table) for table in root.tables("agents"))
        vms = tuple(_vm(table) for table in root.tables("vms"))
        if not vms and recovery_plan is None:
            raise root.error("vms", "list at least one VM, or name a recovery_plan to take them from")
    plan = PlanSpec(
        name=name,
        vault=vault,
        vcenter=vcenter,
        vms=vms,
        agents=agents,
        master_targets=master_targets,
        process_server=process_server,
        datastore=datastore,
        retention_volume=retention_volume,
        policy=policy,
        recovery_plan=recovery_plan,
        run_as_account=run_as_account,
        rollback_window=window,
        network=network,
    )
    _cross_check(plan, root)
    return plan


def _name(table: _Table, key: str) -> str:
    value = table.string(key)
    if not _NAME.match(value):
        raise table.error(key, f"{value!r}: use 1-63 letters, digits, '_', '.' and '-'")
    return value


def _agent(table: _Table) -> AgentSpec:
    with table:
        name = _name(table, "name")
        role = table.string("role", choices=_ROLES)
        address = table.string("address")
        try:
            parse_address(address, allow_zero_port=False)
        except ValueError as exc:
            raise table.error("address", str(exc)) from exc
        vm = table.optional_string("vm")
        if role == "master-target" and vm is None:
            raise table.error("vm", "a master target needs the instance UUID of its VM in vCenter")
        return AgentSpec(name, role, address, vm, table.optional_string("asr_id"))


def _vm(table: _Table) -> VmSpec:
    with table:
        disks = []
        for disk in table.tables("disks"):
            with disk:
                disks.append(DiskSource(disk.string("id"), disk.string("source"), disk.optional_string("change_log")))
        ips = tuple(_ip(entry) for entry in table.tables("ips"))
        return VmSpec(
            item=table.string("item"),
            boot_group=table.optional_integer("boot_group", minimum=1, maximum=100),
            location=table.string("location", "auto", choices=LOCATIONS),
            name=table.optional_string("name"),
            datastore=table.optional_string("datastore"),
            master_target=table.optional_string("master_target"),
            process_server=table.optional_string("process_server"),
            retention_volume=table.optional_string("retention_volume"),
            host=table.optional_string("host"),
            disks=tuple(disks),
            ips=ips,
        )


def _ip(table: _Table) -> StaticIpSpec:
    with table:
        address = table.string("address")
        prefix = table.integer("prefix", 24, minimum=1, maximum=32)
        gateways = table.strings("gateways")
        dns = table.strings("dns")
        for key, values in (("address", (address,)), ("gateways", gateways), ("dns", dns)):
            for value in values:
                try:
                    if ipaddress.ip_address(value).version != 4:
                        raise table.error(key, f"{value}: only IPv4 addresses can be restored")
                except ValueError as exc:
                    raise table.error(key, f"{value!r} is not an IP address") from exc
        return StaticIpSpec(address, prefix, table.optional_string("mac"), gateways, dns)


def _cross_check(plan: PlanSpec, root: _Table) -> None:
    names = [agent.name for agent in plan.agents]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise root.error("agents", f"{repeated[0]} is listed twice")
    roles = {agent.name: agent.role for agent in plan.agents}
    wanted = [(mt, "master-target", "master_targets") for mt in plan.master_targets]
    wanted.append((plan.process_server, "process-server", "process_server"))
    for vm in plan.vms:
        if vm.master_target:
            wanted.append((vm.master_target, "master-target", f"vms ({vm.item}).master_target"))
        if vm.process_server:
            wanted.append((vm.process_server, "process-server", f"vms ({vm.item}).process_server"))
    for name, role, key in wanted:
        if roles.get(name) != role:
            raise root.error(key, f"{name!r} is not a {role} listed under [[agents]]")
    items = [vm.item for vm in plan.vms]
    twice = sorted({item for item in items if items.count(item) > 1})
    if twice:
        raise root.error("vms", f"{twice[0]} is listed twice")
