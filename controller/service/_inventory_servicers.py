"""``Sources`` (register and refresh vCenters and vaults) and ``Inventory`` (what they hold).

Credentials arrive in the request and are sealed at once by the catalog; they are never logged (the audit line names
the source, not its secret) and never returned.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable

import grpc

from controller.api.v1 import inventory_pb2, inventory_pb2_grpc, jobs_pb2
from controller.inventory import AZURE_IMPORT, VCENTER_REFRESH, SourceCatalog
from controller.jobs import Jobs
from controller.secrets import Secret
from controller.service._jobs_servicer import job_message
from controller.service._status import abort, timestamp
from controller.store import InventoryStore, SnapshotRow
from failback.errors import FailbackError
from failback.serving import peer_identity

__all__ = ["InventoryServicer", "SourcesServicer"]

log = logging.getLogger(__name__)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _snapshot(row: SnapshotRow | None) -> inventory_pb2.SnapshotInfo | None:
    if row is None:
        return None
    return inventory_pb2.SnapshotInfo(
        id=row.id, taken_at=timestamp(row.taken_at), counts=row.counts, job_id=row.job_id or 0
    )


def _secret(value: str, what: str, context: grpc.ServicerContext) -> Secret:
    if not value:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the {what} is empty")
    return Secret(value)


class SourcesServicer(inventory_pb2_grpc.SourcesServicer):
    def __init__(
        self,
        catalog: SourceCatalog,
        inventory: InventoryStore,
        jobs: Jobs,
        *,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self._catalog = catalog
        self._inventory = inventory
        self._jobs = jobs
        self._clock = clock

    def _start(self, job_type: str, params: dict[str, str], context: grpc.ServicerContext) -> jobs_pb2.Job:
        job = self._jobs.submit(job_type, params, created_by=str(peer_identity(context)))
        log.info("%s started job %d (%s %s)", peer_identity(context), job.id, job_type, params)
        return job_message(job, self._jobs.registry, self._clock())

    def AddVCenter(
        self, request: inventory_pb2.AddVCenterRequest, context: grpc.ServicerContext
    ) -> inventory_pb2.AddSourceResponse:
        password = _secret(request.password, "vCenter password", context)
        try:
            row = self._catalog.add_vcenter(
                name=request.name,
                address=request.address,
                username=request.username,
                password=password,
                ca_pem=request.ca_pem or None,
                thumbprint_sha256=request.thumbprint_sha256 or None,
            )
            log.info("%s added vCenter %s at %s as %s", peer_identity(context), row.name, row.address, row.username)
            job = self._start(VCENTER_REFRESH, {"vcenter": row.name}, context) if request.refresh else None
        except FailbackError as exc:
            abort(context, exc)
        return inventory_pb2.AddSourceResponse(name=row.name, job=job)

    def ListVCenters(
        self, request: inventory_pb2.ListVCentersRequest, context: grpc.ServicerContext
    ) -> inventory_pb2.ListVCentersResponse:
        try:
            rows = self._catalog.vcenters()
            records = [
                inventory_pb2.VCenterRecord(
                    name=row.name,
                    address=row.address,
                    username=row.username,
                    verify="ca" if row.ca_pem else "thumbprint",
                    created_at=timestamp(row.created_at),
                    snapshot=_snapshot(self._inventory.latest("vcenter", row.name)),
                )
                for row in rows
            ]
        except FailbackError as exc:
            abort(context, exc)
        return inventory_pb2.ListVCentersResponse(vcenters=records)

    def RefreshVCenter(
        self, request: inventory_pb2.RefreshSourceRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.Job:
        try:
            self._catalog.vcenter(request.name)
            return self._start(VCENTER_REFRESH, {"vcenter": request.name}, context)
        except FailbackError as exc:
            abort(context, exc)

    def AddVault(
        self, request: inventory_pb2.AddVaultRequest, context: grpc.ServicerContext
    ) -> inventory_pb2.AddSourceResponse:
        secret = _secret(request.client_secret, "client secret", context)
        try:
            row = self._catalog.add_vault(
                name=request.name,
                subscription_id=request.subscription_id,
                resource_group=request.resource_group,
                vault=request.vault,
                tenant_id=request.tenant_id,
                client_id=request.client_id,
                client_secret=secret,
                base_url=request.base_url or None,
                authority=request.authority or None,
                ca_pem=request.ca_pem or None,
            )
            log.info("%s added vault %s (%s/%s)", peer_identity(context), row.name, row.resource_group, row.vault)
            job = self._start(AZURE_IMPORT, {"vault": row.name}, context) if request.run_import else None
        except FailbackError as exc:
            abort(context, exc)
        return inventory_pb2.AddSourceResponse(name=row.name, job=job)

    def ListVaults(
        self, request: inventory_pb2.ListVaultsRequest, context: grpc.ServicerContext
    ) -> inventory_pb2.ListVaultsResponse:
        try:
            records = [
                inventory_pb2.VaultRecord(
                    name=row.name,
                    subscription_id=row.subscription_id,
                    resource_group=row.resource_group,
                    vault=row.vault,
                    tenant_id=row.tenant_id,
                    client_id=row.client_id,
                    base_url=row.base_url or "",
                    created_at=timestamp(row.created_at),
                    snapshot=_snapshot(self._inventory.latest("azure", row.name)),
                )
                for row in self._catalog.vaults()
            ]
        except FailbackError as exc:
            abort(context, exc)
        return inventory_pb2.ListVaultsResponse(vaults=records)

    def ImportVault(self, request: inventory_pb2.RefreshSourceRequest, context: grpc.ServicerContext) -> jobs_pb2.Job:
        try:
            self._catalog.vault(request.name)
            return self._start(AZURE_IMPORT, {"vault": request.name}, context)
        except FailbackError as exc:
            abort(context, exc)


class InventoryServicer(inventory_pb2_grpc.InventoryServicer):
    def __init__(self, inventory: InventoryStore) -> None:
        self._inventory = inventory

    def ListObjects(
        self, request: inventory_pb2.ListObjectsRequest, context: grpc.ServicerContext
    ) -> inventory_pb2.ListObjectsResponse:
        if not request.kinds:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "name at least one kind of object (vm, host, ...)")
        try:
            found = self._inventory.items(list(request.kinds), source_name=request.source or None)
        except FailbackError as exc:
            abort(context, exc)
        return inventory_pb2.ListObjectsResponse(
            objects=[
                inventory_pb2.InventoryObject(
                    source_kind=entry.source_kind,
                    source_name=entry.source_name,
                    kind=entry.item.kind,
                    key=entry.item.key,
                    name=entry.item.name,
                    parent_key=entry.item.parent_key or "",
                    details_json=json.dumps(entry.item.details, sort_keys=True),
                )
                for entry in found
            ]
        )
