"""Errors of registering sources and reading them.

::

    InventoryError (PermanentError)
    └── SourceInvalid     a vCenter or vault registration with a bad field: names the field and what to give

Reading a source raises the adapters' own errors (``controller.vsphere.errors``, ``controller.azure.errors``), which
are already temporary or permanent; the refresh jobs let them through to the runner.
"""

from __future__ import annotations

from failback.errors import PermanentError

__all__ = ["InventoryError", "SourceInvalid"]


class InventoryError(PermanentError):
    pass


class SourceInvalid(InventoryError):
    pass
