"""The lab's own pyVmomi calls to the simulator: create the lab's VMs, read every VM's disks in one query, follow
changes with ``WaitForUpdatesEx``, and say which local file holds a VMDK's bytes.

A VMDK ``[LocalDS_0] web01/web01.vmdk`` keeps its bytes in the extent ``<datastore url>/web01/web01-flat.vmdk``
(simulator fix 6 sizes it to the disk's capacity), as on ESXi. This module is lab tooling: product code has its own
adapter (``controller.vsphere``) and never imports this one.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from failback.retry import Policy
from lab.world.errors import LabError

__all__ = [
    "Controller",
    "VmDisk",
    "VmFacts",
    "VmWatcher",
    "connect",
    "create_vm",
    "datastore_urls",
    "extent_path",
    "first_network",
    "read_vms",
]

_PROPS = ["name", "config.instanceUuid", "config.hardware.device", "config.extraConfig", "runtime.powerState"]
_TASK_WAIT = Policy(deadline=60.0, initial=0.01, maximum=0.5)
_KINDS: tuple[tuple[Any, str], ...] = (
    (vim.vm.device.ParaVirtualSCSIController, "pvscsi"),
    (vim.vm.device.VirtualLsiLogicSASController, "lsilogic-sas"),
    (vim.vm.device.VirtualLsiLogicController, "lsilogic"),
    (vim.vm.device.VirtualBusLogicController, "buslogic"),
)


@dataclass(frozen=True)
class Controller:
    key: int
    bus: int
    kind: str


@dataclass(frozen=True)
class VmDisk:
    uuid: str
    file_name: str
    capacity_bytes: int
    bus: int
    unit: int


@dataclass(frozen=True)
class VmFacts:
    moid: str
    name: str
    instance_uuid: str
    power_state: str
    enable_uuid: bool
    controllers: tuple[Controller, ...]
    disks: tuple[VmDisk, ...]


@contextlib.contextmanager
def connect(url_host: str, port: int, username: str, password: str, ca_file: Path) -> Iterator[Any]:
    """A pyVmomi ServiceInstance verified against the simulator's certificate; disconnected on exit."""
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        si = SmartConnect(  # type: ignore[no-untyped-call]
            host=url_host, port=port, user=username, pwd=password, sslContext=context
        )
    except (OSError, vim.fault.InvalidLogin) as exc:
        raise LabError(f"cannot log in to the simulator at {url_host}:{port}: {exc}") from exc
    try:
        yield si
    finally:
        Disconnect(si)  # type: ignore[no-untyped-call]


def _facts(moid: str, props: dict[str, Any]) -> VmFacts:
    devices: list[Any] = props.get("config.hardware.device") or []
    controllers = []
    device: Any
    for device in devices:
        for kind_type, kind in _KINDS:
            if isinstance(device, kind_type):
                controllers.append(Controller(device.key, device.busNumber, kind))
                break
    bus_of = {c.key: c.bus for c in controllers}
    disks = []
    for device in devices:
        if not isinstance(device, vim.vm.device.VirtualDisk) or device.controllerKey not in bus_of:
            continue
        backing: Any = device.backing
        capacity = device.capacityInBytes or (device.capacityInKB or 0) * 1024
        disks.append(
            VmDisk(backing.uuid or "", backing.fileName, capacity, bus_of[device.controllerKey], device.unitNumber or 0)
        )
    extra = {option.key: str(option.value) for option in props.get("config.extraConfig") or []}
    return VmFacts(
        moid=moid,
        name=props.get("name", ""),
        instance_uuid=props.get("config.instanceUuid", ""),
        power_state=str(props.get("runtime.powerState", "")),
        enable_uuid=extra.get("disk.EnableUUID", "").upper() == "TRUE",
        controllers=tuple(sorted(controllers, key=lambda c: c.bus)),
        disks=tuple(sorted(disks, key=lambda d: (d.bus, d.unit))),
    )


def _filter_spec(view: Any) -> Any:
    traversal = vmodl.query.PropertyCollector.TraversalSpec(
        name="view", path="view", skip=False, type=vim.view.ContainerView
    )
    return vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[traversal])],
        propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.VirtualMachine, pathSet=_PROPS)],
    )


def read_vms(si: Any) -> dict[str, VmFacts]:
    """Every VM by name, with its controllers and disks: one RetrievePropertiesEx."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        result = content.propertyCollector.RetrievePropertiesEx(
            [_filter_spec(view)], vmodl.query.PropertyCollector.RetrieveOptions()
        )
        found: dict[str, VmFacts] = {}
        while result is not None:
            for obj in result.objects:
                facts = _facts(obj.obj._moId, {prop.name: prop.val for prop in obj.propSet})
                found[facts.name] = facts
            if not result.token:
                break
            result = content.propertyCollector.ContinueRetrievePropertiesEx(result.token)
        return found
    finally:
        view.Destroy()


class VmWatcher:
    """Follows every VM's disks with ``WaitForUpdatesEx`` on its own PropertyCollector (so it never disturbs other
    users of the session). :meth:`wait` returns the full current picture when something changed, or None after
    ``max_wait`` whole seconds without a change."""

    def __init__(self, si: Any) -> None:
        content = si.RetrieveContent()
        self._view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        self._collector = content.propertyCollector.CreatePropertyCollector()
        self._collector.CreateFilter(_filter_spec(self._view), partialUpdates=False)
        self._version = ""
        self._props: dict[str, dict[str, Any]] = {}

    def wait(self, max_wait: int) -> dict[str, VmFacts] | None:
        options = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=max_wait)
        update = self._collector.WaitForUpdatesEx(self._version, options)
        if update is None:
            return None
        self._version = update.version
        for filter_update in update.filterSet:
            for change in filter_update.objectSet:
                moid = change.obj._moId
                if change.kind == "leave":
                    self._props.pop(moid, None)
                    continue
                props = self._props.setdefault(moid, {})
                for item in change.changeSet:
                    if item.op == "remove":
                        props.pop(item.name, None)
                    else:
                        props[item.name] = item.val
        return {facts.name: facts for facts in (_facts(moid, props) for moid, props in self._props.items())}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._collector.DestroyPropertyCollector()
        with contextlib.suppress(Exception):
            self._view.Destroy()


def datastore_urls(si: Any) -> dict[str, Path]:
    """Datastore name -> the local directory that holds its files."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.Datastore], True)
    try:
        return {ds.name: Path(ds.info.url) for ds in view.view}
    finally:
        view.Destroy()


def first_network(si: Any) -> str | None:
    """The name of the first host's first network: where :func:`create_vm` puts a VM's NIC."""
    host = si.RetrieveContent().rootFolder.childEntity[0].hostFolder.childEntity[0].host[0]
    return str(host.network[0].name) if host.network else None


def extent_path(file_name: str, urls: dict[str, Path]) -> Path:
    """The local file holding the bytes of the VMDK ``[ds] dir/name.vmdk``: ``<url>/dir/name-flat.vmdk``."""
    if not file_name.startswith("[") or "]" not in file_name or not file_name.endswith(".vmdk"):
        raise LabError(f"{file_name!r} is not a VMDK datastore path")
    datastore, _, rest = file_name[1:].partition("]")
    if datastore not in urls:
        raise LabError(f"{file_name}: the simulator has no datastore {datastore!r}")
    return urls[datastore] / (rest.strip()[: -len(".vmdk")] + "-flat.vmdk")


def _wait_task(task: Any, what: str) -> Any:
    def done() -> tuple[Any] | None:
        state = task.info.state
        if state == vim.TaskInfo.State.error:
            raise LabError(f"{what} failed: {task.info.error.msg if task.info.error else 'unknown error'}")
        # Wrapped: a task without a result (power on) is done all the same.
        return (task.info.result,) if state == vim.TaskInfo.State.success else None

    return _TASK_WAIT.wait_for(done, what=what)[0]


def create_vm(
    si: Any,
    name: str,
    disk_bytes: list[int],
    *,
    enable_uuid: bool,
    power_on: bool,
    guest: str = "otherLinux64Guest",
    cpus: int = 1,
    memory_mb: int = 512,
    firmware: str = "bios",
) -> VmFacts:
    """A VM on the first host and the first datastore by name, with one PVSCSI controller holding ``disk_bytes`` as
    new thin disks and one vmxnet3 NIC on the host's first network (guest customisation restores its static address
    at failback)."""
    content = si.RetrieveContent()
    datacenter = content.rootFolder.childEntity[0]
    compute = datacenter.hostFolder.childEntity[0]
    datastore = min(datacenter.datastore, key=lambda ds: ds.name)
    changes = [
        vim.vm.device.VirtualDeviceSpec(
            operation="add",
            device=vim.vm.device.ParaVirtualSCSIController(key=1000, busNumber=0, sharedBus="noSharing"),
        )
    ]
    for unit, size in enumerate(disk_bytes):
        backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
            fileName=f"[{datastore.name}]", diskMode="persistent", thinProvisioned=True
        )
        disk = vim.vm.device.VirtualDisk(
            key=-(unit + 1), controllerKey=1000, unitNumber=unit, capacityInKB=size // 1024, backing=backing
        )
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create", device=disk))
    network = compute.host[0].network[0] if compute.host[0].network else None
    if network is not None:
        nic = vim.vm.device.VirtualVmxnet3(
            key=-100,
            backing=vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=network.name, network=network),
            connectable=vim.vm.device.VirtualDevice.ConnectInfo(startConnected=True, connected=False),
            addressType="generated",
        )
        changes.append(vim.vm.device.VirtualDeviceSpec(operation="add", device=nic))
    extra = [vim.option.OptionValue(key="disk.EnableUUID", value="TRUE")] if enable_uuid else []
    spec = vim.vm.ConfigSpec(
        name=name,
        guestId=guest,
        numCPUs=cpus,
        memoryMB=memory_mb,
        firmware=firmware,
        files=vim.vm.FileInfo(vmPathName=f"[{datastore.name}]"),
        deviceChange=changes,
        extraConfig=extra,
    )
    host = compute.host[0]
    vm = _wait_task(
        datacenter.vmFolder.CreateVM_Task(config=spec, pool=compute.resourcePool, host=host), f"creating VM {name}"
    )
    if power_on:
        _wait_task(vm.PowerOnVM_Task(), f"powering on VM {name}")
    elif vm.runtime.powerState == "poweredOn":
        _wait_task(vm.PowerOffVM_Task(), f"powering off VM {name}")
    return read_vms(si)[name]
