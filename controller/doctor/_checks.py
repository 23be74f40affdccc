"""The doctor's checks: pure functions from collected facts to findings, each with status, evidence and remedy.

Every cause Azure Site Recovery's documentation and the failback seed give for a failed reprotect or failback has a
check here, so that each can be shown failing and passing from facts alone. ``None`` in a fact means it could not be
measured: the check then warns and says how to find out, it never passes silently.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from controller.doctor._facts import AgentFacts, DoctorFacts, ItemFacts, MasterTargetFacts
from controller.fleet import Part, VersionMismatch, version_problems

__all__ = ["CHECKS", "CheckResult", "CheckSpec", "Status", "run_checks"]

CERTIFICATE_WARNING = dt.timedelta(days=7)
RETENTION_FREE_WARNING = 0.2
NFS_TYPES = frozenset({"nfs", "nfs41"})
SCSI_KINDS = frozenset({"pvscsi", "lsilogic", "lsilogic-sas", "buslogic"})


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckResult:
    check: str
    subject: str
    status: Status
    evidence: str
    remedy: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "check": self.check,
            "subject": self.subject,
            "status": self.status.value,
            "evidence": self.evidence,
            "remedy": self.remedy,
        }


Check = Callable[[DoctorFacts], Iterable[CheckResult]]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title: str
    run: Check


def _ok(check: str, subject: str, evidence: str) -> CheckResult:
    return CheckResult(check, subject, Status.OK, evidence)


def _warn(check: str, subject: str, evidence: str, remedy: str) -> CheckResult:
    return CheckResult(check, subject, Status.WARN, evidence, remedy)


def _fail(check: str, subject: str, evidence: str, remedy: str) -> CheckResult:
    return CheckResult(check, subject, Status.FAIL, evidence, remedy)


def _mt(facts: DoctorFacts, item: ItemFacts) -> MasterTargetFacts | None:
    return facts.master_target(item.master_target)


# -- vCenter ---------------------------------------------------------------------------------------------------------


def datastore_privileges(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "vcenter-datastore-privileges"
    seen: set[str] = set()
    for item in facts.items:
        for ds in (*item.datastores, *([item.target_datastore] if item.target_datastore else [])):
            if ds.moid in seen:
                continue
            seen.add(ds.moid)
            user = facts.vcenter.user if facts.vcenter else "the vCenter user"
            if ds.missing_privileges:
                yield _fail(
                    check,
                    f"datastore {ds.name}",
                    f"{user} lacks {', '.join(ds.missing_privileges)} on it: datastores are not discovered and "
                    "replica disks cannot be created (failover to Azure works, failback fails)",
                    f"grant {user} a role with those privileges on {ds.name} (propagating from its datacenter), "
                    "then refresh the vCenter",
                )
            else:
                yield _ok(check, f"datastore {ds.name}", f"{user} holds every privilege failback needs on it")


def vcenter_connected(facts: DoctorFacts) -> Iterator[CheckResult]:
    vc = facts.vcenter
    if vc is None:
        return
    if vc.connected:
        yield _ok("vcenter-connected", f"vCenter {vc.name}", f"logged in as {vc.user}")
    else:
        yield _fail(
            "vcenter-connected",
            f"vCenter {vc.name}",
            f"cannot log in: {vc.error}",
            "fix the address, certificate or credential (failbackctl vcenter add), then run doctor again",
        )


def free_esxi(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "esxi-licence"
    hosts: dict[str, str | None] = {}
    for mt in facts.master_targets:
        if mt.host:
            hosts[mt.host] = mt.host_license
    for host, edition in sorted(hosts.items()):
        if edition is None:
            yield _warn(
                check, f"host {host}", "its licence edition could not be read", "check it in the vSphere Client"
            )
        elif edition == "esxBasic":
            yield _fail(
                check,
                f"host {host}",
                "licensed as free ESXi (vSphere Hypervisor, esxBasic): its API is read-only, so failover to Azure "
                "worked but failback cannot create disks, attach them or power VMs on",
                "assign a paid vSphere licence to the host, or fail back onto another host",
            )
        else:
            yield _ok(check, f"host {host}", f"licence edition {edition}")


# -- VMs ---------------------------------------------------------------------------------------------------------------


def item_state(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        if item.eligible_state:
            yield _ok("asr-state", f"vm {item.name}", f"ASR shows it {item.asr_state or 'failed over'}")
        else:
            yield _fail(
                "asr-state",
                f"vm {item.name}",
                f"ASR shows it {item.asr_state}: failback starts from a VM failed over to Azure and committed",
                "commit the failover to Azure first (or pick another item); then import the vault again",
            )


def vm_snapshots(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        if item.onprem_vm is None:
            continue
        if item.snapshots:
            yield _fail(
                "vm-snapshots",
                f"vm {item.name}",
                f"on-premises VM {item.onprem_vm} has snapshots {', '.join(item.snapshots)}: its disks are delta "
                "chains and cannot move to the master target",
                f"delete the snapshots of {item.onprem_vm} (consolidating its disks), then run doctor again",
            )
        else:
            yield _ok("vm-snapshots", f"vm {item.name}", f"{item.onprem_vm} has no snapshots")


def mt_snapshots(facts: DoctorFacts) -> Iterator[CheckResult]:
    for mt in facts.master_targets:
        subject = f"master target {mt.agent.name}"
        if mt.snapshots:
            yield _fail(
                "master-target-snapshots",
                subject,
                f"VM {mt.vm_name} has snapshots {', '.join(mt.snapshots)}: reprotect fails with snapshots on the "
                "master target",
                f"delete every snapshot of {mt.vm_name} before reprotecting",
            )
        elif mt.vm_found:
            yield _ok("master-target-snapshots", subject, f"VM {mt.vm_name} has no snapshots")


def static_ips(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "static-ip"
    for item in facts.items:
        subject = f"vm {item.name}"
        if not item.static_ips:
            yield _ok(check, subject, "no static IPv4 address was recorded")
        elif item.restore_static_ips and item.os_family == "linux":
            yield _ok(check, subject, f"{', '.join(item.static_ips)} will be restored by guest customisation")
        else:
            why = (
                "the plan does not restore them" if not item.restore_static_ips else f"the guest runs {item.os_family}"
            )
            yield _warn(
                check,
                subject,
                f"static IPs {', '.join(item.static_ips)} will become DHCP after failback ({why})",
                "set [network] restore_static_ips = true for Linux guests; re-apply the addresses in Windows guests",
            )


def network_manager(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "linux-networkmanager"
    for item in facts.items:
        if item.os_family != "linux":
            continue
        subject = f"vm {item.name}"
        if item.network_manager is None:
            yield _warn(
                check,
                subject,
                "cannot tell whether NetworkManager is installed in the guest",
                "check 'systemctl status NetworkManager' in the Azure VM before failing back",
            )
        elif not item.network_manager:
            yield _fail(
                check,
                subject,
                "NetworkManager was removed from the Linux guest: its network is not configured after failback",
                "install NetworkManager in the Azure VM (e.g. dnf install NetworkManager) before failing back",
            )
        else:
            yield _ok(check, subject, "NetworkManager is installed")


def datastore_visibility(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "master-target-datastore-access"
    for item in facts.items:
        mt = _mt(facts, item)
        if mt is None:
            continue
        subject = f"vm {item.name}"
        target = item.target_datastore
        if target is not None and target.moid not in mt.host_datastores:
            yield _fail(
                check,
                subject,
                f"host {mt.host} of master target {mt.agent.name} cannot see datastore {target.name}",
                f"choose a datastore mounted on {mt.host}, or move the master target to a host that mounts it",
            )
            continue
        hidden = [ds.name for ds in item.datastores if ds.moid not in mt.host_datastores]
        if hidden:
            yield _warn(
                check,
                subject,
                f"host {mt.host} cannot see {', '.join(hidden)} of VM {item.onprem_vm}: it fails back to an "
                "alternate location (full copy) instead of its original disks",
                f"mount {', '.join(hidden)} on {mt.host} to fail back with only the differences",
            )
        else:
            yield _ok(check, subject, f"host {mt.host} sees every datastore the failback uses")


def nfs_datastore(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        target = item.target_datastore
        if target is None:
            continue
        if target.type.lower() in NFS_TYPES:
            yield _fail(
                "nfs-datastore",
                f"vm {item.name}",
                f"datastore {target.name} is {target.type}: failback onto NFS datastores is not supported",
                "choose a VMFS or vSAN datastore",
            )
        else:
            yield _ok("nfs-datastore", f"vm {item.name}", f"datastore {target.name} is {target.type}")


def disk_limit(facts: DoctorFacts) -> Iterator[CheckResult]:
    for mt in facts.master_targets:
        subject = f"master target {mt.agent.name}"
        if mt.attached_disks is None:
            yield _warn(
                "master-target-disk-limit",
                subject,
                "its attached disks could not be counted",
                "check that its agent answers (failbackctl servers)",
            )
            continue
        total = mt.attached_disks + mt.planned_disks
        evidence = f"{mt.attached_disks} disks attached + {mt.planned_disks} planned of {mt.disk_limit}"
        if total > mt.disk_limit:
            yield _fail(
                "master-target-disk-limit",
                subject,
                evidence + ": over VMware's limit of 4 SCSI controllers x 15 disks",
                "add a master target to the plan, or fail back fewer VMs at once",
            )
        elif total > 0.9 * mt.disk_limit:
            yield _warn("master-target-disk-limit", subject, evidence, "add a master target before the next failback")
        else:
            yield _ok("master-target-disk-limit", subject, evidence)


def scsi_controllers(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        other = sorted({kind for kind in item.disk_controllers if kind not in SCSI_KINDS})
        subject = f"vm {item.name}"
        if other:
            yield _fail(
                "scsi-controller",
                subject,
                f"disks on {', '.join(other)} controllers: the master target sees only SCSI disks by their UUIDs",
                "move the VM's disks to a SCSI controller (LSI Logic SAS or Paravirtual)",
            )
        elif item.disk_controllers:
            yield _ok("scsi-controller", subject, f"every disk is on a {', '.join(sorted(set(item.disk_controllers)))}")


def enable_uuid(facts: DoctorFacts) -> Iterator[CheckResult]:
    for mt in facts.master_targets:
        subject = f"master target {mt.agent.name}"
        if mt.enable_uuid:
            yield _ok("master-target-enable-uuid", subject, "disk.EnableUUID is TRUE")
        elif mt.vm_found:
            yield _fail(
                "master-target-enable-uuid",
                subject,
                f"disk.EnableUUID is {'FALSE' if mt.enable_uuid is False else 'not set'} on VM {mt.vm_name}: "
                "the guest cannot see which disk is which",
                f"power {mt.vm_name} off, set disk.EnableUUID = TRUE in its advanced settings, power it on",
            )


def disk_uuid_clash(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        mt = _mt(facts, item)
        if mt is None:
            continue
        clash = sorted(item.disk_ids & mt.disk_ids)
        subject = f"vm {item.name}"
        if clash:
            yield _fail(
                "disk-uuid-clash",
                subject,
                f"disk UUIDs {', '.join(clash)} are also on master target {mt.agent.name} (both cloned from one "
                "template)",
                "deploy a master target that was not cloned from the VM's template",
            )
        else:
            yield _ok("disk-uuid-clash", subject, f"no disk UUID is shared with {mt.agent.name}")


def os_match(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        mt = _mt(facts, item)
        if mt is None or item.os_family is None or mt.os_family is None:
            continue
        subject = f"vm {item.name}"
        if item.os_family != mt.os_family:
            yield _fail(
                "master-target-os",
                subject,
                f"a {item.os_family} VM cannot fail back through the {mt.os_family} master target {mt.agent.name}",
                f"use a {item.os_family} master target for it",
            )
        else:
            yield _ok("master-target-os", subject, f"{item.os_family} like master target {mt.agent.name}")


def vmware_tools(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        if item.onprem_vm is None:
            continue
        subject = f"vm {item.name}"
        if item.tools_running is False:
            yield _warn(
                "vmware-tools",
                subject,
                f"VMware Tools do not run in {item.onprem_vm}: its guest cannot be shut down cleanly and failover "
                "cannot tell when it has booted",
                "install or start VMware Tools (open-vm-tools) in the guest",
            )
        elif item.tools_running:
            yield _ok("vmware-tools", subject, "VMware Tools run")


# -- agents ------------------------------------------------------------------------------------------------------------


def versions(facts: DoctorFacts) -> Iterator[CheckResult]:
    controller = Part("controller", "", facts.controller.version)
    servers = [Part("process server", ps.name, ps.version) for ps in facts.process_servers if ps.version]
    targets = [
        Part("master target", mt.agent.name, mt.agent.version) for mt in facts.master_targets if mt.agent.version
    ]
    try:
        problems = version_problems(controller, servers, targets)
    except VersionMismatch as exc:
        yield _fail("version-order", "agents", exc.message, exc.remedy or "upgrade the agent")
        return
    for problem in problems:
        yield _fail("version-order", "agents", problem.message, problem.remedy or "upgrade in order")
    if not problems:
        yield _ok(
            "version-order",
            "agents",
            f"master targets <= process servers <= controller {facts.controller.version}",
        )


def retention(facts: DoctorFacts) -> Iterator[CheckResult]:
    for mt in facts.master_targets:
        subject = f"master target {mt.agent.name}"
        volume = mt.retention
        if volume is None:
            yield _warn(
                "retention-volume",
                subject,
                "its retention volumes could not be read",
                "check that its agent answers (failbackctl servers)",
            )
            continue
        if not volume.eligible:
            yield _fail(
                "retention-volume",
                subject,
                f"{volume.path} cannot hold retention journals: {'; '.join(volume.reasons) or 'not eligible'}",
                "mount a dedicated ext4 or xfs volume (not the OS volume) and name it as retention_volume",
            )
            continue
        if volume.capacity_bytes and volume.free_bytes is not None:
            free = volume.free_bytes / volume.capacity_bytes
            used_pct = 100 * (1 - free)
            evidence = f"{volume.path}: {volume.free_bytes // 2**30} GiB free of {volume.capacity_bytes // 2**30} GiB"
            if free < RETENTION_FREE_WARNING or used_pct >= volume.threshold_pct:
                yield _warn(
                    "retention-volume",
                    subject,
                    evidence + f" ({used_pct:.0f}% used, threshold {volume.threshold_pct:.0f}%)",
                    "grow the retention volume or free space before reprotecting more disks",
                )
                continue
            yield _ok("retention-volume", subject, evidence)
        else:
            yield _ok("retention-volume", subject, f"{volume.path} is eligible")


def _agents(facts: DoctorFacts) -> list[AgentFacts]:
    return [mt.agent for mt in facts.master_targets] + list(facts.process_servers)


def reachability(facts: DoctorFacts) -> Iterator[CheckResult]:
    port_note = "the controller reaches agents on their API port (9443) and agents reach it on 9440/9441"
    for agent in _agents(facts):
        subject = f"{agent.role} {agent.name}"
        if not agent.registered:
            yield _fail("reachability", subject, "no agent of that name is registered", "register it with a token")
            continue
        if agent.answers is False:
            yield _fail(
                "reachability",
                subject,
                f"the controller cannot reach it: {agent.answer_error}",
                f"check the address in the plan, firewalls and that failback-agent runs ({port_note})",
            )
        elif agent.answers is None:
            yield _warn("reachability", subject, "its API was not probed", "run doctor from the controller service")
        age = agent.heartbeat_age_seconds
        if age is None:
            yield _fail(
                "reachability",
                subject,
                "it has never sent a heartbeat: it cannot reach the controller",
                f"check that it reaches the controller on 9440 ({port_note})",
            )
        elif age > facts.stale_after_seconds:
            yield _fail(
                "reachability",
                subject,
                f"its last heartbeat is {age:.0f} s old: it no longer reaches the controller",
                "check the agent and the network between it and the controller on 9440",
            )
        elif agent.answers:
            yield _ok("reachability", subject, f"answers the controller; last heartbeat {age:.0f} s ago")
    for mt in facts.master_targets:
        subject = f"master target {mt.agent.name}"
        for ps in facts.process_servers:
            if mt.reached_by is None:
                yield _warn(
                    "reachability",
                    f"{subject} from process server {ps.name}",
                    "not measurable before the first pair connects",
                    "open TCP 9443 from the process server to the master target; reprotect reports it per pair",
                )
            elif ps.name in mt.reached_by:
                yield _ok("reachability", f"{subject} from process server {ps.name}", "pairs are connected")
            else:
                yield _fail(
                    "reachability",
                    f"{subject} from process server {ps.name}",
                    "its pairs report no connection from the process server",
                    "open TCP 9443 from the process server to the master target",
                )


def certificates(facts: DoctorFacts) -> Iterator[CheckResult]:
    entries: list[tuple[str, dt.datetime | None, str]] = [
        ("controller", facts.controller.certificate_not_after, "restart the controller (it re-issues its own)"),
        ("controller CA", facts.controller.ca_not_after, "plan a CA rotation: every agent must register again"),
    ]
    if facts.vcenter is not None:
        entries.append(
            (f"vCenter {facts.vcenter.name}", facts.vcenter.certificate_not_after, "renew vCenter's certificate")
        )
    for agent in _agents(facts):
        entries.append(
            (
                f"{agent.role} {agent.name}",
                agent.certificate_not_after,
                "check the agent's renewal (it renews by itself)",
            )
        )
    for subject, not_after, remedy in entries:
        if not_after is None:
            continue
        left = not_after - facts.now
        if left <= dt.timedelta(0):
            yield _fail("certificate-expiry", subject, f"certificate expired at {not_after.isoformat()}", remedy)
        elif left < CERTIFICATE_WARNING:
            yield _warn("certificate-expiry", subject, f"certificate expires in {left.days} days", remedy)
        else:
            yield _ok("certificate-expiry", subject, f"certificate valid until {not_after.date().isoformat()}")


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("vcenter-connected", "vCenter answers and accepts the credential", vcenter_connected),
    CheckSpec("vcenter-datastore-privileges", "the vCenter user may use the datastores", datastore_privileges),
    CheckSpec("asr-state", "ASR shows the item failed over to Azure", item_state),
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
    CheckSpec("vmware-tools", "VMware Tools run in the on-premises VM", vmware_tools),
    CheckSpec("version-order", "master target <= process server <= controller", versions),
    CheckSpec("retention-volume", "retention volume eligible and not full", retention),
    CheckSpec("reachability", "agents and controller reach each other", reachability),
    CheckSpec("certificate-expiry", "certificates are valid", certificates),
)


def run_checks(facts: DoctorFacts, *, only: Iterable[str] | None = None) -> list[CheckResult]:
    wanted = set(only) if only is not None else None
    results: list[CheckResult] = []
    for spec in CHECKS:
        if wanted is None or spec.id in wanted:
            results.extend(spec.run(facts))
    return results
