"""The doctor on the real vSphere simulator and the local Azure endpoint, through the real adapters: each check the
simulators can show, failing on the condition that breaks a failback and passing without it.

The plan ``web`` fails back ``app01`` (Linux, from the simulator's ``DC0_H0_VM0``) through the master target VM
``DC0_H0_VM1``; its recovery plan also brings ``web01`` and ``db01``. What the simulator cannot show (a read-only
vCenter user: every simulator session is an administrator) goes through the doctor's privilege seam, which computes a
named principal's privileges from the permissions and roles the simulator really stores.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from controller.doctor import Report, Selection, Status, principal_privileges
from controller.vsphere import VirtualMachine
from lab.vcsim import FREE_ESXI, Model, Simulator
from tests.doctor.conftest import Site, findings

pytestmark = pytest.mark.vcsim


def status(report: Report, check: str, subject: str) -> Status:
    (found,) = [r for r in findings(report, check) if r.subject == subject]
    return found.status


def evidence(report: Report, check: str, subject: str) -> str:
    (found,) = [r for r in findings(report, check) if r.subject == subject]
    return found.evidence


def ready(site: Site) -> Site:
    site.vc.set_extra_config(site.mt.instance_uuid, {"disk.EnableUUID": "TRUE"})
    return site


@pytest.fixture
def operator(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A plain pyVmomi session on a site's simulator, standing in for an operator's own tools."""
    sessions: list[Any] = []

    def content(sim: Simulator) -> Any:
        context = ssl.create_default_context(cafile=str(sim.ca_file))
        instance = SmartConnect(host=sim.host, port=sim.port, user=sim.username, pwd=sim.password, sslContext=context)
        sessions.append(instance)
        return instance.RetrieveContent()

    yield content
    for instance in sessions:
        Disconnect(instance)


def test_a_site_ready_for_failback_passes_every_vsphere_and_vault_check_of_its_vm(make_site):
    report = ready(make_site()).run()
    checked = {
        ("vcenter-connected", "vCenter vc1"),
        ("vault-connected", "vault dr"),
        ("vcenter-datastore-privileges", "datastore LocalDS_0"),
        ("esxi-licence", "host DC0_H0"),
        ("asr-servers", "master target mt-linux-01"),
        ("asr-servers", "process server ps-azure-01"),
        ("master-target-snapshots", "master target mt-linux-01"),
        ("master-target-enable-uuid", "master target mt-linux-01"),
        ("asr-state", "vm app01"),
        ("vm-snapshots", "vm app01"),
        ("master-target-datastore-access", "vm app01"),
        ("nfs-datastore", "vm app01"),
        ("scsi-controller", "vm app01"),
        ("disk-uuid-clash", "vm app01"),
    }
    assert {key: status(report, *key) for key in checked} == dict.fromkeys(checked, Status.OK)


def test_a_snapshot_on_the_on_premises_vm_fails_with_its_name(make_site):
    site = ready(make_site())
    site.vc.create_snapshot(site.onprem.instance_uuid, "before-patching")
    report = site.run()
    assert status(report, "vm-snapshots", "vm app01") is Status.FAIL
    assert "before-patching" in evidence(report, "vm-snapshots", "vm app01")
    assert report.status is Status.FAIL


def test_a_snapshot_on_the_master_target_fails(make_site):
    site = ready(make_site())
    site.vc.create_snapshot(site.mt.instance_uuid, "mt-backup")
    report = site.run()
    assert status(report, "master-target-snapshots", "master target mt-linux-01") is Status.FAIL
    assert "mt-backup" in evidence(report, "master-target-snapshots", "master target mt-linux-01")


@pytest.mark.parametrize(("value", "shown"), [(None, "not set"), ("FALSE", "FALSE")])
def test_disk_enable_uuid_not_true_on_the_master_target_fails(make_site, value, shown):
    site = make_site()
    if value is not None:
        site.vc.set_extra_config(site.mt.instance_uuid, {"disk.EnableUUID": value})
    report = site.run()
    subject = "master target mt-linux-01"
    assert status(report, "master-target-enable-uuid", subject) is Status.FAIL
    assert f"disk.EnableUUID is {shown} on VM {site.mt.name}" in evidence(report, "master-target-enable-uuid", subject)


def test_a_master_target_that_holds_the_vms_disk_uuid_fails_the_clash_check(make_site):
    site = ready(make_site())
    site.vc.attach_disk(site.mt.instance_uuid, site.onprem.disks[0].file_name)  # as a clone of one template would
    report = site.run()
    assert status(report, "disk-uuid-clash", "vm app01") is Status.FAIL
    assert status(report, "disk-uuid-clash", "vm web01") is Status.OK


def _add_ide_disk(operator: Any) -> Any:
    def add(sim: Simulator, vm: VirtualMachine) -> None:
        content = operator(sim)
        ref = content.searchIndex.FindByUuid(uuid=vm.instance_uuid, vmSearch=True, instanceUuid=True)
        ide = next(d for d in ref.config.hardware.device if isinstance(d, vim.vm.device.VirtualIDEController))
        disk = vim.vm.device.VirtualDisk(
            key=-1,
            controllerKey=ide.key,
            unitNumber=len(ide.device or ()),
            capacityInKB=1024,
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                fileName=f"[LocalDS_0] {vm.name}/ide-data.vmdk", diskMode="persistent"
            ),
        )
        change = vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create", device=disk)
        WaitForTask(ref.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[change])))

    return add


def test_a_disk_on_an_ide_controller_fails_the_scsi_check(make_site, operator):
    report = ready(make_site(before_failover=_add_ide_disk(operator))).run()
    assert status(report, "scsi-controller", "vm app01") is Status.FAIL
    assert "disks on ide controllers" in evidence(report, "scsi-controller", "vm app01")


def test_a_free_esxi_host_fails_the_licence_check(make_site):
    report = ready(make_site(model=Model(vms=2, license=FREE_ESXI))).run()
    assert status(report, "esxi-licence", "host DC0_H0") is Status.FAIL
    assert "esxBasic" in evidence(report, "esxi-licence", "host DC0_H0")


def test_a_read_only_vcenter_user_fails_the_datastore_privileges_check(make_site, operator):
    site = make_site(privileges=principal_privileges("VSPHERE.LOCAL\\failback-ro"))
    content = operator(site.sim)
    content.authorizationManager.SetEntityPermissions(
        entity=content.rootFolder,
        permission=[vim.AuthorizationManager.Permission(principal="VSPHERE.LOCAL\\failback-ro", group=False,
                                                        roleId=-2, propagate=True)],
    )  # fmt: skip
    report = site.run()
    assert status(report, "vcenter-datastore-privileges", "datastore LocalDS_0") is Status.FAIL
    assert "Datastore.AllocateSpace" in evidence(report, "vcenter-datastore-privileges", "datastore LocalDS_0")


def test_an_administrator_named_through_the_privilege_seam_passes(make_site, operator):
    site = make_site(privileges=principal_privileges("VSPHERE.LOCAL\\failback-admin"))
    content = operator(site.sim)
    content.authorizationManager.SetEntityPermissions(
        entity=content.rootFolder,
        permission=[vim.AuthorizationManager.Permission(principal="VSPHERE.LOCAL\\failback-admin", group=False,
                                                        roleId=-1, propagate=True)],
    )  # fmt: skip
    report = site.run()
    assert status(report, "vcenter-datastore-privileges", "datastore LocalDS_0") is Status.OK


def test_a_datastore_vcenter_does_not_have_fails_the_datastore_access_check(make_site):
    site = ready(make_site())
    site.use_plan(datastore="ssd-does-not-exist")
    report = site.run()
    assert status(report, "master-target-datastore-access", "vm app01") is Status.FAIL
    assert "ssd-does-not-exist" in evidence(report, "master-target-datastore-access", "vm app01")


def test_an_nfs_target_datastore_fails(make_site, operator, tmp_path: Path):
    site = ready(make_site())
    content = operator(site.sim)
    host = next(h for h in content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True).view
                if h.name == "DC0_H0")  # fmt: skip
    # The simulator keeps an NFS datastore's files in its local path, named for the directory.
    export = tmp_path / "nfs-01"
    export.mkdir()
    host.configManager.datastoreSystem.CreateNasDatastore(
        spec=vim.host.NasVolume.Specification(
            remoteHost="127.0.0.1", remotePath="/exports/vm", localPath=str(export), accessMode="readWrite", type="NFS"
        )
    )
    site.use_plan(datastore="nfs-01")
    report = site.run()
    assert status(report, "nfs-datastore", "vm app01") is Status.FAIL
    assert "nfs-01 is NFS" in evidence(report, "nfs-datastore", "vm app01")


def test_a_wrong_vcenter_password_fails_the_connection_check_and_the_run_still_reports(make_site):
    report = make_site(vcenter_password="not-the-password").run()
    assert status(report, "vcenter-connected", "vCenter vc1") is Status.FAIL
    assert "not-the-password" not in str(report.to_json())
    assert status(report, "asr-state", "vm app01") is Status.OK  # the vault's checks still ran


def test_a_wrong_vault_secret_fails_the_vault_check(make_site):
    report = ready(make_site(vault_secret="not-the-secret")).run()
    assert status(report, "vault-connected", "vault dr") is Status.FAIL
    assert status(report, "vcenter-connected", "vCenter vc1") is Status.OK


def test_an_item_asr_protects_back_already_fails_the_state_check_for_reprotect(make_site):
    report = ready(make_site()).run()
    assert status(report, "asr-state", "vm db01") is Status.FAIL
    assert "Protected/Recovery (InMage)" in evidence(report, "asr-state", "vm db01")


def test_a_master_target_id_the_vault_does_not_list_fails_the_servers_check(make_site):
    site = ready(make_site())
    site.use_plan(mt_asr_id="00000000-0000-0000-0000-00000000dead")
    report = site.run()
    assert status(report, "asr-servers", "master target mt-linux-01") is Status.FAIL
    assert "mt-linux-01" in evidence(report, "asr-servers", "master target mt-linux-01")


def test_a_static_ip_warns_unless_the_plan_restores_it(make_site):
    site = ready(make_site())
    assert status(site.run(), "static-ip", "vm app01") is Status.WARN
    site.use_plan(
        extra="""
        [network]
        restore_static_ips = true

        [[vms]]
        item = "app01"
        ips = [{ mac = "00:0c:29:36:63:62", address = "10.10.5.12", prefix = 24, gateways = ["10.10.5.1"] }]
        """
    )
    assert status(site.run(), "static-ip", "vm app01") is Status.OK


def test_offline_the_doctor_asks_no_source_and_says_so(make_site):
    site = ready(make_site())
    site.sim.stop()
    report = site.run(Selection(plan="web"), live=False)
    assert status(report, "vcenter-connected", "vCenter vc1") is Status.WARN
    assert [s.how for s in report.sources if s.name == "vault dr"] == ["stored"]
