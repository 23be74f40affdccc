"""Licence editions when the account may not read licence assignments (the simulator always lets it)."""

from __future__ import annotations

from pyVmomi import vim

from controller.vsphere._collector import Fetched
from controller.vsphere._inventory import _host_editions


class _DeniedAssignments:
    def QueryAssignedLicenses(self) -> None:  # the vSphere method name
        raise vim.fault.NoPermission(privilegeId="Global.Licenses")


def test_an_account_that_cannot_read_licence_assignments_gets_unknown_editions() -> None:
    licences = Fetched(ref=None, props={"licenseAssignmentManager": _DeniedAssignments()})
    assert _host_editions(licences, True, []) == {}
