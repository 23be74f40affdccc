"""The refresh jobs: read a vCenter (``vcenter.refresh``) or a vault (``azure.import``) and store a snapshot.

Steps, each idempotent:

1. ``connect`` — open the credential and log in: a wrong password or certificate fails here, with the adapter's
   remedy, before anything is read. Repeating it has no effect.
2. ``snapshot`` — if this job already stored a snapshot (the step ran before a crash), return it; otherwise read
   everything and store it in one transaction, keyed by the job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from controller.inventory._azure import azure_items
from controller.inventory._catalog import SourceCatalog
from controller.inventory._readers import Readers
from controller.inventory._vsphere import vsphere_items
from controller.jobs import InvalidParameters, JobType, Step, StepContext
from controller.store import InventoryItem, InventoryStore, SnapshotRow

__all__ = ["AZURE_IMPORT", "VCENTER_REFRESH", "refresh_job_types"]

VCENTER_REFRESH = "vcenter.refresh"
AZURE_IMPORT = "azure.import"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _needs(key: str) -> Callable[[Mapping[str, Any]], None]:
    def validate(params: Mapping[str, Any]) -> None:
        if not isinstance(params.get(key), str) or not params[key]:
            raise InvalidParameters(f"the job needs the parameter {key!r}")

    return validate


def refresh_job_types(
    catalog: SourceCatalog,
    inventory: InventoryStore,
    readers: Readers,
    *,
    clock: Callable[[], dt.datetime] = _utcnow,
    after_import: Callable[[str], dict[str, Any]] | None = None,
) -> list[JobType]:
    """``after_import(vault)`` runs at the end of every import's snapshot step (the workflows record items, failback
    groups and plans from the new snapshot); it must be idempotent, as the step is."""

    def store(ctx: StepContext, kind: str, name: str, read: Callable[[], list[InventoryItem]]) -> dict[str, Any]:
        existing = inventory.for_job(ctx.job_id)
        if existing is None:
            ctx.report(0.05, message=f"reading {name}")
            items = read()
            ctx.report(0.8, message=f"storing {len(items)} objects")
            existing = inventory.save(
                source_kind=kind, source_name=name, items=items, job_id=ctx.job_id, taken_at=clock()
            )
        ctx.report(1.0)
        return _summary(existing)

    def vcenter_connect(ctx: StepContext) -> dict[str, Any]:
        name = ctx.params["vcenter"]
        with readers.vcenter(catalog.vcenter(name), catalog.vcenter_password(name)) as client:
            return {"user": client.user, "api_version": client.api_version}

    def vcenter_snapshot(ctx: StepContext) -> dict[str, Any]:
        name = ctx.params["vcenter"]

        def read() -> list[InventoryItem]:
            with readers.vcenter(catalog.vcenter(name), catalog.vcenter_password(name)) as client:
                return vsphere_items(client.inventory())

        return store(ctx, "vcenter", name, read)

    def vault_connect(ctx: StepContext) -> dict[str, Any]:
        name = ctx.params["vault"]
        with readers.vault(catalog.vault(name), catalog.vault_secret(name)) as client:
            return {"fabrics": len(client.list_fabrics())}

    def vault_snapshot(ctx: StepContext) -> dict[str, Any]:
        name = ctx.params["vault"]

        def read() -> list[InventoryItem]:
            with readers.vault(catalog.vault(name), catalog.vault_secret(name)) as client:
                return azure_items(client.import_vault())

        summary = store(ctx, "azure", name, read)
        if after_import is not None:
            summary["failback"] = after_import(name)
        return summary

    return [
        JobType(
            VCENTER_REFRESH,
            "Refresh a vCenter's inventory",
            (
                Step("connect", vcenter_connect, title="Log in to vCenter"),
                Step("snapshot", vcenter_snapshot, title="Read the inventory and store a snapshot", weight=9),
            ),
            subject=lambda params: f"vcenter:{params['vcenter']}",
            validate=_needs("vcenter"),
        ),
        JobType(
            AZURE_IMPORT,
            "Import an Azure Site Recovery vault",
            (
                Step("connect", vault_connect, title="Sign in to Azure and open the vault"),
                Step("snapshot", vault_snapshot, title="Read the failed-over estate and store a snapshot", weight=9),
            ),
            subject=lambda params: f"azure:{params['vault']}",
            validate=_needs("vault"),
        ),
    ]


def _summary(snapshot: SnapshotRow) -> dict[str, Any]:
    return {"snapshot": snapshot.id, "counts": snapshot.counts, "taken_at": snapshot.taken_at.isoformat()}
