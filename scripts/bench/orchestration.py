"""Benchmark: reprotect and planned failover of a 100-VM recovery plan, end to end on the lab. Prints one JSON line.

The lab (``lab.world.up`` with a :class:`~lab.world.Shape`) is the real thing on one machine: the vSphere simulator
with two master-target VMs and ``--vms`` on-premises VMs of one small disk each, the controller, a hypervisor shim
and a master-target agent per master target, a process server and the local Azure endpoint whose workloads write the
Azure VMs' disks, all separate processes over mutual TLS. The benchmark applies the lab's plan and runs, through the
controller's API as ``failbackctl`` does:

- ``reprotect_s``: the reprotect job (placement, disks moved to the master targets, pairs, delta resync of every
  disk) from submission until it succeeded;
- ``failover_s``: the planned failover job (Azure VMs shut down, drain, every disk to the latest app-consistent
  point, attestation, ASR, disks back to their VMs, guest customisation, rollback snapshots, power-on with VMware
  Tools). Target: <= 10 s for 100 VMs. ``failover_steps_s`` says where its time goes.

A master target holds at most 60 disks, so 100 disks must span both: ``disks_per_master_target`` is counted on the
master-target VMs in the simulator after reprotect (and must equal the controller's placement); the run fails if
either holds more than 60 or the disks do not all land. ``--group-size`` VMs share a protection group (a failback
group is placed whole).

Baseline, in the same run, on the same VMs after the failover: the vSphere work a failover cannot avoid, as raw
pyVmomi with nothing else - per VM, one disk detached and attached again (the two reconfigures of moving a disk from
the master target to its VM), one more reconfigure (in place of the guest customisation), a snapshot and a power-on,
each task waited for, one VM after the other. ``ratio`` = failover_s / baseline_s is the orchestration's overhead
over bare vSphere round trips.

    /work/venv/bin/python scripts/bench/orchestration.py [--vms 100] [--disk-mib 2] [--group-size 10]
        [--disk-limit 60] [--dir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import ssl
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from controller.api.v1 import jobs_pb2, jobs_pb2_grpc, workflows_pb2, workflows_pb2_grpc
from controller.cli._client import RPC_TIMEOUT, call, load_ctl_config
from controller.cli._jobs import job_document
from failback.retry import Policy
from lab.world import Layout, Shape, VmSpec, WorkloadSettings, down, up
from lab.world._layout import read_record

MIB = 1 << 20
DISK_LIMIT = 60  # a master target's SCSI slots: 4 controllers x 15 disks
TARGET_FAILOVER_S = 10.0
_JOB_POLL = Policy(deadline=1800.0, initial=0.05, maximum=0.1)
_TASK = Policy(deadline=60.0, initial=0.002, maximum=0.05)
# Each Azure VM writes a little and bookmarks now and then: enough that reprotect resyncs a delta and the planned
# failover drains real changes, little enough that 100 of them leave the two cores to the orchestration.
BENCH_WORKLOAD = WorkloadSettings(bytes_per_second=8 << 10, app_every=10.0, crash_every=5.0, group_every=10.0)


def _say(message: str) -> None:
    print(f"[orchestration] {message}", file=sys.stderr, flush=True)


class Controller:
    """The controller's API as the operator's failbackctl reaches it."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.ctl = load_ctl_config(layout.ctl_config)

    def apply_plan(self) -> str:
        request = workflows_pb2.ApplyPlanRequest(text=self.layout.plan.read_text(), syntax="toml")
        reply = call(self.ctl, lambda c: workflows_pb2_grpc.FailbackStub(c).ApplyPlan(request, timeout=RPC_TIMEOUT))
        return str(reply.name)

    def run(self, workflow: str, options: dict[str, Any], plan: str) -> tuple[float, dict[str, Any]]:
        """Start ``workflow`` on ``plan`` and follow it to the end: (seconds from submission, the job document)."""
        request = workflows_pb2.StartWorkflowRequest(workflow=workflow, plan=plan, options_json=json.dumps(options))
        began = time.perf_counter()
        job = call(self.ctl, lambda c: workflows_pb2_grpc.FailbackStub(c).StartWorkflow(request, timeout=RPC_TIMEOUT))

        def finished() -> dict[str, Any] | None:
            reply = call(
                self.ctl,
                lambda c: jobs_pb2_grpc.JobsStub(c).GetJob(jobs_pb2.GetJobRequest(id=job.id), timeout=RPC_TIMEOUT),
            )
            document = job_document(reply)
            return document if document["finished_at"] else None

        document = _JOB_POLL.wait_for(finished, what=f"{workflow} job {job.id}")
        seconds = time.perf_counter() - began
        if document["state"] != "succeeded":
            raise SystemExit(f"{workflow} job {job.id} {document['state']}: {document['error']} ({document['remedy']})")
        return seconds, document

    def records(self) -> dict[str, dict[str, Any]]:
        reply = call(
            self.ctl,
            lambda c: workflows_pb2_grpc.FailbackStub(c).ListItems(
                workflows_pb2.ListItemsRequest(), timeout=RPC_TIMEOUT
            ),
        )
        return {item.name: json.loads(item.record_json or "{}") for item in reply.items}


def step_seconds(document: dict[str, Any]) -> dict[str, float]:
    """Seconds from the end of the previous step (the job's start for the first) to the end of each step: waits
    between a step's attempts count against the step that waited."""
    spans = {}
    previous = dt.datetime.fromisoformat(document["started_at"])
    for step in document["steps"]:
        if step["finished_at"]:
            ended = dt.datetime.fromisoformat(step["finished_at"])
            spans[step["name"]] = round((ended - previous).total_seconds(), 3)
            previous = ended
    return spans


# -- vSphere: what the simulator says, and the baseline ---------------------------------------------------------


class VSphere:
    """A raw pyVmomi session to the lab's simulator."""

    def __init__(self, layout: Layout) -> None:
        vc = read_record(layout).vcenter
        context = ssl.create_default_context(cafile=vc["ca_file"])
        password = Path(vc["password_file"]).read_text()
        self.si = SmartConnect(host=vc["host"], port=vc["port"], user=vc["username"], pwd=password, sslContext=context)
        self.content = self.si.RetrieveContent()

    def close(self) -> None:
        Disconnect(self.si)

    def vms(self) -> dict[str, tuple[Any, list[Any]]]:
        """Every VM by name: (its reference, its virtual disks), in one RetrievePropertiesEx."""
        view = self.content.viewManager.CreateContainerView(self.content.rootFolder, [vim.VirtualMachine], True)
        try:
            collector = vmodl.query.PropertyCollector
            spec = collector.FilterSpec(
                objectSet=[
                    collector.ObjectSpec(
                        obj=view,
                        skip=True,
                        selectSet=[collector.TraversalSpec(name="v", path="view", skip=False, type=vim.ContainerView)],
                    )
                ],
                propSet=[collector.PropertySpec(type=vim.VirtualMachine, pathSet=["name", "config.hardware.device"])],
            )
            found: dict[str, tuple[Any, list[Any]]] = {}
            result = self.content.propertyCollector.RetrievePropertiesEx([spec], collector.RetrieveOptions())
            while result is not None:
                for obj in result.objects:
                    props = {p.name: p.val for p in obj.propSet}
                    disks = [
                        d for d in props.get("config.hardware.device", []) if isinstance(d, vim.vm.device.VirtualDisk)
                    ]
                    found[props["name"]] = (obj.obj, disks)
                if not result.token:
                    break
                result = self.content.propertyCollector.ContinueRetrievePropertiesEx(result.token)
            return found
        finally:
            view.DestroyView()

    def wait(self, task: Any) -> Any:
        def done() -> tuple[Any] | None:
            info = task.info
            if info.state == vim.TaskInfo.State.error:
                raise RuntimeError(f"baseline task failed: {info.error.msg if info.error else info}")
            return (info.result,) if info.state == vim.TaskInfo.State.success else None

        return _TASK.wait_for(done, what="a vSphere task")[0]

    def baseline(self, names: list[str]) -> tuple[float, int]:
        """Seconds for the raw round trips a failover needs per VM, one VM after the other; and the task count."""
        vms = self.vms()
        for name in names:  # not timed: the failover left them on
            self.wait(vms[name][0].PowerOffVM_Task())
        tasks = 0
        began = time.perf_counter()
        for name in names:
            ref, disks = vms[name]
            disk = disks[-1]
            remove = vim.vm.device.VirtualDeviceSpec(operation="remove", device=disk)
            self.wait(ref.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[remove])))
            add = vim.vm.device.VirtualDeviceSpec(operation="add", device=disk)
            self.wait(ref.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[add])))
            self.wait(ref.ReconfigVM_Task(spec=vim.vm.ConfigSpec(annotation="failback baseline")))
            self.wait(ref.CreateSnapshot_Task(name="baseline", description="", memory=False, quiesce=False))
            self.wait(ref.PowerOnVM_Task())
            tasks += 5
        return time.perf_counter() - began, tasks


def attached_per_master_target(vsphere: VSphere, master_targets: list[str], os_disks: int) -> dict[str, int]:
    """Replicated disks attached to each master-target VM, as the simulator has them (its OS disk left out)."""
    vms = vsphere.vms()
    return {name: len(vms[name][1]) - os_disks for name in master_targets}


# -- the run --------------------------------------------------------------------------------------------------------


def run(vms: int, disk_mib: int, group_size: int, workdir: Path, *, disk_limit: int = DISK_LIMIT) -> dict[str, Any]:
    layout = Layout(workdir)  # short: the lab's readiness sockets live under it (AF_UNIX paths are short)
    shape = Shape(
        vms=tuple(VmSpec(f"vm{index:03d}", (disk_mib * MIB,)) for index in range(vms)),
        master_targets=2,
        group_size=group_size,
        workload=BENCH_WORKLOAD,
    )
    began = time.perf_counter()
    up(layout, progress=_say, shape=shape)
    setup_s = time.perf_counter() - began
    try:
        controller = Controller(layout)
        plan = controller.apply_plan()
        _say(f"lab up in {setup_s:.1f} s; reprotect of {vms} VMs")
        reprotect_s, reprotect = controller.run("reprotect", {}, plan)
        records = controller.records()
        placed = Counter()
        for record in records.values():
            placed[record["master_target"]] += len(record["disks"])
        vsphere = VSphere(layout)
        try:
            names = list(shape.master_target_names)
            attached = attached_per_master_target(vsphere, names, os_disks=1)
            _say(f"reprotect {reprotect_s:.1f} s; disks per master target {attached}; planned failover")
            failover_s, failover = controller.run("failover", {"kind": "planned", "point": "latest-app"}, plan)
            _say(f"failover {failover_s:.1f} s; baseline")
            baseline_s, tasks = vsphere.baseline([vm.name for vm in shape.vms])
        finally:
            vsphere.close()
    finally:
        down(layout)
    check(attached, dict(placed), vms, disk_limit)
    return {
        "bench": "orchestration",
        "vms": vms,
        "disk_mib": disk_mib,
        "master_targets": len(names),
        "disks_per_master_target": attached,
        "disk_limit": disk_limit,
        "reprotect_s": round(reprotect_s, 2),
        "failover_s": round(failover_s, 2),
        "failover_steps_s": step_seconds(failover),
        "reprotect_steps_s": step_seconds(reprotect),
        "baseline": f"raw pyVmomi, per VM: 3 reconfigures, a snapshot, a power-on, each waited ({tasks} tasks)",
        "baseline_s": round(baseline_s, 3),
        "ratio": round(failover_s / baseline_s, 2),
        "target_failover_s": TARGET_FAILOVER_S,
        "meets_target": failover_s <= TARGET_FAILOVER_S,
        "setup_s": round(setup_s, 1),
    }


def check(attached: dict[str, int], placed: dict[str, int], vms: int, disk_limit: int) -> None:
    """The placement the controller recorded is what vSphere has, every disk landed, none past the limit."""
    if attached != {name: placed.get(name, 0) for name in attached}:
        raise SystemExit(f"the simulator has {attached} disks on the master targets; the controller placed {placed}")
    if sum(attached.values()) != vms:
        raise SystemExit(f"{sum(attached.values())} of {vms} disks are on the master targets")
    over = {name: count for name, count in attached.items() if count > disk_limit}
    if over:
        raise SystemExit(f"master targets past the {disk_limit}-disk limit: {over}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=100)
    parser.add_argument("--disk-mib", type=int, default=2, help="each VM's one disk")
    parser.add_argument("--group-size", type=int, default=10, help="VMs per protection group (failback group)")
    parser.add_argument(
        "--disk-limit",
        type=int,
        default=DISK_LIMIT,
        help="the most disks the check allows on one master target (the agents' own limit is 60); a smaller one "
        "makes a small run prove the spread too",
    )
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="orch-", dir=args.dir)) / "lab"
    try:
        print(json.dumps(run(args.vms, args.disk_mib, args.group_size, workdir, disk_limit=args.disk_limit)))
    finally:
        shutil.rmtree(workdir.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
