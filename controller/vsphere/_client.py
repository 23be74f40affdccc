"""The vSphere adapter: the one object the controller's workflows use to read and change vCenter or ESXi.

Reads go through the PropertyCollector in bulk; every task is awaited with a deadline; every fault leaves as an
error from errors.py. VMs are addressed by instance UUID, other objects by managed object id. Each operation checks
its inputs before the first call, so bad input changes nothing. The adapter returns records and never decides what
a workflow should do next: that, and recording state, is the controller's job.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pyVmomi import vim

from controller.vsphere._connection import Credentials, Session, open_session
from controller.vsphere._devices import controller_spec, disk_spec, plan_disk_slot
from controller.vsphere._faults import guard
from controller.vsphere._inventory import read_inventory, read_vm, read_vm_with_devices
from controller.vsphere._lookup import ancestries, datastore_location, managed_entity, placement
from controller.vsphere._power import PowerControl, ShutdownOutcome, shutdown_with_fallback
from controller.vsphere._privileges import (
    REQUIRED_PRIVILEGES,
    Permission,
    PrivilegeReport,
    PrivilegeTarget,
    Role,
    effective_privileges,
    evaluate,
)
from controller.vsphere._records import Disk, DiskPosition, Inventory, PowerState, Snapshot, VirtualMachine
from controller.vsphere._specs import StaticIp, config_spec, customization_spec, extra_config_spec, validate_name
from controller.vsphere._tasks import wait_for_task
from controller.vsphere.errors import (
    AlreadyExists,
    InvalidRequest,
    ObjectNotFound,
    OperationFailed,
    VSphereError,
    WrongState,
)

__all__ = ["REPLICA_FOLDER", "Deadlines", "VSphere", "connect"]

REPLICA_FOLDER = "failback-replicas"


@dataclass(frozen=True)
class Deadlines:
    """Seconds each kind of task may take before :class:`~controller.vsphere.errors.TaskTimeout`."""

    create_vm: float = 600.0
    reconfigure: float = 300.0
    power: float = 300.0
    guest_shutdown: float = 300.0
    snapshot: float = 1800.0
    create_disk: float = 1800.0
    customize: float = 300.0


def connect(
    credentials: Credentials,
    *,
    timeout: float = 60.0,
    deadlines: Deadlines | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> VSphere:
    """Log in and return the adapter; ``timeout`` bounds each HTTP request. Use it as a context manager."""
    return VSphere(
        open_session(credentials, timeout=timeout), deadlines=deadlines or Deadlines(), sleep=sleep, clock=clock
    )


class VSphere:
    def __init__(
        self,
        session: Session,
        *,
        deadlines: Deadlines,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self._session = session
        self._content = session.content
        self._stub = session.stub
        self.deadlines = deadlines
        self._sleep = sleep
        self._clock = clock

    # -- session ----------------------------------------------------------------------------------------------------

    def __enter__(self) -> VSphere:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Log out (best effort: the server may already be gone) and drop pooled connections."""
        try:
            with guard("logging out"):
                self._content.sessionManager.Logout()
        except VSphereError:
            pass  # the session or the server is already gone: nothing is left to release there
        finally:
            self._stub.DropConnections()  # type: ignore[no-untyped-call]  # inherited from pyVmomi's stub

    @property
    def api_version(self) -> str:
        return self._session.api_version

    @property
    def user(self) -> str:
        """The user name the server gave the session (e.g. ``VSPHERE.LOCAL\\failback``)."""
        return self._session.user_name

    @property
    def round_trips(self) -> int:
        """SOAP calls sent on this connection so far, property reads included."""
        return sum(self._stub.calls.values())

    def round_trips_by_method(self) -> dict[str, int]:
        return dict(self._stub.calls)

    # -- reads ------------------------------------------------------------------------------------------------------

    def inventory(self) -> Inventory:
        """Everything, in four round-trips (plus continuation pages on very large vCenters)."""
        return read_inventory(self._content, self._content.about)

    def find_vm(self, instance_uuid: str) -> VirtualMachine | None:
        """The VM with this instance UUID, or None; two round-trips."""
        ref = self._find_vm_ref(instance_uuid)
        return None if ref is None else read_vm(self._content, ref)

    def vm(self, instance_uuid: str) -> VirtualMachine:
        """Like :meth:`find_vm`, but a missing VM is an :class:`ObjectNotFound` error."""
        record = self.find_vm(instance_uuid)
        if record is None:
            raise ObjectNotFound(f"no VM has instance UUID {instance_uuid}", remedy="refresh the inventory")
        return record

    # -- VM lifecycle -----------------------------------------------------------------------------------------------

    def create_vm(
        self,
        record: VirtualMachine,
        *,
        name: str,
        host: str,
        datastore: str,
        networks: Mapping[str, str] | None = None,
        preserve_identity: bool = False,
    ) -> VirtualMachine:
        """Create a VM with ``record``'s hardware (no disks) on ``host``/``datastore``, powered off.

        ``networks`` maps recorded network moids to target network moids; a recorded network without a mapping is
        used as is (same vCenter). The VM lands in the datacenter's VM folder and the host's resource pool.
        """
        validate_name(name, what="VM name")
        mapping = {nic.network: (networks or {}).get(nic.network, nic.network) for nic in record.nics if nic.network}
        where = placement(self._content, self._stub, host, datastore, sorted(set(mapping.values())))
        targets = {source: where.networks[target] for source, target in mapping.items()}
        spec = config_spec(
            record,
            name=name,
            datastore_name=where.datastore_name,
            networks=targets,
            preserve_identity=preserve_identity,
        )
        what = f"creating VM {name} on host {host}"
        with guard(what):
            task = where.vm_folder.CreateVM_Task(config=spec, pool=where.pool, host=where.host)
        ref = self._wait(task, what, self.deadlines.create_vm)
        created = read_vm(self._content, ref)
        if created is None:
            raise OperationFailed(f"{what}: the new VM {ref._moId} has no readable configuration")
        return created

    def power_on(self, instance_uuid: str) -> None:
        """Power the VM on; a VM already on is left alone."""
        ref = self._vm_ref(instance_uuid)
        if self._power_state(ref) is PowerState.ON:
            return
        what = f"powering on VM {instance_uuid}"
        with guard(what):
            task = ref.PowerOnVM_Task()
        self._wait(task, what, self.deadlines.power)

    def power_off(self, instance_uuid: str) -> None:
        """Power the VM off at once (no guest shutdown); a VM already off is left alone."""
        _VmPower(self, self._vm_ref(instance_uuid), instance_uuid).power_off()

    def shutdown_guest(self, instance_uuid: str, *, deadline: float | None = None) -> ShutdownOutcome:
        """Ask the guest to shut down; power off if it has not stopped after ``deadline`` (or cannot be asked)."""
        control = _VmPower(self, self._vm_ref(instance_uuid), instance_uuid)
        return shutdown_with_fallback(
            control,
            deadline=deadline if deadline is not None else self.deadlines.guest_shutdown,
            sleep=self._sleep,
            clock=self._clock,
        )

    def set_extra_config(self, instance_uuid: str, values: Mapping[str, str]) -> None:
        """Set advanced settings, e.g. ``{"disk.EnableUUID": "TRUE"}`` so the guest sees VMDK UUIDs."""
        spec = extra_config_spec(values)
        self._reconfigure(self._vm_ref(instance_uuid), spec, f"setting {', '.join(values)} on VM {instance_uuid}")

    def customize_guest(self, instance_uuid: str, settings: Sequence[StaticIp], *, hostname: str, domain: str) -> None:
        """Queue a Linux guest customisation restoring static IPs; it applies at the next power-on (VM must be off)."""
        record = self.vm(instance_uuid)
        spec = customization_spec(record, settings, hostname=hostname, domain=domain)
        ref = vim.VirtualMachine(record.moid, self._stub)
        what = f"customising VM {record.name}"
        with guard(what):
            task = ref.CustomizeVM_Task(spec=spec)
        self._wait(task, what, self.deadlines.customize)

    # -- snapshots --------------------------------------------------------------------------------------------------

    def create_snapshot(
        self, instance_uuid: str, name: str, *, description: str = "", memory: bool = False, quiesce: bool = False
    ) -> Snapshot:
        validate_name(name, what="snapshot name")
        ref = self._vm_ref(instance_uuid)
        what = f"creating snapshot {name} of VM {instance_uuid}"
        with guard(what):
            task = ref.CreateSnapshot_Task(name=name, description=description, memory=memory, quiesce=quiesce)
        created = self._wait(task, what, self.deadlines.snapshot)
        record = read_vm(self._content, ref)
        snapshot = next((s for s in record.snapshots if s.moid == created._moId), None) if record else None
        if snapshot is None:
            raise OperationFailed(f"{what}: snapshot {created._moId} is missing from the VM afterwards")
        return snapshot

    def revert_snapshot(self, instance_uuid: str, snapshot: str) -> None:
        """Revert the VM to its snapshot with moid ``snapshot``."""
        ref = self._snapshot_ref(instance_uuid, snapshot)
        what = f"reverting VM {instance_uuid} to snapshot {snapshot}"
        with guard(what):
            task = ref.RevertToSnapshot_Task()
        self._wait(task, what, self.deadlines.snapshot)

    def remove_snapshot(self, instance_uuid: str, snapshot: str, *, children: bool = False) -> None:
        ref = self._snapshot_ref(instance_uuid, snapshot)
        what = f"removing snapshot {snapshot} of VM {instance_uuid}"
        with guard(what):
            task = ref.RemoveSnapshot_Task(removeChildren=children)
        self._wait(task, what, self.deadlines.snapshot)

    # -- disks ------------------------------------------------------------------------------------------------------

    def create_replica_disk(
        self, datastore: str, vm_name: str, disk_name: str, capacity_bytes: int, *, thin: bool = True
    ) -> str:
        """Create an empty VMDK at ``[ds] failback-replicas/<vm_name>/<disk_name>.vmdk`` and return that path.

        Replica disks live outside any VM's folder, because deleting a VM deletes its folder with every disk in it.
        An existing file is an :class:`AlreadyExists` error: the caller decides whether it is its own.
        """
        validate_name(vm_name, what="VM name")
        validate_name(disk_name, what="disk name")
        if capacity_bytes <= 0 or capacity_bytes % 1024:
            raise InvalidRequest(
                f"disk capacity {capacity_bytes} bytes is not a positive multiple of 1 KiB",
                remedy="use the source disk's capacity in bytes",
            )
        ds_name, datacenter = datastore_location(self._content, self._stub, datastore)
        folder = f"[{ds_name}] {REPLICA_FOLDER}/{vm_name}"
        path = f"{folder}/{disk_name}.vmdk"
        # An earlier disk of this VM may have made the folder already.
        with guard(f"creating the folder {folder}"), contextlib.suppress(vim.fault.FileAlreadyExists):
            self._content.fileManager.MakeDirectory(name=folder, datacenter=datacenter, createParentDirectories=True)
        spec = vim.VirtualDiskManager.FileBackedVirtualDiskSpec(
            diskType="thin" if thin else "eagerZeroedThick",
            adapterType="lsiLogic",
            capacityKb=capacity_bytes // 1024,
        )
        what = f"creating the replica disk {path}"
        with guard(what):
            task = self._content.virtualDiskManager.CreateVirtualDisk_Task(name=path, datacenter=datacenter, spec=spec)
        self._wait(task, what, self.deadlines.create_disk)
        return path

    def attach_disk(
        self, instance_uuid: str, file_name: str, *, position: DiskPosition | None = None, independent: bool = False
    ) -> Disk:
        """Attach the existing VMDK ``file_name`` (``[ds] dir/x.vmdk``) and return its record (with ``uuid``).

        Without ``position`` it takes the first free SCSI unit, adding a PVSCSI controller when every controller is
        full, and refuses past four controllers of fifteen disks. ``independent`` keeps it out of VM snapshots.
        """
        if not file_name.startswith("[") or "]" not in file_name or not file_name.endswith(".vmdk"):
            raise InvalidRequest(
                f"{file_name!r} is not a VMDK datastore path", remedy="use '[datastore] dir/disk.vmdk'"
            )
        ref = self._vm_ref(instance_uuid)
        record, devices = self._read_with_devices(ref)
        if any(d.file_name == file_name for d in record.disks):
            raise AlreadyExists(f"{file_name} is already attached to VM {record.name}")
        # Every device on a controller takes a unit, not only disks (a SCSI CD-ROM or passthrough device too).
        used = [
            (d.controllerKey, d.unitNumber) for d in devices if d.controllerKey is not None and d.unitNumber is not None
        ]
        plan = plan_disk_slot(record.controllers, used, position)
        changes = []
        if plan.new_bus is not None:
            changes.append(controller_spec("pvscsi", plan.new_bus, plan.controller_key))
        changes.append(disk_spec(file_name, plan, independent=independent))
        self._reconfigure(ref, vim.vm.ConfigSpec(deviceChange=changes), f"attaching {file_name} to VM {record.name}")
        attached = next((d for d in self._read(ref).disks if d.file_name == file_name), None)
        if attached is None:
            raise OperationFailed(f"attaching {file_name} to VM {record.name}: the disk is missing afterwards")
        return attached

    def detach_disk(self, instance_uuid: str, disk_uuid: str) -> Disk:
        """Detach the disk whose ``backing.uuid`` is ``disk_uuid``; the VMDK file is kept. Returns what was detached."""
        return self.detach_disks(instance_uuid, [disk_uuid])[0]

    def detach_disks(self, instance_uuid: str, disk_uuids: Sequence[str]) -> list[Disk]:
        """Detach every disk in ``disk_uuids`` in one reconfigure (one read, one task however many); the VMDK files
        are kept. A UUID the VM does not hold is an :class:`ObjectNotFound` error before anything changes."""
        ref = self._vm_ref(instance_uuid)
        record, devices = self._read_with_devices(ref)
        by_uuid = {_uuid_key(d.uuid): d for d in record.disks if d.uuid}
        missing = [u for u in disk_uuids if _uuid_key(u) not in by_uuid]
        if missing:
            raise ObjectNotFound(f"VM {record.name} has no disk with UUID {', '.join(missing)}")
        disks = [by_uuid[_uuid_key(u)] for u in disk_uuids]
        if not disks:
            return []
        keys = {d.key for d in disks}
        changes = [
            vim.vm.device.VirtualDeviceSpec(operation=vim.vm.device.VirtualDeviceSpec.Operation.remove, device=d)
            for d in devices
            if d.key in keys
        ]
        names = disks[0].file_name if len(disks) == 1 else f"{len(disks)} disks"
        self._reconfigure(ref, vim.vm.ConfigSpec(deviceChange=changes), f"detaching {names} from VM {record.name}")
        return disks

    # -- privileges -------------------------------------------------------------------------------------------------

    def check_privileges(self, targets: Sequence[PrivilegeTarget]) -> PrivilegeReport:
        """What this session may do on each target, as vCenter reports it (HasPrivilegeOnEntities; one round-trip)."""
        if not targets:
            return PrivilegeReport(self.user, ())
        wanted = sorted(set().union(*(REQUIRED_PRIVILEGES[t.kind] for t in targets)))
        entities = [managed_entity(t, self._stub) for t in targets]
        manager = self._content.authorizationManager
        with guard("reading this session's privileges"):
            answers = manager.HasPrivilegeOnEntities(
                entity=entities, sessionId=self._session.session_key, privId=wanted
            )
        granted = {
            str(a.entity._moId): frozenset(p.privId for p in a.privAvailability or () if p.isGranted)
            for a in answers or ()
        }
        return evaluate(self.user, targets, granted)

    def principal_privileges(
        self, principal: str, targets: Sequence[PrivilegeTarget], *, groups: Sequence[str] = ()
    ) -> PrivilegeReport:
        """What ``principal`` may do on each target, computed from vCenter's permissions and roles.

        Explains a denial and works for accounts other than ours; three round-trips.
        """
        manager = self._content.authorizationManager
        with guard("reading permissions and roles"):
            permissions = [
                Permission(str(p.entity._moId), str(p.principal), bool(p.group), int(p.roleId), bool(p.propagate))
                for p in manager.RetrieveAllPermissions() or ()
                if p.entity is not None
            ]
            roles = {
                int(r.roleId): Role(int(r.roleId), str(r.name), frozenset(r.privilege or ()))
                for r in manager.roleList or ()
            }
        chains = ancestries(self._content, self._stub, targets)
        granted = {
            t.moid: effective_privileges(principal, chains[t.moid], permissions, roles, groups=groups) for t in targets
        }
        return evaluate(principal, targets, granted)

    # -- internals --------------------------------------------------------------------------------------------------

    def _wait(self, task: Any, what: str, deadline: float) -> Any:
        return wait_for_task(task, what=what, deadline=deadline, sleep=self._sleep, clock=self._clock)

    def _reconfigure(self, ref: Any, spec: Any, what: str) -> None:
        with guard(what):
            task = ref.ReconfigVM_Task(spec=spec)
        self._wait(task, what, self.deadlines.reconfigure)

    def _find_vm_ref(self, instance_uuid: str) -> Any:
        if not instance_uuid or not instance_uuid.strip():
            raise InvalidRequest("the VM instance UUID is empty")
        with guard(f"finding VM {instance_uuid}"):
            return self._content.searchIndex.FindByUuid(
                datacenter=None, uuid=instance_uuid, vmSearch=True, instanceUuid=True
            )

    def _vm_ref(self, instance_uuid: str) -> Any:
        ref = self._find_vm_ref(instance_uuid)
        if ref is None:
            raise ObjectNotFound(f"no VM has instance UUID {instance_uuid}", remedy="refresh the inventory")
        return ref

    def _read(self, ref: Any) -> VirtualMachine:
        return self._read_with_devices(ref)[0]

    def _read_with_devices(self, ref: Any) -> tuple[VirtualMachine, Sequence[Any]]:
        """The VM's record and its pyVmomi device objects (to hand back in a device change); one round-trip."""
        record, devices = read_vm_with_devices(self._content, ref)
        if record is None:
            raise WrongState(f"VM {ref._moId} has no readable configuration (orphaned or inaccessible)")
        return record, devices

    def _power_state(self, ref: Any) -> PowerState:
        with guard(f"reading the power state of VM {ref._moId}"):
            return PowerState(str(ref.runtime.powerState))

    def _snapshot_ref(self, instance_uuid: str, snapshot: str) -> Any:
        record = self._read(self._vm_ref(instance_uuid))
        if not any(s.moid == snapshot for s in record.snapshots):
            raise ObjectNotFound(f"VM {record.name} has no snapshot {snapshot}")
        return vim.vm.Snapshot(snapshot, self._stub)


class _VmPower(PowerControl):
    """The adapter's side of the guest-shutdown seam."""

    def __init__(self, client: VSphere, ref: Any, instance_uuid: str) -> None:
        self._client = client
        self._ref = ref
        self._uuid = instance_uuid

    def power_state(self) -> PowerState:
        return self._client._power_state(self._ref)

    def request_guest_shutdown(self) -> None:
        with guard(f"asking the guest of VM {self._uuid} to shut down"):
            self._ref.ShutdownGuest()

    def power_off(self) -> None:
        if self.power_state() is PowerState.OFF:
            return
        what = f"powering off VM {self._uuid}"
        with guard(what):
            task = self._ref.PowerOffVM_Task()
        self._client._wait(task, what, self._client.deadlines.power)


def _uuid_key(value: str) -> str:
    """Compare VMDK UUIDs whatever their spelling (``6000C29a-...``, spaces, case)."""
    return "".join(c for c in value.lower() if c in "0123456789abcdef")
