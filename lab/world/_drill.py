"""``failbackctl lab drill``: the whole failback on a lab, as an operator runs it, checked against the lab's oracle.

Stages, each through the controller's API (as ``failbackctl`` does) and stopped at the first failure::

    plan            apply the lab's plan.toml
    doctor          failbackctl doctor on the plan (warnings pass; a failing check stops the drill)
    reprotect       the Azure VMs replicate to their original VMDKs (delta resync), followed per VM
    replicate       the workloads keep writing for a while; the RPO each VM reaches is sampled
    failover        planned, to the latest application-consistent point (the Azure VMs shut down cleanly)
    attestation     the job's record: each disk's digest at the point on the master target against the source's
    oracle          each on-premises VM's disk files against the oracle's digest at the chosen bookmark
    commit          ends the rollback window
    reprotect-back  the VMs are protected to Azure again; the master target releases its pairs

Agent counters (bytes sent, states, points) are read with the controller's credential from the agents' own API.
Nothing here changes the lab except through the controller.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.dataplane import disk_digest
from controller.agents import GrpcAgents, PairState
from controller.api.v1 import jobs_pb2, jobs_pb2_grpc, workflows_pb2, workflows_pb2_grpc
from controller.cli._client import RPC_TIMEOUT, call, load_ctl_config
from controller.cli._jobs import job_document
from failback.retry import Policy
from failback.serving import load_tls_identity
from lab.world._azure import lab_id
from lab.world._layout import MASTER_TARGET, PROCESS_SERVER, Layout, read_record
from lab.world._status import status
from lab.world.errors import LabError

__all__ = ["DrillFailed", "DrillSettings", "Observer", "VmFigures", "run_drill"]

_POLL = Policy(deadline=3600.0, initial=0.3, maximum=0.3, jitter=0.05)


class DrillFailed(LabError):
    """A stage of the drill failed; the message names it and why."""


@dataclass(frozen=True)
class DrillSettings:
    # Runs `failbackctl doctor` on the lab's plan and returns (exit code, output).
    doctor: Callable[[], tuple[int, str]]
    plan: str = "lab"
    replicate_seconds: float = 20.0


@dataclass
class VmFigures:
    name: str
    disks: int = 0
    size_bytes: int = 0
    location: str = ""
    plain_sent: int = 0
    wire_sent: int = 0
    sync_seconds: float | None = None
    rpo_worst: float | None = None
    rpo_last: float | None = None
    point: str | None = None
    point_tag: str | None = None
    attestation: str = "-"
    oracle: str = "-"

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


class Observer:
    """What the drill tells its user: stage starts and ends, job progress, per-VM figures (the CLI renders it)."""

    def stage(self, name: str, title: str) -> None: ...
    def stage_done(self, name: str, state: str, detail: str) -> None: ...
    def job(self, document: dict[str, Any]) -> None: ...
    def vms(self, phase: str, figures: dict[str, VmFigures], progress: dict[str, float]) -> None: ...


@dataclass
class _Drill:
    layout: Layout
    settings: DrillSettings
    observer: Observer
    stages: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, VmFigures] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.record = read_record(self.layout)
        self.ctl = load_ctl_config(self.layout.ctl_config)
        tls = load_tls_identity(self.layout.controller / "state" / "tls", remedy="")
        self.agents = GrpcAgents(lambda: tls, timeout=15.0)
        self.mt = self.agents.master_target(MASTER_TARGET.name, self.record.agents[MASTER_TARGET.name]["address"])
        self.ps = self.agents.process_server(PROCESS_SERVER, self.record.agents[PROCESS_SERVER]["address"])
        self.items: dict[str, dict[str, Any]] = {}
        for vm in self.record.vms:
            self.figures[vm["name"]] = VmFigures(
                vm["name"], len(vm["disks"]), sum(d["size_bytes"] for d in vm["disks"])
            )

    # -- stages ---------------------------------------------------------------------------------------------------

    @contextmanager
    def _stage(self, name: str, title: str) -> Iterator[dict[str, Any]]:
        entry: dict[str, Any] = {"stage": name, "title": title, "state": "running", "detail": ""}
        self.stages.append(entry)
        self.observer.stage(name, title)
        started = time.monotonic()
        try:
            yield entry
        except DrillFailed as exc:
            entry.update(state="failed", detail=exc.message)
            raise
        except Exception as exc:
            entry.update(state="failed", detail=f"{type(exc).__name__}: {exc}")
            raise DrillFailed(f"{title}: {exc}") from exc
        finally:
            entry["seconds"] = round(time.monotonic() - started, 2)
            if entry["state"] == "running":
                entry["state"] = "ok"
            self.observer.stage_done(name, entry["state"], entry["detail"])

    def doctor(self) -> None:
        with self._stage("doctor", "Doctor: is the site ready?") as entry:
            code, output = self.settings.doctor()
            entry["detail"] = output.strip().splitlines()[-1] if output.strip() else f"exit {code}"
            if code != 0:
                raise DrillFailed(f"failbackctl doctor found problems (exit {code}): {entry['detail']}")

    def plan(self) -> None:
        with self._stage("plan", "Apply the lab's failback plan") as entry:
            request = workflows_pb2.ApplyPlanRequest(text=self.layout.plan.read_text(), syntax="toml")
            reply = self._call(lambda c: workflows_pb2_grpc.FailbackStub(c).ApplyPlan(request, timeout=RPC_TIMEOUT))
            entry["detail"] = (
                f"plan {reply.name}: {len(self.record.vms)} VMs, {sum(f.disks for f in self.figures.values())} disks"
            )

    def reprotect(self) -> None:
        with self._stage("reprotect", "Reprotect: Azure -> on-premises") as entry:
            started = time.monotonic()
            job = self._workflow("reprotect", {})

            def watch() -> None:
                self._refresh_items()
                progress = {}
                for name, figures in self.figures.items():
                    done, total, synced = self._sync_progress(name)
                    progress[name] = done / total if total else 0.0
                    if synced and figures.sync_seconds is None:
                        figures.sync_seconds = round(time.monotonic() - started, 1)
                self.observer.vms("reprotect", self.figures, progress)

            document = self._follow(job, watch)
            watch()
            self._refresh_items()
            for name, figures in self.figures.items():
                figures.location = self.items[name]["record"].get("location", "?")
            sent = sum(f.plain_sent for f in self.figures.values())
            size = sum(f.size_bytes for f in self.figures.values())
            entry["detail"] = (
                f"job {document['id']} {document['state']}: {_mib(sent)} sent for {_mib(size)} of disks "
                f"({', '.join(sorted({f.location for f in self.figures.values()}))} location)"
            )

    def replicate(self) -> None:
        seconds = self.settings.replicate_seconds
        with self._stage("replicate", f"Replicate under load for {seconds:g} s") as entry:
            end = time.monotonic() + seconds
            written_before = sum(self._log_ends().values())

            def sample() -> bool | None:
                now = time.time()
                progress = {}
                for name, figures in self.figures.items():
                    self._sync_progress(name)
                    rpo = self._rpo(name, now)
                    if rpo is not None:
                        figures.rpo_last = round(rpo, 1)
                        figures.rpo_worst = round(max(rpo, figures.rpo_worst or 0.0), 1)
                    progress[name] = min(1.0, 1 - (end - time.monotonic()) / seconds)
                self.observer.vms("replicate", self.figures, progress)
                return True if time.monotonic() >= end else None

            _POLL.wait_for(sample, what="the replication phase")
            written = sum(self._log_ends().values()) - written_before
            worst = max((f.rpo_worst or 0.0) for f in self.figures.values())
            entry["detail"] = f"{_mib(written)} written in Azure and replicated meanwhile; worst RPO {worst:.1f} s"

    def failover(self) -> None:
        with self._stage("failover", "Planned failover to the latest application-consistent point") as entry:
            options = {"kind": "planned", "point": "latest-app"}
            job = self._workflow("failover", options)
            document = self._follow(job, lambda: None)
            self._refresh_items()
            for name, figures in self.figures.items():
                self._sync_progress(name)  # the drain's last bytes
                choice = self.items[name]["record"].get("point") or {}
                first: dict[str, Any] = next(iter(choice.values()), {})
                figures.point, figures.point_tag = first.get("id"), first.get("tag")
            self.failover_job = document
            entry["detail"] = f"job {document['id']} {document['state']} in {_job_seconds(document):.1f} s"

    def attestation(self) -> None:
        with self._stage("attestation", "Attestation: master target at the point against the source") as entry:
            step = next(s for s in self.failover_job["steps"] if s["name"] == "attest")
            verdicts: list[str] = []
            for name, disks in (step["output"] or {}).get("attestation", {}).items():
                mine = [d["verdict"] for d in disks.values()]
                verdicts += mine
                self.figures[name].attestation = _summary(mine)
            matched = verdicts.count("match")
            entry["detail"] = f"{matched} of {len(verdicts)} disks match the source's digest at the point"
            if matched != len(verdicts) or not verdicts:
                raise DrillFailed(f"attestation: {entry['detail']}")

    def oracle(self) -> None:
        with self._stage("oracle", "Oracle: on-premises disks against the source at the bookmark") as entry:
            document = status(self.layout)
            results: list[str] = []
            for vm in document["vms"]:
                figures = self.figures[vm["name"]]
                line = next((b for b in vm["bookmarks"] if b["id"] == figures.point), None)
                mine = []
                for disk in vm["onprem"]["disks"]:
                    if line is None:
                        mine.append("no oracle line")
                        continue
                    actual = disk_digest(disk["path"], disk["size_bytes"]).hex()
                    mine.append("match" if actual == line["disks"][disk["disk_id"]]["digest"] else "mismatch")
                figures.oracle = _summary(mine)
                results += mine
            matched = results.count("match")
            entry["detail"] = f"{matched} of {len(results)} on-premises disk files equal the source at the bookmark"
            if matched != len(results) or not results:
                raise DrillFailed(f"oracle: {entry['detail']}")

    def commit(self) -> None:
        with self._stage("commit", "Commit the failover") as entry:
            document = self._follow(self._workflow("commit", {}), lambda: None)
            entry["detail"] = f"job {document['id']} {document['state']}"

    def reprotect_back(self) -> None:
        with self._stage("reprotect-back", "Reprotect back to Azure") as entry:
            options = {"asr_process_server": lab_id(PROCESS_SERVER), "asr_policy": "lab-24h"}
            document = self._follow(self._workflow("reprotect-back", options), lambda: None)
            entry["detail"] = f"job {document['id']} {document['state']}: pairs released, protected to Azure"

    # -- the controller -------------------------------------------------------------------------------------------

    def _call(self, rpc: Callable[[Any], Any]) -> Any:
        return call(self.ctl, rpc)

    def _workflow(self, workflow: str, options: dict[str, Any]) -> int:
        request = workflows_pb2.StartWorkflowRequest(
            workflow=workflow, plan=self.settings.plan, options_json=json.dumps(options)
        )
        job = self._call(lambda c: workflows_pb2_grpc.FailbackStub(c).StartWorkflow(request, timeout=RPC_TIMEOUT))
        return int(job.id)

    def _follow(self, job_id: int, tick: Callable[[], None]) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            job = self._call(
                lambda c: jobs_pb2_grpc.JobsStub(c).GetJob(jobs_pb2.GetJobRequest(id=job_id), timeout=RPC_TIMEOUT)
            )
            document = job_document(job)
            self.observer.job(document)
            tick()
            return document if document["finished_at"] else None

        document = _POLL.wait_for(probe, what=f"job {job_id}")
        if document["state"] != "succeeded":
            raise DrillFailed(
                f"job {job_id} {document['state']}: {document['error']}"
                + (f" (remedy: {document['remedy']})" if document["remedy"] else "")
            )
        return document

    def _refresh_items(self) -> None:
        reply = self._call(
            lambda c: workflows_pb2_grpc.FailbackStub(c).ListItems(
                workflows_pb2.ListItemsRequest(), timeout=RPC_TIMEOUT
            )
        )
        for item in reply.items:
            self.items[item.name] = {"state": item.state, "record": json.loads(item.record_json or "{}")}

    # -- the agents -------------------------------------------------------------------------------------------------

    def _pairs(self, name: str) -> list[dict[str, Any]]:
        return list(self.items.get(name, {}).get("record", {}).get("disks", ()))

    def _sync_progress(self, name: str) -> tuple[int, int, bool]:
        """Bytes of the VM's disks in sync, their total, and whether every pair replicates; updates bytes sent."""
        figures = self.figures[name]
        done = total = plain = wire = 0
        synced = bool(self._pairs(name))
        for disk in self._pairs(name):
            size = int(disk.get("capacity_bytes") or 0)
            total += size
            source, target = self.ps.pair(disk["pair_id"]), self.mt.pair(disk["pair_id"])
            if source is None or target is None:
                synced = False
                continue
            plain, wire = plain + source.plain_bytes_sent, wire + source.wire_bytes_sent
            replicating = source.state is PairState.REPLICATING and target.state is PairState.REPLICATING
            synced = synced and replicating
            done += size if replicating else int(size * (source.resync_percent or 0) / 100)
        figures.plain_sent, figures.wire_sent = max(figures.plain_sent, plain), max(figures.wire_sent, wire)
        return done, total, synced

    def _rpo(self, name: str, now: float) -> float | None:
        """How much of the VM's recent writes a failover now would lose: the age of its disks' newest common point
        (approximated by the oldest of each disk's newest point)."""
        newest = []
        for disk in self._pairs(name):
            target = self.mt.pair(disk["pair_id"])
            if target is None or not target.latest_point_time:
                return None
            newest.append(target.latest_point_time)
        return max(now - min(newest), 0.0) if newest else None

    def _log_ends(self) -> dict[str, int]:
        ends = {}
        for name in self.figures:
            for disk in self._pairs(name):
                source = self.ps.pair(disk["pair_id"])
                if source is not None:
                    ends[disk["pair_id"]] = source.log_durable_position
        return ends


def _summary(verdicts: list[str]) -> str:
    if verdicts and all(v == "match" for v in verdicts):
        return f"match {len(verdicts)}/{len(verdicts)}"
    return ", ".join(verdicts) or "-"


def _mib(count: int) -> str:
    return f"{count / (1 << 20):.1f} MiB"


def _job_seconds(document: dict[str, Any]) -> float:
    import datetime as dt

    started, finished = document.get("started_at"), document.get("finished_at")
    if not started or not finished:
        return 0.0
    return (dt.datetime.fromisoformat(finished) - dt.datetime.fromisoformat(started)).total_seconds()


def run_drill(layout: Layout, settings: DrillSettings, observer: Observer) -> dict[str, Any]:
    """Run every stage (stopping at the first failure) and return the drill's document::

    {"dir": str, "ok": bool, "seconds": float, "error": str | null,
     "stages": [{"stage", "title", "state": "ok" | "failed", "detail", "seconds"}],
     "vms": [{"name", "disks", "size_bytes", "location", "plain_sent", "wire_sent", "sync_seconds", "rpo_worst",
              "rpo_last", "point", "point_tag", "attestation", "oracle"}]}
    """
    if not layout.record.exists():
        raise LabError(f"no lab in {layout.root}", remedy="run 'failbackctl lab up' first")
    started = time.monotonic()
    run = _Drill(layout, settings, observer)
    error: str | None = None
    try:
        for stage in (
            run.plan,
            run.doctor,
            run.reprotect,
            run.replicate,
            run.failover,
            run.attestation,
            run.oracle,
            run.commit,
            run.reprotect_back,
        ):
            stage()
    except DrillFailed as exc:
        error = exc.message
    finally:
        run.agents.close()
    return {
        "dir": str(Path(layout.root)),
        "ok": error is None,
        "seconds": round(time.monotonic() - started, 1),
        "error": error,
        "stages": run.stages,
        "vms": [figures.to_json() for figures in run.figures.values()],
    }
