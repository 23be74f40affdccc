"""The lab as the crash tests see it: the controller they kill and restart, and the real state they judge it by.

Everything here reads what the parts themselves hold, never logs: the controller's job and item records (through
its API, or straight from its database while it is down), the simulator's event history (every power-on and every
reconfiguration it performed, with the spec it was given), the vault's job list on the local Azure endpoint, the
master target's pairs through its API and the failover intents its journal recorded durably, and the disk files.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyVmomi import vim

from agent.journal._catalog import FAILOVER
from agent.journal._catalog import MAGIC as CATALOG_MAGIC
from agent.journal._records import HEADER_SIZE, unpack_header
from controller import azure
from controller.agents import GrpcAgents, MasterTarget, PairState, ProcessServer
from controller.api.v1 import jobs_pb2, jobs_pb2_grpc, workflows_pb2, workflows_pb2_grpc
from controller.cli._client import RPC_TIMEOUT, call, load_ctl_config
from controller.cli._jobs import job_document
from controller.service._faults import CRASH_AT
from controller.store import Database, JobRecord, JobStore
from failback.errors import DeadlineExceeded
from failback.retry import Policy
from failback.serving import load_tls_identity
from lab.world import MASTER_TARGET, PROCESS_SERVER, Layout, controller_proc
from lab.world._layout import read_record
from lab.world._procs import alive
from lab.world._vsphere import connect
from tests.harness import run_cli

__all__ = ["Site"]

# Generous: two cores shared with other work, and a sync or a drain inside some waits.
_JOB_WAIT = Policy(deadline=240.0, initial=0.2, maximum=0.5, jitter=0.05)
_SETTLE = Policy(deadline=30.0, initial=0.2, maximum=1.0, jitter=0.05)


class Site:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.record = read_record(layout)
        self._ctl = load_ctl_config(layout.ctl_config)
        tls = load_tls_identity(layout.controller / "state" / "tls", remedy="")
        self._agents = GrpcAgents(lambda: tls, timeout=15.0)
        self.mt: MasterTarget = self._agents.master_target(
            MASTER_TARGET.name, self.record.agents[MASTER_TARGET.name]["address"]
        )
        self.ps: ProcessServer = self._agents.process_server(
            PROCESS_SERVER, self.record.agents[PROCESS_SERVER]["address"]
        )

    def close(self) -> None:
        self._agents.close()

    # -- the controller -------------------------------------------------------------------------------------------

    def controller_alive(self) -> bool:
        return alive(controller_proc(self.layout))

    def restart_controller(self, env: Mapping[str, str] | None = None) -> None:
        """Restart it on its recorded ports, with ``env`` (the crash seam) added to its environment."""
        crash_at = [env[CRASH_AT]] if env else []
        done = run_cli("tests.workflows_crash._restart", str(self.layout.root), *crash_at, timeout=120)
        assert done.returncode == 0, f"restarting the controller failed: {done.stderr}"

    def apply_plan(self) -> None:
        request = workflows_pb2.ApplyPlanRequest(text=self.layout.plan.read_text(), syntax="toml")
        call(self._ctl, lambda c: workflows_pb2_grpc.FailbackStub(c).ApplyPlan(request, timeout=RPC_TIMEOUT))

    def start(self, workflow: str, items: list[str], options: Mapping[str, Any] | None = None) -> int:
        request = workflows_pb2.StartWorkflowRequest(
            workflow=workflow, plan="lab", items=items, options_json=json.dumps(dict(options or {}))
        )
        job = call(self._ctl, lambda c: workflows_pb2_grpc.FailbackStub(c).StartWorkflow(request, timeout=RPC_TIMEOUT))
        return int(job.id)

    def job(self, job_id: int) -> dict[str, Any]:
        request = jobs_pb2.GetJobRequest(id=job_id)
        return job_document(call(self._ctl, lambda c: jobs_pb2_grpc.JobsStub(c).GetJob(request, timeout=RPC_TIMEOUT)))

    def job_at_rest(self, job_id: int) -> JobRecord:
        """The job as the dead controller left it in its database (read while no controller runs)."""
        assert not self.controller_alive(), "the controller runs: its records may move while they are read"
        database = Database.open(Database.sqlite_in(self.layout.controller / "state"), migrate=False)
        try:
            return JobStore(database).get(job_id)
        finally:
            database.engine.dispose()

    def request_cancel_at_rest(self, job_id: int) -> None:
        """Record an operator's cancellation while no controller runs (the job store's own request, as the API's)."""
        assert not self.controller_alive(), "the controller runs: cancel through its API instead"
        database = Database.open(Database.sqlite_in(self.layout.controller / "state"), migrate=False)
        try:
            JobStore(database).request_cancel(job_id, by="operator/t25", now=dt.datetime.now(dt.UTC))
        finally:
            database.engine.dispose()

    def item(self, name: str) -> dict[str, Any]:
        reply = call(
            self._ctl,
            lambda c: workflows_pb2_grpc.FailbackStub(c).ListItems(
                workflows_pb2.ListItemsRequest(), timeout=RPC_TIMEOUT
            ),
        )
        found = next(i for i in reply.items if i.name == name)
        return {"state": found.state, "job_id": found.job_id, "record": json.loads(found.record_json or "{}")}

    def wait_crash(self, job_id: int) -> None:
        """Wait until the controller has killed itself; a job that finishes instead fails the wait with its state."""

        def gone() -> bool | None:
            if not self.controller_alive():
                return True
            document = self.job(job_id)
            if document["finished_at"]:
                raise AssertionError(
                    f"job {job_id} {document['state']} without reaching the crash point: {document['error']}"
                )
            return None

        _JOB_WAIT.wait_for(gone, what=f"the controller to kill itself during job {job_id}")

    def wait_finished(self, job_id: int) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            document = self.job(job_id)
            return document if document["finished_at"] else None

        return _JOB_WAIT.wait_for(finished, what=f"job {job_id} to finish")

    def wait_step(self, job_id: int, step: str) -> dict[str, Any]:
        """Wait until ``step`` of the job runs (for a kill from outside while it does)."""

        def running() -> dict[str, Any] | None:
            document = self.job(job_id)
            if document["finished_at"]:
                raise AssertionError(f"job {job_id} {document['state']} before step {step} ran")
            current = next(s for s in document["steps"] if s["name"] == step)
            return document if current["state"] in ("running", "waiting") else None

        return _JOB_WAIT.wait_for(running, what=f"step {step} of job {job_id} to run")

    def wait_replicating(self, pair_id: str) -> None:
        def replicating() -> bool | None:
            target = self.mt.pair(pair_id)
            return True if target is not None and target.state is PairState.REPLICATING else None

        _JOB_WAIT.wait_for(replicating, what=f"pair {pair_id} to replicate on the master target")

    # -- the simulator --------------------------------------------------------------------------------------------

    def vm_events(self, vm_name: str, type_ids: list[str]) -> list[Any]:
        """The simulator's events of those types about ``vm_name``, oldest first (its history holds 1000)."""
        vc = self.record.vcenter
        password = Path(vc["password_file"]).read_text()
        with connect(vc["host"], vc["port"], vc["username"], password, Path(vc["ca_file"])) as si:
            content = si.RetrieveContent()
            view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
            try:
                vm = next(v for v in view.view if v.name == vm_name)
            finally:
                view.Destroy()
            spec = vim.event.EventFilterSpec(
                entity=vim.event.EventFilterSpec.ByEntity(entity=vm, recursion="self"),
                eventTypeId=type_ids,
                maxCount=1000,
            )
            events = list(content.eventManager.QueryEvents(spec))
        return sorted(events, key=lambda e: e.key)

    def power_ons(self, vm_name: str, *, after: int = 0) -> int:
        return sum(1 for e in self.vm_events(vm_name, ["VmPoweredOnEvent"]) if e.key > after)

    def disks_added(self, vm_name: str, *, after: int = 0) -> list[str | None]:
        """The VMDK files the simulator attached to ``vm_name`` (one entry per attachment it performed)."""
        added = []
        for event in self.vm_events(vm_name, ["VmReconfiguredEvent"]):
            if event.key <= after:
                continue
            for change in event.configSpec.deviceChange or ():
                if change.operation == "add" and isinstance(change.device, vim.vm.device.VirtualDisk):
                    added.append(getattr(change.device.backing, "fileName", None))
        return added

    def last_event_key(self) -> int:
        keys = [e.key for vm in self.record.vms for e in self.vm_events(vm["name"], [])]
        keys += [e.key for e in self.vm_events(MASTER_TARGET.name, [])]
        return max(keys, default=0)

    def snapshots(self, vm_name: str) -> list[str]:
        vc = self.record.vcenter
        password = Path(vc["password_file"]).read_text()
        with connect(vc["host"], vc["port"], vc["username"], password, Path(vc["ca_file"])) as si:
            content = si.RetrieveContent()
            view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
            try:
                vm = next(v for v in view.view if v.name == vm_name)
                tree = list(vm.snapshot.rootSnapshotList) if vm.snapshot else []
            finally:
                view.Destroy()
        names = []
        while tree:
            node = tree.pop()
            names.append(node.name)
            tree.extend(node.childSnapshotList or ())
        return names

    # -- Azure ------------------------------------------------------------------------------------------------------

    def asr_jobs(self, item_name: str) -> list[azure.Job]:
        """The vault's jobs about ``item_name``, oldest first, as the local Azure endpoint recorded them."""
        az = self.record.azure
        principal = azure.ServicePrincipal(
            az["tenant_id"],
            az["client_id"],
            azure.Secret(Path(az["secret_file"]).read_text()),
            authority=az["base_url"],
        )
        config = azure.AzureClientConfig(base_url=az["base_url"], connection_verify=az["ca_file"])
        credential = azure.make_credential(principal, connection_verify=az["ca_file"])
        ref = azure.VaultRef(az["subscription_id"], az["resource_group"], az["vault"])
        with azure.SiteRecovery(ref, credential, config=config) as vault:
            jobs = [j for j in vault.list_jobs() if j.target_object_name == item_name]
        return sorted(jobs, key=lambda j: j.start_time or 0)

    def azure_state(self) -> dict[str, Any]:
        """``azure/state.json``: each Azure VM's power state and each item's protection state."""
        loaded: dict[str, Any] = json.loads((self.layout.azure / "state.json").read_text())
        return loaded

    def azure_settled(self, item_name: str, expected: tuple[str, str]) -> tuple[str, str]:
        """The item's (protection state, Azure VM power state) once it is ``expected``, or as it stands after a short
        wait: the endpoint publishes its state about once a second, later on a loaded machine."""

        def now() -> tuple[str, str]:
            state = self.azure_state()
            return state["items"][item_name], state["vms"][item_name]

        try:
            return _SETTLE.wait_for(lambda: expected if now() == expected else None, what="the Azure side's state")
        except DeadlineExceeded:
            return now()

    # -- the master target's journal ---------------------------------------------------------------------------------

    def failover_intents(self, journal: Path) -> list[dict[str, Any] | None]:
        """The point-in-time intents the master target recorded durably in the pair's catalog, in order (None: the
        disk went back to latest). Read with the journal's own framing, without opening the log for writing."""
        data = (journal / "catalog").read_bytes()
        intents: list[dict[str, Any] | None] = []
        offset = 0
        while offset + HEADER_SIZE <= len(data):
            header = unpack_header(data[offset : offset + HEADER_SIZE])
            if header is None or header.magic != CATALOG_MAGIC:
                break
            payload = data[offset + HEADER_SIZE : offset + HEADER_SIZE + header.length]
            if len(payload) != header.length or not header.verify(payload):
                break
            if header.kind == FAILOVER:
                intents.append(json.loads(payload)["failover"])
            offset += HEADER_SIZE + header.length
        return intents
