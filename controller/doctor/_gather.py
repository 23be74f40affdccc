"""Gathering facts from each source once: a vCenter, a vault, an agent. Live when asked, else (or when the source
does not answer) from what the controller stored, always saying which.

Each gatherer returns data, never raises for an unreachable or refusing source: that becomes ``connected=False`` or
``answers=False`` with the error, which the checks turn into a failure with evidence and remedy.

Round trips: a vCenter costs its login, one PropertyCollector read of the whole inventory (the adapter's), the
licence assignments, and one HasPrivilegeOnEntities for every datastore at once, whatever the number of VMs. A vault
costs two list calls (items, fabrics), an agent one call per API it is asked (identity, disks, retention, pairs).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from controller.agents import AgentApiMissing, AgentError, AgentInfo, Agents, AzurePermissions, DiskInventory
from controller.doctor._report import Source
from controller.doctor._sources import (
    CertificateReader,
    PrivilegeProbe,
    VaultOpener,
    VCenterClient,
    VCenterOpener,
    vcenter_endpoint,
)
from controller.doctor._views import InventoryView, view_from_inventory, view_from_snapshot
from controller.fleet import MasterTargetCapacity, capacity_from_json
from controller.inventory import SourceCatalog
from controller.store import AgentRow, HeartbeatRow, InventoryStore, ItemRow, NotFound
from controller.vsphere import EntityKind, PrivilegeTarget
from failback.errors import FailbackError

__all__ = [
    "AgentData",
    "AsrItem",
    "AsrServer",
    "Gatherer",
    "RetentionReport",
    "VCenterData",
    "VaultData",
]

_VCENTER_KINDS = ("host", "datastore", "vm", "disk")


@dataclass(frozen=True)
class VCenterData:
    name: str
    source: Source
    registered: bool = True
    user: str | None = None
    connected: bool | None = None  # None: not tried
    error: str | None = None
    note: str | None = None  # where the view comes from when not from a live session
    certificate_not_after: dt.datetime | None = None
    view: InventoryView | None = None
    missing_privileges: Mapping[str, tuple[str, ...]] | None = None  # datastore moid -> missing; None: not read
    privileges_note: str | None = None


@dataclass(frozen=True)
class AsrItem:
    protection_state: str | None
    active_location: str | None
    provider: str | None
    os_type: str | None
    ip_address: str | None

    @property
    def shown(self) -> str:
        return f"{self.protection_state}/{self.active_location} ({self.provider})"


@dataclass(frozen=True)
class AsrServer:
    role: str  # "master-target" | "process-server"
    id: str
    name: str


@dataclass(frozen=True)
class VaultData:
    name: str
    source: Source
    registered: bool = True
    connected: bool | None = None
    error: str | None = None
    note: str | None = None
    items: Mapping[str, AsrItem] = field(default_factory=dict)  # ARM id (lower case) -> state
    servers: tuple[AsrServer, ...] | None = None  # None: not known


@dataclass(frozen=True)
class RetentionReport:
    path: str
    capacity_bytes: int | None
    free_bytes: int | None
    eligible: bool | None
    reasons: tuple[str, ...] = ()
    threshold_pct: float = 80.0
    eligibility_waived: bool = False


@dataclass(frozen=True)
class AgentData:
    name: str
    role: str
    source: Source
    row: AgentRow | None = None
    heartbeat: HeartbeatRow | None = None
    answers: bool | None = None
    error: str | None = None
    probe_note: str | None = None
    info: AgentInfo | None = None
    disks: DiskInventory | None = None
    retention: tuple[RetentionReport, ...] | None = None
    retention_source: str = ""
    retention_note: str = "its retention volumes could not be read"
    pairs: Mapping[str, bool] | None = None  # pair id -> the sender is connected; None: not measurable
    pairs_note: str = "not measurable before the first pair connects"
    azure: AzurePermissions | None = None  # process servers: what their Azure identity lacks
    azure_note: str = "its agent was not asked"

    @property
    def registered(self) -> bool:
        return self.row is not None and self.row.state == "active"


class Gatherer:
    """Reads each source for one doctor run. ``live=False`` reads only what the controller stored."""

    def __init__(
        self,
        *,
        live: bool,
        now: dt.datetime,
        catalog: SourceCatalog,
        inventory: InventoryStore,
        open_vcenter: VCenterOpener,
        open_vault: VaultOpener,
        privileges: PrivilegeProbe,
        certificate: CertificateReader,
        agents: Agents,
    ) -> None:
        self.live = live
        self.now = now
        self._catalog = catalog
        self._inventory = inventory
        self._open_vcenter = open_vcenter
        self._open_vault = open_vault
        self._privileges = privileges
        self._certificate = certificate
        self._agents = agents

    # -- vCenter --------------------------------------------------------------------------------------------------

    def stored_view(self, name: str) -> InventoryView | None:
        snapshot = self._inventory.latest("vcenter", name)
        if snapshot is None:
            return None
        items = [s.item for s in self._inventory.items(_VCENTER_KINDS, source_kind="vcenter", source_name=name)]
        return view_from_snapshot(name, items, snapshot.taken_at)

    def vcenter(self, name: str, *, failure: str | None = None) -> VCenterData:
        """``failure``: the live read already failed that way (it outlived the deadline); use the stored view."""
        what = f"vCenter {name}"
        try:
            row = self._catalog.vcenter(name)
        except NotFound:
            return VCenterData(
                name,
                Source(what, "none", None, "not registered"),
                registered=False,
                connected=False,
                error=f"no vCenter named {name} is registered with the controller (failbackctl vcenter list)",
            )
        if not self.live or failure is not None:
            return self._stored_vcenter(name, row.username, failure)
        try:
            with self._open_vcenter(row) as client:
                view = view_from_inventory(name, client.inventory(), self.now)
                user = client.user
                missing, privileges_note = self._read_privileges(client, view)
                trips = client.round_trips
        except FailbackError as exc:
            return self._stored_vcenter(name, row.username, str(exc))
        certificate, note = None, f"{trips} SOAP round trips as {user}"
        try:
            certificate = self._certificate(*vcenter_endpoint(row))
        except (OSError, ValueError) as exc:
            note += f"; its certificate's expiry could not be read ({exc})"
        return VCenterData(
            name,
            Source(what, "live", self.now, note),
            user=user,
            connected=True,
            certificate_not_after=certificate,
            view=view,
            missing_privileges=missing,
            privileges_note=privileges_note,
        )

    def _read_privileges(
        self, client: VCenterClient, view: InventoryView
    ) -> tuple[Mapping[str, tuple[str, ...]] | None, str | None]:
        targets = [PrivilegeTarget(EntityKind.DATASTORE, ds.moid, ds.name, "Datastore") for ds in view.datastores]
        try:
            report = self._privileges(client, targets)
        except FailbackError as exc:
            return None, f"reading them failed: {exc}"
        return {e.target.moid: tuple(sorted(e.missing)) for e in report.entities}, None

    def _stored_vcenter(self, name: str, user: str, failure: str | None) -> VCenterData:
        view = self.stored_view(name)
        stored = f"the inventory stored at {view.taken_at.isoformat(timespec='seconds')}" if view else None
        if failure is None:
            note = f"--offline: {stored or 'no inventory was stored (failbackctl vcenter refresh)'}"
            how = "stored" if view else "none"
            return VCenterData(
                name,
                Source(f"vCenter {name}", how, view.taken_at if view else None, note),
                user=user,
                connected=None,
                note=note,
                view=view,
                privileges_note="--offline: privileges are only read from a live session",
            )
        return VCenterData(
            name,
            Source(
                f"vCenter {name}",
                "stored" if view else "none",
                view.taken_at if view else None,
                f"live read failed: {failure}",
            ),
            user=user,
            connected=False,
            error=failure,
            note=stored,
            view=view,
            privileges_note="vCenter did not answer",
        )

    # -- vault ----------------------------------------------------------------------------------------------------

    def vault(self, name: str, rows: Sequence[ItemRow], *, failure: str | None = None) -> VaultData:
        what = f"vault {name}"
        try:
            row = self._catalog.vault(name)
        except NotFound:
            return VaultData(
                name,
                Source(what, "none", None, "not registered"),
                registered=False,
                connected=False,
                error=f"no vault named {name} is registered with the controller (failbackctl azure list)",
            )
        if not self.live or failure is not None:
            return self._stored_vault(name, rows, failure)
        try:
            with self._open_vault(row) as client:
                items = client.list_protected_items()
                fabrics = client.list_fabrics()
        except FailbackError as exc:
            return self._stored_vault(name, rows, str(exc))
        states = {
            item.id.rstrip("/").lower(): AsrItem(
                item.protection_state,
                item.active_location,
                item.provider,
                getattr(item.details, "os_type", None),
                getattr(item.details, "ip_address", None),
            )
            for item in items
        }
        servers = tuple(
            AsrServer(role, server.id, server.name or server.id)
            for fabric in fabrics
            for role, listed in (("master-target", fabric.master_targets), ("process-server", fabric.process_servers))
            for server in listed
        )
        note = f"{len(items)} protected items, {len(servers)} servers"
        return VaultData(name, Source(what, "live", self.now, note), connected=True, items=states, servers=servers)

    def _stored_vault(self, name: str, rows: Sequence[ItemRow], failure: str | None) -> VaultData:
        snapshot = self._inventory.latest("azure", name)
        items = {
            str(row.asr.get("id", "")).rstrip("/").lower(): AsrItem(
                row.asr.get("protection_state"),
                row.asr.get("active_location"),
                row.asr.get("provider"),
                row.asr.get("os_type"),
                row.asr.get("ip_address"),
            )
            for row in rows
            if row.vault == name
        }
        servers = None
        if snapshot is not None:
            found = self._inventory.items(["master-target", "process-server"], source_kind="azure", source_name=name)
            servers = tuple(AsrServer(s.item.kind, s.item.key, s.item.name) for s in found)
        stored = f"the import of {snapshot.taken_at.isoformat(timespec='seconds')}" if snapshot else None
        at = snapshot.taken_at if snapshot else None
        how = "stored" if snapshot else "none"
        if failure is None:
            note = f"--offline: {stored or 'the vault was never imported (failbackctl azure import)'}"
            return VaultData(name, Source(f"vault {name}", how, at, note), connected=None, note=note, items=items,
                             servers=servers)  # fmt: skip
        return VaultData(
            name,
            Source(f"vault {name}", how, at, f"live read failed: {failure}"),
            connected=False,
            error=failure,
            note=stored,
            items=items,
            servers=servers,
        )

    # -- agents ---------------------------------------------------------------------------------------------------

    def agent(
        self,
        name: str,
        role: str,
        *,
        address: str | None,
        row: AgentRow | None,
        heartbeat: HeartbeatRow | None,
        pair_ids: Sequence[str] = (),
        retention_path: str | None = None,
        failure: str | None = None,
    ) -> AgentData:
        data = AgentData(name, role, Source(f"{role} {name}", "stored", self.now, "registration and heartbeats"),
                         row=row, heartbeat=heartbeat)  # fmt: skip
        if role == "master-target":
            data = _with_heartbeat_retention(data, retention_path)
        if row is None or row.state != "active":
            return data
        if not self.live:
            return _replace(data, probe_note="--offline")
        if address is None:
            return _replace(data, probe_note="no failback plan gives its address")
        if failure is not None:
            return _replace(data, answers=False, error=failure)
        try:
            if role == "master-target":
                return self._master_target(data, address, pair_ids, retention_path)
            client = self._agents.process_server(name, address)
            data = _replace(data, answers=True, info=client.info(), source=_live(data, self.now, address))
        except AgentError as exc:
            return _replace(data, answers=False, error=exc.message)
        try:
            return _replace(data, azure=client.azure_permissions())
        except AgentApiMissing:
            return _replace(data, azure_note="its agent predates the Azure permissions check (upgrade it)")
        except AgentError as exc:
            return _replace(data, azure_note=f"asking it failed: {exc.message}")

    def _master_target(
        self, data: AgentData, address: str, pair_ids: Sequence[str], retention_path: str | None
    ) -> AgentData:
        client = self._agents.master_target(data.name, address)
        data = _replace(data, answers=True, info=client.info(), source=_live(data, self.now, address))
        try:
            data = _replace(data, disks=client.disks())
        except AgentError as exc:
            data = _replace(data, error=f"listing its disks failed: {exc.message}")
        try:
            volumes = client.retention_volumes()
        except AgentApiMissing:
            pass  # this agent predates the retention API: the heartbeat's figures stay, and say so
        except AgentError as exc:
            data = _replace(data, retention_note=f"reading its retention volumes failed: {exc.message}")
        else:
            reports = tuple(
                RetentionReport(
                    v.mountpoint,
                    v.capacity_bytes,
                    v.free_bytes,
                    v.eligible,
                    v.reasons,
                    v.threshold_pct,
                    v.eligibility_waived,
                )
                for v in volumes
            )
            data = _replace(data, retention=reports, retention_source="its agent")
        if not pair_ids:
            return data
        connected: dict[str, bool] = {}
        try:
            for pair_id in pair_ids:
                status = client.pair(pair_id)
                if status is not None:
                    connected[pair_id] = status.sender_connected
        except AgentApiMissing:
            return _replace(data, pairs_note="its agent does not serve the replication API yet, so pairs cannot say")
        except AgentError as exc:
            return _replace(data, pairs_note=f"reading its pairs failed: {exc.message}")
        return _replace(data, pairs=connected or None)


def _live(data: AgentData, now: dt.datetime, address: str) -> Source:
    return Source(data.source.name, "live", now, f"its API at {address}, with registration and heartbeats")


def _replace(data: AgentData, **changes: object) -> AgentData:
    return dataclasses.replace(data, **changes)  # type: ignore[arg-type]


def _with_heartbeat_retention(data: AgentData, path: str | None) -> AgentData:
    """The retention volumes the agent's last heartbeat reported (sizes only: heartbeats do not judge fitness)."""
    if data.heartbeat is None:
        return _replace(data, retention_note="it has sent no heartbeat that reports retention volumes")
    capacity = capacity_from_json(data.heartbeat.capacity)
    if not isinstance(capacity, MasterTargetCapacity) or not capacity.retention_volumes:
        named = f" (the plan names {path})" if path else ""
        return _replace(
            data,
            retention_note=f"neither its heartbeats nor its API report retention volumes{named}: this agent "
            "predates the data path's retention report",
        )
    reports = tuple(RetentionReport(v.path, v.capacity_bytes, v.free_bytes, None) for v in capacity.retention_volumes)
    return _replace(data, retention=reports, retention_source="its last heartbeat")
