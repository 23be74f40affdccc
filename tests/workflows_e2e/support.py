"""A lab for end-to-end workflow tests, driven the way an operator drives it: through the controller's API (what
failbackctl calls), with the agents' counters read through their own API and the results checked against the lab's
oracle (the digest of every source disk at every bookmark, written by the workload itself).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim

from agent.dataplane import disk_digest
from controller import azure, vsphere
from controller.agents import GrpcAgents, MasterTarget, ProcessServer
from controller.api.v1 import jobs_pb2, jobs_pb2_grpc, workflows_pb2, workflows_pb2_grpc
from controller.cli._client import RPC_TIMEOUT, call, load_ctl_config
from controller.cli._jobs import job_document
from failback.retry import Policy
from failback.serving import load_tls_identity
from lab.world import MASTER_TARGET, PROCESS_SERVER, Layout
from lab.world._azure import lab_id
from lab.world._layout import read_record
from lab.world._vsphere import connect, extent_path
from tests.harness import run_cli

__all__ = ["LabDriver", "lab_up"]

_JOB_WAIT = 240.0


@contextmanager
def lab_up(directory: Path, *args: str) -> Iterator[LabDriver]:
    """``failbackctl lab up`` in ``directory`` (a process, as a user runs it), then ``lab down`` whatever happens."""
    done = run_cli("controller.cli", "lab", "up", "--dir", str(directory), *args, timeout=300)
    if done.returncode != 0:
        run_cli("controller.cli", "lab", "down", "--dir", str(directory), timeout=120)
        pytest.fail(f"lab up failed: {done.stderr[-3000:]}")
    driver = LabDriver(directory)
    try:
        yield driver
    finally:
        driver.close()
        down = run_cli("controller.cli", "lab", "down", "--dir", str(directory), timeout=120)
        assert down.returncode == 0, down.stderr


class LabDriver:
    def __init__(self, directory: Path) -> None:
        self.layout = Layout(directory)
        self.record = read_record(self.layout)
        self.ctl = load_ctl_config(self.layout.ctl_config)
        tls = load_tls_identity(self.layout.controller / "state" / "tls", remedy="")
        self._agents = GrpcAgents(lambda: tls, timeout=15.0)
        self.mt: MasterTarget = self._agents.master_target(
            MASTER_TARGET.name, self.record.agents[MASTER_TARGET.name]["address"]
        )
        self.ps: ProcessServer = self._agents.process_server(
            PROCESS_SERVER, self.record.agents[PROCESS_SERVER]["address"]
        )

    def close(self) -> None:
        self._agents.close()

    # -- the controller ----------------------------------------------------------------------------------------------

    def apply_plan(self, text: str | None = None) -> None:
        request = workflows_pb2.ApplyPlanRequest(text=text or self.layout.plan.read_text(), syntax="toml")
        call(self.ctl, lambda c: workflows_pb2_grpc.FailbackStub(c).ApplyPlan(request, timeout=RPC_TIMEOUT))

    def start(self, workflow: str, *items: str, plan: str = "lab", **options: Any) -> int:
        request = workflows_pb2.StartWorkflowRequest(
            workflow=workflow, plan=plan, items=list(items), options_json=json.dumps(options)
        )
        job = call(self.ctl, lambda c: workflows_pb2_grpc.FailbackStub(c).StartWorkflow(request, timeout=RPC_TIMEOUT))
        return int(job.id)

    def job(self, job_id: int) -> dict[str, Any]:
        request = jobs_pb2.GetJobRequest(id=job_id)
        return job_document(call(self.ctl, lambda c: jobs_pb2_grpc.JobsStub(c).GetJob(request, timeout=RPC_TIMEOUT)))

    def wait(self, job_id: int, *, deadline: float = _JOB_WAIT) -> dict[str, Any]:
        """The job once it finished (any outcome)."""

        def finished() -> dict[str, Any] | None:
            document = self.job(job_id)
            return document if document["finished_at"] else None

        return Policy(deadline=deadline, initial=0.2, maximum=0.5).wait_for(finished, what=f"job {job_id}")

    def run(self, workflow: str, *items: str, plan: str = "lab", **options: Any) -> dict[str, Any]:
        """Start a workflow, wait for it, and insist that it succeeded."""
        document = self.wait(self.start(workflow, *items, plan=plan, **options))
        assert document["state"] == "succeeded", f"{workflow} {document['state']}: {document['error']}"
        return document

    def items(self) -> dict[str, dict[str, Any]]:
        request = workflows_pb2.ListItemsRequest()
        reply = call(self.ctl, lambda c: workflows_pb2_grpc.FailbackStub(c).ListItems(request, timeout=RPC_TIMEOUT))
        return {
            i.name: {
                "state": i.state,
                "record": json.loads(i.record_json or "{}"),
                "asr": json.loads(i.asr_json or "{}"),
            }
            for i in reply.items
        }

    # -- the agents and the oracle -----------------------------------------------------------------------------------

    def pairs(self, item: str) -> list[dict[str, Any]]:
        return list(self.items()[item]["record"]["disks"])

    def bookmarks(self, vm: str) -> list[dict[str, Any]]:
        """The oracle's lines for the VM, oldest first (none before its workload's first bookmark)."""
        path = self.layout.bookmarks(vm)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def onprem_files(self, item: str) -> dict[str, Path]:
        """The local files holding the bytes of the item's on-premises disks (its VMDKs' extents), by source disk
        id (the ids the oracle uses)."""
        urls = {name: Path(path) for name, path in self.record.vcenter["datastores"].items()}
        return {disk["source_id"]: extent_path(disk["file"], urls) for disk in self.pairs(item)}

    def oracle_mismatches(self, item: str, bookmark_id: str) -> list[str]:
        """Disks of the item whose on-premises bytes differ from the source at the bookmark (empty: all equal)."""
        line = next((b for b in self.bookmarks(item) if b["id"] == bookmark_id), None)
        assert line is not None, f"the oracle of {item} has no bookmark {bookmark_id}"
        sizes = {d["source_id"]: int(d["capacity_bytes"]) for d in self.pairs(item)}
        return [
            disk_id
            for disk_id, path in self.onprem_files(item).items()
            if disk_digest(path, sizes[disk_id]).hex() != line["disks"][disk_id]["digest"]
        ]

    def wait_for_point(
        self, item: str, *, kind: str | None = None, group: str | None = None, after: float = 0.0
    ) -> str:
        """Wait until every disk of the item holds a common point (of ``kind``/``group``) newer than ``after``."""

        def common() -> str | None:
            ids: set[str] | None = None
            newest: dict[str, float] = {}
            for disk in self.pairs(item):
                points = [
                    p
                    for p in self.mt.points(disk["pair_id"])
                    if (kind is None or p.kind == kind) and (group is None or p.group == group) and p.time > after
                ]
                newest.update({p.id: p.time for p in points})
                held = {p.id for p in points}
                ids = held if ids is None else ids & held
            return max(ids, key=lambda i: newest[i]) if ids else None

        return Policy(deadline=60.0, initial=0.3, maximum=1.0).wait_for(common, what=f"a point on every disk of {item}")

    def wait_drained(self, item: str) -> None:
        """Until the source is stopped and the master target holds all of it (what a planned failover waits for)."""

        def drained() -> bool | None:
            statuses = [self.ps.pair(d["pair_id"]) for d in self.pairs(item)]
            return True if all(s is not None and s.drained for s in statuses) else None

        Policy(deadline=60.0, initial=0.2, maximum=0.5).wait_for(drained, what=f"{item} drained")

    def azure_power(self, item: str) -> str | None:
        """The Azure VM's power state as the Compute API answers now (``lab status`` shows a copy the endpoint
        writes now and then)."""
        credential, config = self._azure()
        with azure.AzureVms(credential, config=config) as vms:
            return vms.power_state(self.items()[item]["asr"]["azure_vm_id"]).power_state

    def _azure(self) -> tuple[Any, azure.AzureClientConfig]:
        a = self.record.azure
        principal = azure.ServicePrincipal(
            a["tenant_id"], a["client_id"], azure.Secret(Path(a["secret_file"]).read_text()), authority=a["base_url"]
        )
        config = azure.AzureClientConfig(base_url=a["base_url"], connection_verify=a["ca_file"])
        return azure.make_credential(principal, connection_verify=a["ca_file"]), config

    def stop_azure_vm(self, item: str) -> None:
        """Power the item's Azure VM off through the Compute API (as an operator would before a failover)."""
        credential, config = self._azure()
        with azure.AzureVms(credential, config=config) as vms:
            vms.power_off(self.items()[item]["asr"]["azure_vm_id"])

    def asr_state(self, item: str) -> tuple[str | None, str | None, str | None]:
        """The vault's protection state, active location and provider of the item, as ASR answers now."""
        credential, config = self._azure()
        a = self.record.azure
        ref = azure.VaultRef(a["subscription_id"], a["resource_group"], a["vault"])
        with azure.SiteRecovery(ref, credential, config=config) as asr:
            found = asr.get_protected_item(azure.ItemRef.from_id(self.items()[item]["asr"]["id"]))
        return found.protection_state, found.active_location, found.provider

    @contextmanager
    def simulator(self) -> Iterator[Any]:
        """A pyVmomi session on the simulator (the lab's own, not the product's adapter)."""
        vc = self.record.vcenter
        password = Path(vc["password_file"]).read_text()
        with connect(vc["host"], vc["port"], vc["username"], password, Path(vc["ca_file"])) as si:
            yield si

    @staticmethod
    def find_vm(si: Any, name: str) -> Any | None:
        content = si.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        try:
            return next((vm for vm in view.view if vm.name == name), None)
        finally:
            view.Destroy()

    def delete_onprem_vm(self, name: str) -> None:
        """Destroy the on-premises VM and its disks in the simulator (as if it were lost with the site)."""
        with self.simulator() as si:
            vm = self.find_vm(si, name)
            assert vm is not None, f"the simulator has no VM {name}"
            task = vm.Destroy_Task()

            def done() -> bool | None:
                assert task.info.state != "error", f"deleting VM {name}: {task.info.error}"
                return True if task.info.state == "success" else None

            Policy(deadline=30.0, initial=0.05, maximum=0.5).wait_for(done, what=f"deleting VM {name}")

    def vcenter_vm(self, instance_uuid: str) -> Any:
        """The VM as the product's vSphere adapter reads it."""
        vc = self.record.vcenter
        credentials = vsphere.Credentials(
            host=vc["host"],
            port=vc["port"],
            user=vc["username"],
            password=Path(vc["password_file"]).read_text(),
            ca_file=Path(vc["ca_file"]),
        )
        with vsphere.connect(credentials) as client:
            return client.vm(instance_uuid)

    @property
    def asr_process_server(self) -> str:
        return lab_id(PROCESS_SERVER)
