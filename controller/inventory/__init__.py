"""The inventory: vCenters and Azure vaults as sources, their credentials sealed, and snapshots of what they hold.

A refresh (``vcenter.refresh``) or an import (``azure.import``) is a job that reads the source through its adapter
and stores a snapshot keyed by stable ids; the kinds and their fields are documented in ``_kinds``. Adapters return
typed records; this package turns them into stored objects and never writes workflow state.
"""

from controller.inventory._azure import azure_items
from controller.inventory._catalog import SourceCatalog, parse_vcenter_address
from controller.inventory._kinds import AZURE_KINDS, KIND_ALIASES, VCENTER_KINDS
from controller.inventory._readers import Readers
from controller.inventory._refresh import AZURE_IMPORT, VCENTER_REFRESH, refresh_job_types
from controller.inventory._vsphere import vsphere_items
from controller.inventory.errors import InventoryError, SourceInvalid

__all__ = [
    "AZURE_IMPORT",
    "AZURE_KINDS",
    "KIND_ALIASES",
    "VCENTER_KINDS",
    "VCENTER_REFRESH",
    "InventoryError",
    "Readers",
    "SourceCatalog",
    "SourceInvalid",
    "azure_items",
    "parse_vcenter_address",
    "refresh_job_types",
    "vsphere_items",
]
