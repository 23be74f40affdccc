"""The doctor's checks, in the order a report lists them, and running them over facts.

Every cause Azure Site Recovery's documentation and the failback seed give for a failed reprotect or failback has a
check, each a pure function from collected facts to findings (status, evidence, remedy), so that each can be shown
failing and passing from facts alone. ``None`` in a fact means it could not be measured: the check then warns and
says how to find out, it never passes silently.
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.doctor._agent_checks import certificates, reachability, retention, versions
from controller.doctor._azure_checks import asr_servers, item_state, network_manager, static_ips, vault_connected
from controller.doctor._facts import DoctorFacts
from controller.doctor._identity_checks import azure_roles
from controller.doctor._result import CheckResult, CheckSpec
from controller.doctor._vsphere_checks import (
    datastore_privileges,
    datastore_visibility,
    disk_limit,
    disk_uuid_clash,
    enable_uuid,
    free_esxi,
    mt_snapshots,
    nfs_datastore,
    os_match,
    scsi_controllers,
    vcenter_connected,
    vm_snapshots,
    vmware_tools,
)

__all__ = ["CHECKS", "CHECK_IDS", "run_checks", "title_of"]

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("vcenter-connected", "vCenter answers and accepts the credential", vcenter_connected),
    CheckSpec("vault-connected", "the vault answers and accepts the credential", vault_connected),
    CheckSpec("vcenter-datastore-privileges", "the vCenter user may use the datastores", datastore_privileges),
    CheckSpec("asr-state", "ASR shows the item where its next workflow starts", item_state),
    CheckSpec("asr-servers", "the vault lists the plan's master target and process server", asr_servers),
    CheckSpec(
        "azure-snapshot-roles", "the process server's Azure identity holds the roles snapshots need", azure_roles
    ),
    CheckSpec("vm-snapshots", "no snapshots on the on-premises VM", vm_snapshots),
    CheckSpec("master-target-snapshots", "no snapshots on the master target", mt_snapshots),
    CheckSpec("esxi-licence", "hosts are not free ESXi", free_esxi),
    CheckSpec("static-ip", "static IPs survive failback", static_ips),
    CheckSpec("linux-networkmanager", "NetworkManager present in Linux guests", network_manager),
    CheckSpec("master-target-datastore-access", "the master target's host sees the datastores", datastore_visibility),
    CheckSpec("nfs-datastore", "the target datastore is not NFS", nfs_datastore),
    CheckSpec("master-target-disk-limit", "master targets stay within 60 disks", disk_limit),
    CheckSpec("scsi-controller", "disks are on SCSI controllers", scsi_controllers),
    CheckSpec("master-target-enable-uuid", "disk.EnableUUID on the master target", enable_uuid),
    CheckSpec("disk-uuid-clash", "no disk UUID shared with the master target", disk_uuid_clash),
    CheckSpec("master-target-os", "master target runs the VM's OS family", os_match),
    CheckSpec("vmware-tools", "VMware Tools in the on-premises VM", vmware_tools),
    CheckSpec("version-order", "master target <= process server <= controller", versions),
    CheckSpec("retention-volume", "retention volume eligible and not full", retention),
    CheckSpec("reachability", "agents and controller reach each other", reachability),
    CheckSpec("certificate-expiry", "certificates are valid", certificates),
)
CHECK_IDS = frozenset(spec.id for spec in CHECKS)
_TITLES = {spec.id: spec.title for spec in CHECKS}


def title_of(check: str) -> str:
    return _TITLES.get(check, check)


def run_checks(facts: DoctorFacts, *, only: Iterable[str] | None = None) -> list[CheckResult]:
    wanted = set(only) if only is not None else None
    results: list[CheckResult] = []
    for spec in CHECKS:
        if wanted is None or spec.id in wanted:
            results.extend(spec.run(facts))
    return results
