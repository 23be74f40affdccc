"""Checks of what vCenter shows: the session, privileges, licences, the on-premises VMs and the master target VMs.

Every cause Azure Site Recovery's documentation gives for a reprotect or failback that fails on the VMware side has
a check here. Pure functions of :class:`~controller.doctor.DoctorFacts`.
"""

from __future__ import annotations

from collections.abc import Iterator

from controller.doctor._facts import DatastoreFacts, DoctorFacts, ItemFacts, MasterTargetFacts
from controller.doctor._result import CheckResult, fail, ok, warn

__all__ = [
    "NFS_TYPES",
    "SCSI_KINDS",
    "datastore_privileges",
    "datastore_visibility",
    "disk_limit",
    "disk_uuid_clash",
    "enable_uuid",
    "free_esxi",
    "mt_snapshots",
    "nfs_datastore",
    "os_match",
    "scsi_controllers",
    "vcenter_connected",
    "vm_snapshots",
    "vmware_tools",
]

NFS_TYPES = frozenset({"nfs", "nfs41"})
# "scsi": a SCSI controller whose exact kind the stored inventory does not keep.
SCSI_KINDS = frozenset({"pvscsi", "lsilogic", "lsilogic-sas", "buslogic", "scsi"})


def _mt(facts: DoctorFacts, item: ItemFacts) -> MasterTargetFacts | None:
    return facts.master_target(item.master_target)


def vcenter_connected(facts: DoctorFacts) -> Iterator[CheckResult]:
    vc = facts.vcenter
    if vc is None:
        return
    subject = f"vCenter {vc.name}"
    if vc.connected:
        yield ok("vcenter-connected", subject, f"logged in as {vc.user}")
    elif vc.connected is None:
        yield warn(
            "vcenter-connected",
            subject,
            f"not checked: {vc.note or 'no live session was tried'}",
            "run doctor without --offline to log in to it",
        )
    else:
        fallback = f"; the checks below use {vc.note}" if vc.note else ""
        yield fail(
            "vcenter-connected",
            subject,
            f"cannot log in: {vc.error}{fallback}",
            "fix the address, certificate or credential (failbackctl vcenter add), then run doctor again",
        )


def datastore_privileges(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "vcenter-datastore-privileges"
    seen: set[str] = set()
    user = (facts.vcenter.user if facts.vcenter else None) or "the vCenter user"
    note = (facts.vcenter.privileges_note if facts.vcenter else None) or "not measured"
    for item in facts.items:
        stores: list[DatastoreFacts] = [*item.datastores, *([item.target_datastore] if item.target_datastore else [])]
        for ds in stores:
            if ds.moid in seen:
                continue
            seen.add(ds.moid)
            subject = f"datastore {ds.name}"
            if ds.missing_privileges is None:
                yield warn(
                    check,
                    subject,
                    f"the privileges of {user} on it were not read ({note})",
                    "run doctor without --offline while vCenter answers",
                )
            elif ds.missing_privileges:
                yield fail(
                    check,
                    subject,
                    f"{user} lacks {', '.join(ds.missing_privileges)} on it: datastores are not discovered and "
                    "replica disks cannot be created (failover to Azure works, failback fails)",
                    f"grant {user} a role with those privileges on {ds.name} (propagating from its datacenter), "
                    "then refresh the vCenter",
                )
            else:
                yield ok(check, subject, f"{user} holds every privilege failback needs on it")


def free_esxi(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "esxi-licence"
    hosts: dict[str, str | None] = {}
    for mt in facts.master_targets:
        if mt.host:
            hosts[mt.host] = mt.host_license
    for item in facts.items:
        if item.host:
            hosts[item.host] = item.host_license
    for host, edition in sorted(hosts.items()):
        if edition is None:
            yield warn(check, f"host {host}", "its licence edition could not be read", "check it in the vSphere Client")
        elif edition == "esxBasic":
            yield fail(
                check,
                f"host {host}",
                "licensed as free ESXi (vSphere Hypervisor, esxBasic): its API is read-only, so failover to Azure "
                "worked but failback cannot create disks, attach them or power VMs on",
                "assign a paid vSphere licence to the host, or fail back onto another host",
            )
        else:
            yield ok(check, f"host {host}", f"licence edition {edition}")


def vm_snapshots(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        if item.onprem_vm is None:
            continue
        if item.snapshots:
            yield fail(
                "vm-snapshots",
                f"vm {item.name}",
                f"on-premises VM {item.onprem_vm} has snapshots {', '.join(item.snapshots)}: its disks are delta "
                "chains and cannot move to the master target",
                f"delete the snapshots of {item.onprem_vm} (consolidating its disks), then run doctor again",
            )
        else:
            yield ok("vm-snapshots", f"vm {item.name}", f"{item.onprem_vm} has no snapshots")


def mt_snapshots(facts: DoctorFacts) -> Iterator[CheckResult]:
    for mt in facts.master_targets:
        if mt.vm_uuid is None or not mt.vm_found:
            continue
        subject = f"master target {mt.agent.name}"
        if mt.snapshots:
            yield fail(
                "master-target-snapshots",
                subject,
                f"VM {mt.vm_name} has snapshots {', '.join(mt.snapshots)}: reprotect fails with snapshots on the "
                "master target",
                f"delete every snapshot of {mt.vm_name} before reprotecting",
            )
        else:
            yield ok("master-target-snapshots", subject, f"VM {mt.vm_name} has no snapshots")


def datastore_visibility(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "master-target-datastore-access"
    for item in facts.items:
        subject = f"vm {item.name}"
        if item.target_datastore_missing is not None:
            where = f"vCenter {facts.vcenter.name}" if facts.vcenter else "vCenter"
            yield fail(
                check,
                subject,
                f"{where} has no datastore {item.target_datastore_missing}, which the plan names",
                "name a datastore vCenter has in the plan (failbackctl inventory datastores), or refresh the vCenter",
            )
            continue
        mt = _mt(facts, item)
        if mt is None or mt.host is None:
            continue
        target = item.target_datastore
        if target is not None and target.moid not in mt.host_datastores:
            yield fail(
                check,
                subject,
                f"host {mt.host} of master target {mt.agent.name} cannot see datastore {target.name}",
                f"choose a datastore mounted on {mt.host}, or move the master target to a host that mounts it",
            )
            continue
        hidden = [ds.name for ds in item.datastores if ds.moid not in mt.host_datastores]
        if hidden:
            yield warn(
                check,
                subject,
                f"host {mt.host} cannot see {', '.join(hidden)} of VM {item.onprem_vm}: it fails back to an "
                "alternate location (full copy) instead of its original disks",
                f"mount {', '.join(hidden)} on {mt.host} to fail back with only the differences",
            )
        else:
            yield ok(check, subject, f"host {mt.host} sees every datastore the failback uses")


def nfs_datastore(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        target = item.target_datastore
        if target is None:
            continue
        if target.type.lower() in NFS_TYPES:
            yield fail(
                "nfs-datastore",
                f"vm {item.name}",
                f"datastore {target.name} is {target.type}: failback onto NFS datastores is not supported",
                "choose a VMFS or vSAN datastore",
            )
        else:
            yield ok("nfs-datastore", f"vm {item.name}", f"datastore {target.name} is {target.type}")


def disk_limit(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "master-target-disk-limit"
    for mt in facts.master_targets:
        subject = f"master target {mt.agent.name}"
        if mt.placement_problem is not None:
            yield fail(
                check,
                subject,
                f"the failback's disks do not fit: {mt.placement_problem}",
                "add a master target to the plan, or fail back fewer VMs at once",
            )
            continue
        if mt.attached_disks is None:
            yield warn(
                check,
                subject,
                f"its attached disks could not be counted ({mt.attached_source})",
                "check that its agent answers (failbackctl servers)",
            )
            continue
        total = mt.attached_disks + mt.planned_disks
        evidence = (
            f"{mt.attached_disks} disks attached (by {mt.attached_source}) + {mt.planned_disks} planned "
            f"of {mt.disk_limit}"
        )
        if total > mt.disk_limit:
            yield fail(
                check,
                subject,
                evidence + ": over VMware's limit of 4 SCSI controllers x 15 disks",
                "add a master target to the plan, or fail back fewer VMs at once",
            )
        elif total > 0.9 * mt.disk_limit:
            yield warn(check, subject, evidence, "add a master target before the next failback")
        else:
            yield ok(check, subject, evidence)


def scsi_controllers(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        other = sorted({kind for kind in item.disk_controllers if kind not in SCSI_KINDS})
        subject = f"vm {item.name}"
        if other:
            yield fail(
                "scsi-controller",
                subject,
                f"disks on {', '.join(other)} controllers: the master target sees only SCSI disks by their UUIDs",
                "move the VM's disks to a SCSI controller (LSI Logic SAS or Paravirtual)",
            )
        elif item.disk_controllers:
            kinds = sorted(set(item.disk_controllers) - {"scsi"})
            named = f" ({', '.join(kinds)})" if kinds else ""
            yield ok("scsi-controller", subject, f"every disk is on a SCSI controller{named}")


def enable_uuid(facts: DoctorFacts) -> Iterator[CheckResult]:
    for mt in facts.master_targets:
        if mt.vm_uuid is None or mt.vm_found is None:
            continue
        subject = f"master target {mt.agent.name}"
        if not mt.vm_found:
            vcenter = f"vCenter {facts.vcenter.name}" if facts.vcenter else "vCenter"
            yield fail(
                "master-target-enable-uuid",
                subject,
                f"{vcenter} has no VM with instance UUID {mt.vm_uuid}, which the plan names for it",
                "fix 'vm' of the agent in the plan file, or refresh the vCenter",
            )
        elif mt.enable_uuid:
            yield ok("master-target-enable-uuid", subject, f"disk.EnableUUID is TRUE on VM {mt.vm_name}")
        else:
            yield fail(
                "master-target-enable-uuid",
                subject,
                f"disk.EnableUUID is {'FALSE' if mt.enable_uuid is False else 'not set'} on VM {mt.vm_name}: "
                "the guest cannot see which disk is which",
                f"power {mt.vm_name} off, set disk.EnableUUID = TRUE in its advanced settings, power it on",
            )


def disk_uuid_clash(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        mt = _mt(facts, item)
        if mt is None or not mt.vm_found or mt.vm_uuid is None:
            continue
        clash = sorted(item.disk_ids & mt.disk_ids)
        subject = f"vm {item.name}"
        if clash:
            yield fail(
                "disk-uuid-clash",
                subject,
                f"disk UUIDs {', '.join(clash)} are also on master target {mt.agent.name} (both cloned from one "
                "template)",
                "deploy a master target that was not cloned from the VM's template",
            )
        else:
            yield ok("disk-uuid-clash", subject, f"no disk UUID is shared with {mt.agent.name}")


def os_match(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        mt = _mt(facts, item)
        if mt is None or item.os_family is None or mt.os_family is None:
            continue
        subject = f"vm {item.name}"
        if item.os_family != mt.os_family:
            yield fail(
                "master-target-os",
                subject,
                f"a {item.os_family} VM cannot fail back through the {mt.os_family} master target {mt.agent.name}",
                f"use a {item.os_family} master target for it",
            )
        else:
            yield ok("master-target-os", subject, f"{item.os_family} like master target {mt.agent.name}")


def vmware_tools(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "vmware-tools"
    for item in facts.items:
        if item.onprem_vm is None:
            continue
        subject = f"vm {item.name}"
        vm = item.onprem_vm
        if item.tools_installed is False:
            yield fail(
                check,
                subject,
                f"vCenter shows no VMware Tools installed in {vm}: failover powers it on and waits for them, "
                "so it would never finish",
                "install open-vm-tools (or VMware Tools) in the Azure VM now: its disks come back with it",
            )
        elif item.powered_on and item.tools_running is False:
            yield warn(
                check,
                subject,
                f"VMware Tools do not run in {vm}: its guest cannot be shut down cleanly and failover "
                "cannot tell when it has booted",
                "install or start VMware Tools (open-vm-tools) in the guest",
            )
        elif item.tools_installed is None and not (item.powered_on and item.tools_running):
            state = "powered on" if item.powered_on else "powered off"
            yield warn(
                check,
                subject,
                f"cannot tell whether VMware Tools are installed in {vm} ({state}; vCenter reports no Tools "
                "version for it)",
                "check that open-vm-tools is installed in the Azure VM: failover waits for VMware Tools after power-on",
            )
        else:
            running = " and run" if item.powered_on and item.tools_running else ""
            yield ok(check, subject, f"VMware Tools are installed{running} in {vm}")
