"""Disk discovery on a Windows master target, through PowerShell's Storage module and WMI.

One script gathers ``Get-Disk`` (MSFT_Disk), ``Get-Partition``, ``Win32_DiskDrive`` (SCSI port/bus/target/LUN and
the PnP parent, i.e. the controller) and ``Win32_SCSIController`` (driver names) as one JSON document; this module
parses it into the same :class:`Disk` records as Linux. Enum-valued MSFT_Disk properties arrive either as their
documented numbers or as the names PowerShell's type data prints, so both are accepted.

Disk numbers are not identities: every change (``Set-Disk``) runs in a script that first checks that disk N still
has the UniqueId we resolved, and refuses to touch it otherwise.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PureWindowsPath
from typing import Any, Literal

from agent.discovery._base import (
    DEFAULT_LOCK_POLICY,
    DEFAULT_REMOVAL_POLICY,
    DEFAULT_RESCAN_POLICY,
    DiskDiscovery,
)
from agent.discovery._inventory import Inventory
from agent.discovery._model import PCI_CONTROLLERS, WINDOWS_DRIVERS, ControllerType, Disk, DiskRole, Hctl, is_vmware
from agent.discovery._runner import CommandRunner, run_powershell
from agent.discovery.errors import DiskInUse, DiskNotWritable, ProtectedDisk, SourceError
from failback.diskid import InvalidDiskId, normalize_disk_id
from failback.retry import Policy

__all__ = ["QUERY_SCRIPT", "WindowsDiscovery", "parse_disks"]

QUERY_SCRIPT = """
$disks = @(Get-Disk | Select-Object Number, UniqueId, UniqueIdFormat, SerialNumber, FriendlyName, Manufacturer,
    Model, Size, IsOffline, IsReadOnly, PartitionStyle, BusType, IsSystem, IsBoot)
$partitions = @(Get-Partition | Select-Object DiskNumber, PartitionNumber, DriveLetter, AccessPaths)
$drives = @(Get-CimInstance -ClassName Win32_DiskDrive | ForEach-Object {
    $parent = $null
    try { $parent = (Get-PnpDeviceProperty -InstanceId $_.PNPDeviceID -KeyName 'DEVPKEY_Device_Parent').Data } catch { }
    [pscustomobject]@{ Index = $_.Index; SCSIPort = $_.SCSIPort; SCSIBus = $_.SCSIBus; SCSITargetId = $_.SCSITargetId;
        SCSILogicalUnit = $_.SCSILogicalUnit; PNPDeviceID = $_.PNPDeviceID; Parent = $parent }
})
$controllers = @(Get-CimInstance -ClassName Win32_SCSIController | Select-Object Name, DriverName, PNPDeviceID)
[pscustomobject]@{ Disks = $disks; Partitions = $partitions; Drives = $drives; Controllers = $controllers } |
    ConvertTo-Json -Depth 5 -Compress
"""

RESCAN_SCRIPT = "Update-HostStorageCache\n"

# MSFT_Disk enums (Microsoft's MSFT_Disk class reference).
_UNIQUE_ID_FORMATS = {0: "Vendor Specific", 1: "Vendor Id", 2: "EUI64", 3: "FCPH Name", 8: "SCSI Name String"}
_PARTITION_STYLES = {0: "RAW", 1: "MBR", 2: "GPT"}
_BUS_TYPES = {1: "SCSI", 3: "ATA", 10: "SAS", 11: "SATA", 17: "NVMe"}
_BUS_CONTROLLERS = {"NVMe": ControllerType.NVME, "SATA": ControllerType.SATA, "ATA": ControllerType.IDE}
_DESIGNATORS: dict[str, Literal["naa", "eui"]] = {"FCPH Name": "naa", "EUI64": "eui"}
_PCI_ID = re.compile(r"VEN_([0-9A-F]{4})&DEV_([0-9A-F]{4})", re.IGNORECASE)
# What may appear in a UniqueId we put back into a script; anything else is refused rather than quoted.
_SAFE_UNIQUE_ID = re.compile(r"^[A-Za-z0-9._:{}\-]+$")


def _enum(value: Any, names: Mapping[int, str]) -> str | None:
    """An MSFT enum as its documented name, whether PowerShell printed the number or the name."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return names.get(value, str(value))
    text = str(value).strip()
    if text.isdigit():
        return names.get(int(text), text)
    return text


def _partition_style(value: Any) -> str | None:
    # Get-Disk prints an uninitialised disk (PartitionStyle 0, "Unknown" in the class reference) as RAW.
    style = _enum(value, _PARTITION_STYLES)
    return "RAW" if style is not None and style.lower() == "unknown" else style


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _drive_letter(value: Any) -> str | None:
    if isinstance(value, int):
        value = chr(value) if value else ""
    text = str(value or "").strip("\0 ")
    return text.upper() if len(text) == 1 and text.isalpha() else None


def _identity(raw: Any, fmt: str | None) -> tuple[str | None, str | None, bool]:
    """(id, problem, unreadable): unreadable means an id was claimed but could not be read."""
    unique_id = str(raw).strip() if raw else ""
    if not unique_id:
        return None, "Windows reports no UniqueId", False
    designator = _DESIGNATORS.get(fmt or "")
    if designator is None and fmt != "SCSI Name String":
        problem = f"Windows UniqueId {unique_id!r} is {fmt or 'of unknown format'}, not an NAA or EUI-64 page-83 id"
        return None, problem, False
    try:
        return normalize_disk_id(unique_id, designator=designator), None, False
    except InvalidDiskId as exc:
        return None, str(exc), True


def _matches(path: str, access_path: str) -> int:
    """Length of ``access_path`` if it is a prefix of ``path`` (Windows rules: case-insensitive), else -1."""
    target = str(PureWindowsPath(path)).lower().rstrip("\\")
    prefix = str(PureWindowsPath(access_path)).lower().rstrip("\\")
    if target == prefix or target.startswith(prefix + "\\"):
        return len(prefix)
    return -1


def parse_disks(payload: str, *, agent_dir: str | None = None, retention_paths: Sequence[str] = ()) -> list[Disk]:
    """Turn the JSON printed by :data:`QUERY_SCRIPT` into disk records."""
    try:
        doc = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise SourceError(f"PowerShell printed something that is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or "Disks" not in doc:
        raise SourceError("PowerShell's disk query returned JSON without a Disks list")

    partitions = [p for p in _as_list(doc.get("Partitions")) if isinstance(p, dict)]
    drives = {
        int(d["Index"]): d for d in _as_list(doc.get("Drives")) if isinstance(d, dict) and d.get("Index") is not None
    }
    controllers = {
        str(c.get("PNPDeviceID") or "").upper(): c for c in _as_list(doc.get("Controllers")) if isinstance(c, dict)
    }

    roles: dict[int, set[DiskRole]] = {}
    wanted = [(DiskRole.AGENT, agent_dir)] if agent_dir else []
    wanted += [(DiskRole.RETENTION, path) for path in retention_paths]
    for role, path in wanted:
        best = max(
            ((_matches(path, ap), p) for p in partitions for ap in _as_list(p.get("AccessPaths")) if ap),
            key=lambda item: item[0],
            default=(-1, None),
        )
        if best[0] >= 0 and best[1] is not None:
            roles.setdefault(int(best[1]["DiskNumber"]), set()).add(role)

    disks = []
    for raw in _as_list(doc["Disks"]):
        try:
            disks.append(_disk(raw, partitions, drives, controllers, roles))
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(
                f"PowerShell's disk query returned a disk record we cannot read ({exc!r}): {raw!r}"
            ) from exc
    return disks


def _disk(
    raw: dict[str, Any],
    partitions: list[dict[str, Any]],
    drives: Mapping[int, dict[str, Any]],
    controllers: Mapping[str, dict[str, Any]],
    roles: Mapping[int, set[DiskRole]],
) -> Disk:
    number = int(raw["Number"])
    vendor = str(raw.get("Manufacturer") or "").strip()
    model = str(raw.get("Model") or raw.get("FriendlyName") or "").strip()
    vmware = is_vmware(vendor, model) or is_vmware("", str(raw.get("FriendlyName") or ""))
    fmt = _enum(raw.get("UniqueIdFormat"), _UNIQUE_ID_FORMATS)
    disk_id, problem, unreadable = _identity(raw.get("UniqueId"), fmt)

    drive = drives.get(number)
    hctl = None
    controller, driver, key = ControllerType.OTHER, None, None
    if drive is not None and drive.get("SCSIPort") is not None:
        hctl = Hctl(
            int(drive["SCSIPort"]),
            int(drive.get("SCSIBus") or 0),
            int(drive.get("SCSITargetId") or 0),
            int(drive.get("SCSILogicalUnit") or 0),
        )
        key = f"port{hctl.host}"
        parent = str(drive.get("Parent") or "")
        ctrl = controllers.get(parent.upper())
        driver = str(ctrl.get("DriverName")) if ctrl and ctrl.get("DriverName") else None
        controller = WINDOWS_DRIVERS.get((driver or "").lower(), ControllerType.OTHER)
        pci = _PCI_ID.search(parent)
        if controller is ControllerType.OTHER and pci:
            controller = PCI_CONTROLLERS.get((int(pci.group(1), 16), int(pci.group(2), 16)), ControllerType.OTHER)
    if controller is ControllerType.OTHER:
        controller = _BUS_CONTROLLERS.get(_enum(raw.get("BusType"), _BUS_TYPES) or "", ControllerType.OTHER)

    needs_enable_uuid = disk_id is None and unreadable is False and vmware and controller.is_vsphere_scsi
    if needs_enable_uuid:
        problem = f"no SCSI page-83 id: the master target VM needs disk.EnableUUID = TRUE ({problem})"

    disk_roles = set(roles.get(number, ()))
    if raw.get("IsSystem") or raw.get("IsBoot"):
        disk_roles.add(DiskRole.OS)
    own = sorted(
        (p for p in partitions if int(p.get("DiskNumber", -1)) == number),
        key=lambda p: int(p.get("PartitionNumber", 0)),
    )
    mountpoints = []
    for part in own:
        letter = _drive_letter(part.get("DriveLetter"))
        if letter:
            mountpoints.append(f"{letter}:\\")
        mountpoints += [
            str(ap) for ap in _as_list(part.get("AccessPaths")) if ap and not str(ap).startswith("\\\\?\\Volume{")
        ]

    return Disk(
        disk_id=disk_id,
        id_problem=problem,
        id_source="get-disk" if disk_id else None,
        native_id=str(raw["UniqueId"]) if raw.get("UniqueId") else None,
        name=f"PhysicalDrive{number}",
        path=f"\\\\.\\PhysicalDrive{number}",
        size_bytes=int(raw.get("Size") or 0),
        vendor=vendor,
        model=model,
        serial=str(raw["SerialNumber"]).strip() or None if raw.get("SerialNumber") else None,
        controller=controller,
        driver=driver,
        controller_key=key,
        hctl=hctl,
        vmware=vmware,
        needs_enable_uuid=needs_enable_uuid,
        read_only=bool(raw.get("IsReadOnly")),
        offline=bool(raw.get("IsOffline")),
        roles=frozenset(disk_roles),
        partitions=tuple(f"Harddisk{number}Partition{int(p['PartitionNumber'])}" for p in own),
        mountpoints=tuple(dict.fromkeys(mountpoints)),
        partition_style=_partition_style(raw.get("PartitionStyle")),
    )


def _default_lock_path() -> Path:
    return Path(os.environ.get("PROGRAMDATA", "C:\\ProgramData")) / "failback" / "discovery.lock"


class WindowsDiscovery(DiskDiscovery):
    """Discovery through PowerShell, run by an injectable :class:`CommandRunner`."""

    platform = "windows"

    def __init__(
        self,
        runner: CommandRunner,
        *,
        agent_dir: str | None = None,
        retention_paths: Sequence[str] = (),
        lock_path: Path | None = None,
        rescan_policy: Policy = DEFAULT_RESCAN_POLICY,
        lock_policy: Policy = DEFAULT_LOCK_POLICY,
        removal_policy: Policy = DEFAULT_REMOVAL_POLICY,
    ) -> None:
        super().__init__(
            lock_path=lock_path or _default_lock_path(),
            rescan_policy=rescan_policy,
            lock_policy=lock_policy,
            removal_policy=removal_policy,
        )
        self._runner = runner
        self._agent_dir = agent_dir
        self._retention_paths = tuple(retention_paths)

    def list_disks(self) -> Inventory:
        payload = run_powershell(self._runner, QUERY_SCRIPT, what="the PowerShell disk query (Get-Disk)")
        disks = parse_disks(payload, agent_dir=self._agent_dir, retention_paths=self._retention_paths)
        return Inventory.build(disks, platform=self.platform, source="powershell")

    def _trigger_rescan(self) -> None:
        run_powershell(self._runner, RESCAN_SCRIPT, what="Update-HostStorageCache")

    def prepare(self, disk_id: str) -> Disk:
        """Bring the disk online and writable for raw access through ``\\\\.\\PhysicalDriveN``."""
        disk = self.resolve(disk_id)
        self._refuse_protected(disk)
        if disk.mountpoints:
            raise DiskInUse(
                f"{disk.path} ({disk.disk_id}) has mounted volumes: {', '.join(disk.mountpoints)}",
                remedy="remove the drive letters and mount points of the target disk, then retry",
            )
        self._set(disk, attach=True)
        fresh = self.resolve(disk.disk_id or disk_id)
        if fresh.offline or fresh.read_only:
            raise DiskNotWritable(
                f"{fresh.path} ({fresh.disk_id}) is still {'offline' if fresh.offline else 'read-only'} after Set-Disk",
                remedy="check the SAN policy and the disk's attributes with Get-Disk, then retry",
            )
        return fresh

    def release(self, disk_id: str) -> Disk:
        """Take the disk read-only and offline, so Windows neither mounts nor writes it."""
        disk = self.resolve(disk_id)
        self._refuse_protected(disk)
        self._set(disk, attach=False)
        return disk

    def remove_for_detach(self, disk_id: str) -> Disk:
        """Windows flushes a disk when it goes offline; offline is the clean state to detach from."""
        return self.release(disk_id)

    def _refuse_protected(self, disk: Disk) -> None:
        if disk.protected:
            roles = ", ".join(sorted(role.value for role in disk.roles))
            raise ProtectedDisk(f"{disk.path} ({disk.disk_id}) holds {roles}; it is never a replication target")

    def _set(self, disk: Disk, *, attach: bool) -> None:
        """attach=True: online, then writable (the order Set-Disk documents); False: read-only, then offline, so
        Windows never holds the disk writable while it goes away."""
        unique_id = disk.native_id or ""
        if not _SAFE_UNIQUE_ID.fullmatch(unique_id):
            raise SourceError(f"{disk.path}: UniqueId {unique_id!r} has characters we will not put into a script")
        number = int(disk.name.removeprefix("PhysicalDrive"))
        if attach:
            steps = [f"Set-Disk -Number {number} -IsOffline $false", f"Set-Disk -Number {number} -IsReadOnly $false"]
        else:
            steps = [f"Set-Disk -Number {number} -IsReadOnly $true", f"Set-Disk -Number {number} -IsOffline $true"]
        script = (
            f"$d = Get-Disk -Number {number}\n"
            f"if ($d.UniqueId -ne '{unique_id}') {{ throw \"disk {number} is now $($d.UniqueId), not {unique_id}; "
            'rescan and retry" }\n' + "\n".join(steps) + "\n"
        )
        run_powershell(self._runner, script, what=f"Set-Disk on {disk.path} ({disk.disk_id})")
