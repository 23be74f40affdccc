"""Every doctor check, shown passing on a healthy failback and failing (or warning) on the fact that breaks it.

The checks are pure functions of facts; gathering those facts from vCenter, the vault and the agents is shown
failing and passing in the other tests of this directory.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest

from controller.agents import AzurePermissions, AzureScopePermissions, AzureVmPermissions
from controller.doctor import (
    CHECKS,
    AgentFacts,
    AsrServerFacts,
    ControllerFacts,
    DatastoreFacts,
    DoctorFacts,
    ItemFacts,
    MasterTargetFacts,
    Report,
    RetentionFacts,
    Status,
    VaultFacts,
    VCenterFacts,
    run_checks,
)

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
VMFS = DatastoreFacts("datastore-1", "ssd-01", "VMFS", free_bytes=2**40)
LATER = NOW + dt.timedelta(days=300)


RG = "/subscriptions/sub-1/resourceGroups/rg-dr"


def azure_vm(missing: tuple[str, ...] = (), error: str | None = None) -> AzureVmPermissions:
    granted = () if error else ("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/disks/read")
    scope = AzureScopePermissions(RG, ("vm", "disks", "snapshots"), missing, granted, error)
    return AzureVmPermissions(
        f"{RG}/providers/Microsoft.Compute/virtualMachines/web01", "incremental-snapshots", (scope,)
    )


def healthy() -> DoctorFacts:
    mt_agent = AgentFacts(
        "mt-01", "master-target", version="1.2.0", answers=True, heartbeat_age_seconds=5, certificate_not_after=LATER
    )
    ps = AgentFacts(
        "ps-01",
        "process-server",
        version="1.2.0",
        answers=True,
        heartbeat_age_seconds=5,
        certificate_not_after=LATER,
        azure_permissions=AzurePermissions(True, (azure_vm(),)),
    )
    mt = MasterTargetFacts(
        agent=mt_agent,
        vm_name="mt-01-vm",
        vm_uuid="5012c0de-0000-0000-0000-000000000001",
        os_family="linux",
        host="esx-01",
        host_license="enterprisePlus",
        host_datastores=frozenset({"datastore-1"}),
        enable_uuid=True,
        disk_ids=frozenset({"naa.6000c29000000000000000000000000a"}),
        attached_disks=2,
        planned_disks=2,
        retention=RetentionFacts("/mnt/retention", True, capacity_bytes=100 * 2**30, free_bytes=80 * 2**30),
        reached_by=frozenset({"ps-01"}),
    )
    item = ItemFacts(
        name="web01",
        master_target="mt-01",
        process_server="ps-01",
        plan="web",
        asr_state="UnplannedFailoverCommitted/Recovery (InMageAzureV2)",
        os_family="linux",
        onprem_vm="web01",
        host="esx-02",
        host_license="enterprisePlus",
        disk_ids=frozenset({"naa.6000c29000000000000000000000000b"}),
        disk_controllers=("pvscsi",),
        datastores=(VMFS,),
        target_datastore=VMFS,
        tools_installed=True,
        tools_running=True,
        powered_on=True,
        static_ips=("10.0.0.5",),
        restorable_ips=("10.0.0.5",),
        restore_static_ips=True,
        network_manager=True,
    )
    return DoctorFacts(
        now=NOW,
        controller=ControllerFacts("1.2.0", certificate_not_after=LATER, ca_not_after=LATER + dt.timedelta(days=3000)),
        vcenter=VCenterFacts("vc1", "failback@vsphere.local", certificate_not_after=LATER),
        vaults=(VaultFacts("dr"),),
        master_targets=(mt,),
        process_servers=(ps,),
        items=(item,),
        asr_servers=(
            AsrServerFacts("mt-01", "master-target", "dr", None, True, ("mt-01",)),
            AsrServerFacts("ps-01", "process-server", "dr", None, True, ("ps-01",)),
        ),
    )


def with_item(facts: DoctorFacts, **changes: object) -> DoctorFacts:
    return dataclasses.replace(facts, items=(dataclasses.replace(facts.items[0], **changes),))


def with_mt(facts: DoctorFacts, **changes: object) -> DoctorFacts:
    return dataclasses.replace(facts, master_targets=(dataclasses.replace(facts.master_targets[0], **changes),))


def with_mt_agent(facts: DoctorFacts, **changes: object) -> DoctorFacts:
    agent = dataclasses.replace(facts.master_targets[0].agent, **changes)
    return with_mt(facts, agent=agent)


def with_ps(facts: DoctorFacts, **changes: object) -> DoctorFacts:
    return dataclasses.replace(facts, process_servers=(dataclasses.replace(facts.process_servers[0], **changes),))


Breaker = Callable[[DoctorFacts], DoctorFacts]

BROKEN: list[tuple[str, Status, str, Breaker]] = [
    (
        "azure-snapshot-roles",
        Status.FAIL,
        "lacks actions that incremental-snapshots of VM web01 need on " + RG + " (vm, disks, snapshots): "
        "Microsoft.Compute/snapshots/delete",
        lambda f: with_ps(
            f, azure_permissions=AzurePermissions(True, (azure_vm(("Microsoft.Compute/snapshots/delete",)),))
        ),
    ),
    (
        "azure-snapshot-roles",
        Status.WARN,
        "could not be read: " + RG + ": permissions API unreachable: could not reach Azure",
        lambda f: with_ps(
            f,
            azure_permissions=AzurePermissions(
                True, (azure_vm(error="permissions API unreachable: could not reach Azure"),)
            ),
        ),
    ),
    (
        "azure-snapshot-roles",
        Status.WARN,
        "is not known: its agent predates the Azure permissions check",
        lambda f: with_ps(
            f, azure_permissions=None, azure_note="its agent predates the Azure permissions check (upgrade it)"
        ),
    ),
    (
        "vcenter-connected",
        Status.FAIL,
        "cannot log in",
        lambda f: dataclasses.replace(f, vcenter=VCenterFacts("vc1", None, connected=False, error="InvalidLogin")),
    ),
    (
        "vcenter-connected",
        Status.WARN,
        "not checked: --offline",
        lambda f: dataclasses.replace(f, vcenter=VCenterFacts("vc1", "u", connected=None, note="--offline: stored")),
    ),
    (
        "vault-connected",
        Status.FAIL,
        "cannot read it: 401",
        lambda f: dataclasses.replace(f, vaults=(VaultFacts("dr", connected=False, error="401"),)),
    ),
    (
        "vault-connected",
        Status.WARN,
        "not checked",
        lambda f: dataclasses.replace(f, vaults=(VaultFacts("dr", connected=None, note="--offline"),)),
    ),
    (
        "asr-servers",
        Status.FAIL,
        "lists no master target named mt-01 (it lists: mt-old)",
        lambda f: dataclasses.replace(
            f, asr_servers=(AsrServerFacts("mt-01", "master-target", "dr", None, False, ("mt-old",)),)
        ),
    ),
    (
        "asr-servers",
        Status.WARN,
        "are not known",
        lambda f: dataclasses.replace(f, asr_servers=(AsrServerFacts("ps-01", "process-server", "dr", None, None),)),
    ),
    (
        "vcenter-datastore-privileges",
        Status.WARN,
        "were not read",
        lambda f: with_item(f, target_datastore=dataclasses.replace(VMFS, missing_privileges=None), datastores=()),
    ),
    (
        "vcenter-datastore-privileges",
        Status.FAIL,
        "Datastore.AllocateSpace",
        lambda f: with_item(
            f,
            target_datastore=dataclasses.replace(VMFS, missing_privileges=("Datastore.AllocateSpace",)),
            datastores=(),
        ),
    ),
    (
        "asr-state",
        Status.FAIL,
        "Protected/Primary",
        lambda f: with_item(f, eligible_state=False, asr_state="Protected/Primary"),
    ),
    (
        "asr-state",
        Status.FAIL,
        "failover starts from an item ASR protects",
        lambda f: with_item(f, phase="replicating", eligible_state=False),
    ),
    ("vm-snapshots", Status.FAIL, "before-upgrade", lambda f: with_item(f, snapshots=("before-upgrade",))),
    ("master-target-snapshots", Status.FAIL, "snap-1", lambda f: with_mt(f, snapshots=("snap-1",))),
    ("esxi-licence", Status.FAIL, "free ESXi", lambda f: with_mt(f, host_license="esxBasic")),
    ("esxi-licence", Status.FAIL, "free ESXi", lambda f: with_item(f, host_license="esxBasic")),
    ("esxi-licence", Status.WARN, "could not be read", lambda f: with_item(f, host_license=None)),
    ("static-ip", Status.WARN, "becomes DHCP (the plan does not", lambda f: with_item(f, restore_static_ips=False)),
    ("static-ip", Status.WARN, "windows", lambda f: with_item(f, os_family="windows")),
    ("static-ip", Status.WARN, "in no failback plan", lambda f: with_item(f, plan=None)),
    (
        "static-ip",
        Status.WARN,
        "10.0.0.9 will not be restored",
        lambda f: with_item(f, static_ips=("10.0.0.5", "10.0.0.9")),
    ),
    ("linux-networkmanager", Status.FAIL, "NetworkManager was removed", lambda f: with_item(f, network_manager=False)),
    ("linux-networkmanager", Status.WARN, "cannot tell", lambda f: with_item(f, network_manager=None)),
    (
        "master-target-datastore-access",
        Status.FAIL,
        "cannot see datastore ssd-01",
        lambda f: with_mt(f, host_datastores=frozenset()),
    ),
    (
        "master-target-datastore-access",
        Status.FAIL,
        "has no datastore ssd-99",
        lambda f: with_item(f, target_datastore=None, target_datastore_missing="ssd-99"),
    ),
    (
        "master-target-datastore-access",
        Status.WARN,
        "alternate location",
        lambda f: with_item(f, datastores=(DatastoreFacts("datastore-9", "far-away", "VMFS"),)),
    ),
    (
        "nfs-datastore",
        Status.FAIL,
        "NFS",
        lambda f: with_item(f, target_datastore=dataclasses.replace(VMFS, type="NFS")),
    ),
    (
        "master-target-disk-limit",
        Status.FAIL,
        "over VMware's limit",
        lambda f: with_mt(f, attached_disks=50, planned_disks=11),
    ),
    (
        "master-target-disk-limit",
        Status.WARN,
        "58 disks attached",
        lambda f: with_mt(f, attached_disks=58, planned_disks=0),
    ),
    (
        "master-target-disk-limit",
        Status.FAIL,
        "do not fit: g needs 9 disk slots",
        lambda f: with_mt(f, placement_problem="g needs 9 disk slots"),
    ),
    (
        "master-target-disk-limit",
        Status.WARN,
        "could not be counted",
        lambda f: with_mt(f, attached_disks=None),
    ),
    ("scsi-controller", Status.FAIL, "ide", lambda f: with_item(f, disk_controllers=("pvscsi", "ide"))),
    ("scsi-controller", Status.FAIL, "non-scsi", lambda f: with_item(f, disk_controllers=("scsi", "non-scsi"))),
    ("master-target-enable-uuid", Status.FAIL, "disk.EnableUUID is FALSE", lambda f: with_mt(f, enable_uuid=False)),
    ("master-target-enable-uuid", Status.FAIL, "disk.EnableUUID is not set", lambda f: with_mt(f, enable_uuid=None)),
    (
        "master-target-enable-uuid",
        Status.FAIL,
        "has no VM with instance UUID 5012c0de",
        lambda f: with_mt(f, vm_found=False),
    ),
    (
        "disk-uuid-clash",
        Status.FAIL,
        "template",
        lambda f: with_item(f, disk_ids=frozenset({"naa.6000c29000000000000000000000000a"})),
    ),
    ("master-target-os", Status.FAIL, "windows master target", lambda f: with_mt(f, os_family="windows")),
    ("vmware-tools", Status.WARN, "do not run", lambda f: with_item(f, tools_running=False)),
    ("vmware-tools", Status.FAIL, "no VMware Tools installed", lambda f: with_item(f, tools_installed=False)),
    (
        "vmware-tools",
        Status.WARN,
        "cannot tell whether VMware Tools are installed in web01 (powered off",
        lambda f: with_item(f, tools_installed=None, powered_on=False, tools_running=None),
    ),
    ("version-order", Status.FAIL, "is newer than", lambda f: with_mt_agent(f, version="1.3.0")),
    ("version-order", Status.FAIL, "is newer than controller", lambda f: with_ps(f, version="2.0")),
    (
        "retention-volume",
        Status.FAIL,
        "OS volume",
        lambda f: with_mt(f, retention=RetentionFacts("/", False, ("it is the OS volume",))),
    ),
    (
        "retention-volume",
        Status.WARN,
        "the agent's configuration accepts it ([replication] check_retention_volume = false)",
        lambda f: with_mt(f, retention=RetentionFacts("/", False, ("it is the OS volume",), eligibility_waived=True)),
    ),
    (
        "retention-volume",
        Status.WARN,
        "is not reported by its last heartbeat",
        lambda f: with_mt(
            f,
            retention=RetentionFacts(
                "/mnt/r", None, capacity_bytes=100 * 2**30, free_bytes=80 * 2**30, source="its last heartbeat"
            ),
        ),
    ),
    (
        "retention-volume",
        Status.WARN,
        "neither its heartbeats",
        lambda f: with_mt(f, retention=None, retention_note="neither its heartbeats nor its API report them"),
    ),
    (
        "retention-volume",
        Status.WARN,
        "90% used",
        lambda f: with_mt(
            f, retention=RetentionFacts("/mnt/r", True, capacity_bytes=100 * 2**30, free_bytes=10 * 2**30)
        ),
    ),
    (
        "reachability",
        Status.FAIL,
        "cannot reach it",
        lambda f: with_mt_agent(f, answers=False, answer_error="connection refused"),
    ),
    ("reachability", Status.FAIL, "never sent a heartbeat", lambda f: with_ps(f, heartbeat_age_seconds=None)),
    ("reachability", Status.FAIL, "no longer reaches", lambda f: with_ps(f, heartbeat_age_seconds=600)),
    (
        "reachability",
        Status.FAIL,
        "no connection from the process server",
        lambda f: with_mt(f, reached_by=frozenset()),
    ),
    ("reachability", Status.WARN, "before the first pair", lambda f: with_mt(f, reached_by=None)),
    (
        "reachability",
        Status.WARN,
        "not probed: --offline",
        lambda f: with_ps(f, answers=None, probe_note="--offline"),
    ),
    ("reachability", Status.FAIL, "no agent of that name", lambda f: with_ps(f, registered=False)),
    (
        "certificate-expiry",
        Status.FAIL,
        "expired",
        lambda f: with_ps(f, certificate_not_after=NOW - dt.timedelta(hours=1)),
    ),
    (
        "certificate-expiry",
        Status.WARN,
        "expires in 2 days",
        lambda f: dataclasses.replace(
            f, vcenter=VCenterFacts("vc1", "u", certificate_not_after=NOW + dt.timedelta(days=2))
        ),
    ),
]


@pytest.mark.parametrize("check", [spec.id for spec in CHECKS])
def test_every_check_passes_on_a_healthy_failback(check: str):
    results = run_checks(healthy(), only=[check])
    assert results, f"{check} reported nothing on a healthy failback"
    assert {r.status for r in results} == {Status.OK}, [r.to_json() for r in results]


@pytest.mark.parametrize(("check", "status", "evidence", "breaker"), BROKEN, ids=[f"{b[0]}-{b[2]}" for b in BROKEN])
def test_a_broken_fact_is_reported_with_evidence_and_remedy(
    check: str, status: Status, evidence: str, breaker: Breaker
):
    results = run_checks(breaker(healthy()), only=[check])
    bad = [r for r in results if r.status is status]
    assert bad, [r.to_json() for r in results]
    assert any(evidence in r.evidence for r in bad), [r.evidence for r in bad]
    assert all(r.remedy for r in bad)


def _restarted(facts: DoctorFacts, served: float) -> DoctorFacts:
    """The process server silent for 10 minutes, the controller serving for ``served`` seconds."""
    controller = dataclasses.replace(facts.controller, started_at=NOW - dt.timedelta(seconds=served))
    return with_ps(dataclasses.replace(facts, controller=controller), heartbeat_age_seconds=600)


def test_an_agent_is_not_blamed_for_heartbeats_missed_while_the_controller_was_down():
    results = run_checks(_restarted(healthy(), served=20), only=["reachability"])
    mine = [r for r in results if r.subject == "process server ps-01"]
    assert [r.status for r in mine if r.status is not Status.OK] == [Status.WARN], [r.to_json() for r in results]
    assert Status.FAIL not in {r.status for r in results}
    assert any("served for only 20 s" in r.evidence for r in mine)


def test_an_agent_silent_for_longer_than_the_controller_has_served_is_stale():
    results = run_checks(_restarted(healthy(), served=3600), only=["reachability"])
    assert [r.status for r in results if "no longer reaches" in r.evidence] == [Status.FAIL]


def test_every_check_has_a_breaking_case():
    assert {spec.id for spec in CHECKS} == {b[0] for b in BROKEN}


def test_a_report_is_as_bad_as_its_worst_finding_and_round_trips_through_json():
    ok = Report("plan web", NOW, tuple(run_checks(healthy())))
    assert ok.status is Status.OK
    report = Report("plan web", NOW, tuple(run_checks(with_mt(healthy(), snapshots=("s",)))))
    assert report.status is Status.FAIL
    assert [r.check for r in report.failures()] == ["master-target-snapshots"]
    assert Report.from_json(report.to_json()) == report


def test_what_could_not_be_collected_keeps_a_report_from_being_ok():
    report = Report("vm web01", NOW, tuple(run_checks(healthy())), problems=("vCenter vc1 did not answer",))
    assert report.status is Status.WARN
