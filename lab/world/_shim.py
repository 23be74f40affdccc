"""The hypervisor shim: makes the master-target VM's VMDKs in the simulator appear to the master-target agent as SCSI
disks, backed by the VMDKs' extent files, the way ESXi and the Linux kernel together would.

It plays both sides of the virtual SCSI bus:

* hypervisor: the simulator's inventory is the truth about what is attached (bus, unit, VMDK UUID, capacity);
* guest kernel: disks present at boot appear at once; a hot-added VMDK appears when the guest rescans its SCSI
  host (``scan``), as with LSI Logic - PVSCSI would announce it by itself, the lab models the stricter case so a
  workflow that forgets the rescan fails here too; a device the guest deletes (``delete``) goes at once and stays
  gone until the next rescan; a VMDK detached without that is a surprise removal: the disk goes at once, and the
  event log says so.

A rescan reads the simulator synchronously (as a real scan asks the hypervisor), so a disk attached just before the
rescan is always found. Between rescans a second connection follows the inventory with ``WaitForUpdatesEx``, so
detaching is seen within a second. Guest requests are polled every ``REQUEST_POLL`` seconds.

The shim also publishes ``state.json``: every VM's disks with the local file that holds each one, and the guest
devices it made, for ``lab status`` and the drill's oracle. It never writes a disk's contents.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.world._guest import GuestRequests, GuestSysfs
from lab.world._vsphere import VmDisk, VmFacts, extent_path

__all__ = ["REQUEST_POLL", "Shim", "ShimEvent"]

log = logging.getLogger(__name__)

REQUEST_POLL = 0.05
"""How often the guest's scan/delete files are read: agents wait for disks with backoff starting at 0.1-0.25 s."""
_OS_PARTITION_BYTES = 1 << 20


@dataclass(frozen=True)
class ShimEvent:
    what: str  # appeared | removed | deleted | surprise-removal | missing-extent
    device: str
    disk_uuid: str
    detail: str = ""


@dataclass(frozen=True)
class _Present:
    bus: int
    unit: int
    uuid: str
    file_name: str
    file: Path


class Shim:
    """Reconciles the guest (``guest``) of the VM named ``vm_name`` with the simulator's view of that VM.

    ``read_now`` reads every VM from the simulator (used for boot and rescans); ``urls`` maps datastores to local
    directories. Call :meth:`boot` once, then :meth:`step` with each new inventory (or None) and the guest's requests.
    """

    def __init__(
        self,
        guest: GuestSysfs,
        vm_name: str,
        urls: dict[str, Path],
        read_now: Callable[[], dict[str, VmFacts]],
        state_file: Path | None = None,
    ) -> None:
        self.guest = guest
        self.vm_name = vm_name
        self._urls = urls
        self._read_now = read_now
        self._state_file = state_file
        self._present: dict[str, _Present] = {}
        self._vms: dict[str, VmFacts] = {}
        self.events: list[ShimEvent] = []
        self._lock = threading.Lock()

    @property
    def devices(self) -> dict[str, _Present]:
        with self._lock:
            return dict(self._present)

    def boot(self) -> None:
        """Power-on of the guest: every attached disk is there; the OS disk (bus 0, unit 0) holds ``/``."""
        with self._lock:
            self._vms = self._read_now()
            vm = self._vm()
            self._sync_hosts(vm)
            for disk in vm.disks:
                self._add(disk)
            root = next((name for name, p in self._present.items() if (p.bus, p.unit) == (0, 0)), None)
            if root is not None:
                partition = self.guest.add_partition(root, 1, _OS_PARTITION_BYTES)
                self.guest.set_mounts([f"/dev/{partition} / ext4 rw,relatime 0 0"])
            self._publish()

    def step(self, inventory: dict[str, VmFacts] | None, requests: GuestRequests) -> list[ShimEvent]:
        """Apply a new inventory (from the watcher) and the guest's requests; returns what changed."""
        with self._lock:
            before = len(self.events)
            if requests.scans:
                inventory = self._read_now()
            if inventory is not None:
                self._vms = inventory
            vm = self._vm()
            attached = {(d.bus, d.unit, d.uuid): d for d in vm.disks}
            for name, present in sorted(self._present.items()):
                if (present.bus, present.unit, present.uuid) not in attached:
                    self._remove(name, "surprise-removal", "the VMDK was detached before the guest deleted the device")
            for name in sorted(requests.deletes):
                if name in self._present:
                    self._remove(name, "deleted", "the guest wrote 1 to device/delete")
            self._sync_hosts(vm)
            if requests.scans:
                have = {(p.bus, p.unit, p.uuid) for p in self._present.values()}
                for key, disk in sorted(attached.items()):
                    if key not in have and disk.bus in requests.scans:
                        self._add(disk)
            changed = self.events[before:]
            if changed or inventory is not None:
                self._publish()
            return changed

    # -- internals (lock held) ---------------------------------------------------------------------------------

    def _vm(self) -> VmFacts:
        vm = self._vms.get(self.vm_name)
        if vm is None:
            # The master target VM itself is gone: its guest has no disks and no controllers.
            return VmFacts("", self.vm_name, "", "poweredOff", False, (), ())
        return vm

    def _sync_hosts(self, vm: VmFacts) -> None:
        have = self.guest.hosts()
        for controller in vm.controllers:
            if controller.bus not in have:
                self.guest.add_host(controller.bus, controller.kind)
        for bus in set(have) - {c.bus for c in vm.controllers}:
            for name, present in sorted(self._present.items()):
                if present.bus == bus:
                    self._remove(name, "surprise-removal", "its SCSI controller was removed")
            self.guest.remove_host(bus)

    def _add(self, disk: VmDisk) -> None:
        name = self.guest.free_name()
        try:
            extent = extent_path(disk.file_name, self._urls)
        except Exception as exc:  # noqa: BLE001 - reported as an event; the guest simply does not see the disk
            self.events.append(ShimEvent("missing-extent", name, disk.uuid, str(exc)))
            return
        if not extent.is_file():
            self.events.append(ShimEvent("missing-extent", name, disk.uuid, f"{extent} does not exist"))
            return
        size = disk.capacity_bytes or extent.stat().st_size
        self.guest.add_disk(name, disk.bus, disk.unit, uuid=disk.uuid, size_bytes=size, backing=extent)
        self._present[name] = _Present(disk.bus, disk.unit, disk.uuid, disk.file_name, extent)
        self.events.append(ShimEvent("appeared", name, disk.uuid, f"{disk.file_name} at {disk.bus}:0:{disk.unit}:0"))
        log.info("%s appeared: %s (%s)", name, disk.file_name, disk.uuid)

    def _remove(self, name: str, what: str, detail: str) -> None:
        present = self._present.pop(name)
        self.guest.remove_disk(name)
        self.events.append(ShimEvent(what, name, present.uuid, detail))
        log.info("%s %s: %s (%s)", name, what, present.file_name, detail)

    def _publish(self) -> None:
        if self._state_file is None:
            return
        state: dict[str, Any] = {
            "master_target": self.vm_name,
            "devices": [
                {
                    "name": name,
                    "hctl": f"{p.bus}:0:{p.unit}:0",
                    "disk_id": p.uuid,
                    "vmdk": p.file_name,
                    "path": str(self.guest.dev / name),
                    "file": str(p.file),
                }
                for name, p in sorted(self._present.items())
            ],
            "events": [e.__dict__ for e in self.events[-50:]],
        }
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._state_file.with_name(self._state_file.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self._state_file)


def serve(shim: Shim, wait_for_inventory: Callable[[int], dict[str, VmFacts] | None], stop: threading.Event) -> None:
    """Run the shim until ``stop``: a watcher thread feeds inventories from ``wait_for_inventory`` (blocking at most
    the given whole seconds), the calling thread applies them with the guest's requests."""
    latest: list[dict[str, VmFacts]] = []
    guard = threading.Lock()

    def watch() -> None:
        while not stop.is_set():
            try:
                inventory = wait_for_inventory(1)
            except Exception:
                log.exception("following the simulator's inventory failed; retrying")
                stop.wait(1.0)
                continue
            if inventory is not None:
                with guard:
                    latest[:] = [inventory]

    watcher = threading.Thread(target=watch, name="shim-watcher", daemon=True)
    watcher.start()
    try:
        while not stop.wait(REQUEST_POLL):
            with guard:
                inventory = latest.pop() if latest else None
            requests = shim.guest.take_requests()
            if inventory is not None or requests.scans or requests.deletes:
                shim.step(inventory, requests)
    finally:
        stop.set()
        watcher.join(timeout=5)
