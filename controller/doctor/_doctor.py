"""The doctor: resolve what to check, gather every source once and in parallel under one deadline, assemble the
facts per plan, run the checks, and report.

A source that does not answer before the deadline is reported as not answering (its stored facts are used, and
say so); the doctor itself never fails because a vCenter, a vault or an agent is down. It changes nothing anywhere.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from controller.agents import Agents
from controller.doctor._assemble import Gathered, assemble
from controller.doctor._checks import run_checks
from controller.doctor._facts import ControllerFacts
from controller.doctor._gather import AgentData, Gatherer, VaultData, VCenterData
from controller.doctor._report import Report, merge_results
from controller.doctor._result import CheckResult
from controller.doctor._selection import Section, Selection, resolve
from controller.doctor._sources import (
    CertificateReader,
    PrivilegeProbe,
    VaultOpener,
    VCenterOpener,
    read_certificate_expiry,
    session_privileges,
)
from controller.doctor._views import disk_key
from controller.store import AgentStatusStore, Enrollment, InventoryStore, ItemRow
from controller.workflows import Deps, PreflightFailed, Scope

__all__ = ["Doctor", "DoctorDeps"]

log = logging.getLogger(__name__)

_WORKERS = 8

_Data = VCenterData | VaultData | AgentData
_Task = Callable[[str | None], _Data]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class DoctorDeps:
    """What the doctor reads. ``workflows`` resolves plans to items as the workflows do; ``agents`` is a client
    whose calls carry the doctor's deadline; ``deadline`` bounds a whole run's live reads."""

    workflows: Deps
    inventory: InventoryStore
    enrollment: Enrollment
    heartbeats: AgentStatusStore
    controller: Callable[[], ControllerFacts]
    agents: Agents
    open_vcenter: VCenterOpener
    open_vault: VaultOpener
    stale_after: dt.timedelta = dt.timedelta(seconds=90)
    agent_lifetime: dt.timedelta = dt.timedelta(days=7)  # what the controller issues agents' certificates for
    deadline: float = 30.0
    privileges: PrivilegeProbe = session_privileges
    certificate: CertificateReader | None = None
    clock: Callable[[], dt.datetime] = field(default=_utcnow)


class Doctor:
    def __init__(self, deps: DoctorDeps) -> None:
        self.deps = deps

    def run(self, selection: Selection, *, live: bool = True) -> Report:
        """Check a plan, some VMs or everything. Raises only for a selection that names nothing known."""
        workflows = self.deps.workflows
        sections, problems = resolve(
            selection,
            workflows,
            vcenters=[row.name for row in workflows.catalog.vcenters()],
            vaults=[row.name for row in workflows.catalog.vaults()],
            agents=[row.name for row in self.deps.enrollment.agents() if row.state == "active"],
        )
        return self.check(sections, scope=selection.label, live=live, problems=problems)

    def preflight(self, scope: Scope, *, skip: Collection[str] = ()) -> list[CheckResult]:
        """Check a workflow's items live before it changes anything; raise :class:`PreflightFailed` listing every
        failure with its remedy, unless its check is in ``skip``. Returns every finding (skipped failures too)."""
        report = self.check([Section.of(scope)], scope=f"plan {scope.plan.name}", live=True)
        blocking = [r for r in report.failures() if r.check not in skip]
        if blocking:
            lines = "; ".join(f"{r.check} ({r.subject}): {r.evidence} -> {r.remedy}" for r in blocking)
            raise PreflightFailed(
                f"doctor found {len(blocking)} failure{'s' if len(blocking) > 1 else ''}: {lines}",
                remedy="fix them and start again, or override a check with --skip-doctor CHECK_ID "
                f"({', '.join(sorted({r.check for r in blocking}))})",
            )
        return list(report.results)

    def check(self, sections: Sequence[Section], *, scope: str, live: bool, problems: Sequence[str] = ()) -> Report:
        now = self.deps.clock()
        gathered = self._gather(sections, live=live, now=now)
        controller = self.deps.controller()
        facts = [
            f
            for section in sections
            for f in assemble(
                section,
                gathered,
                now=now,
                controller=controller,
                stale_after=self.deps.stale_after,
                agent_lifetime=self.deps.agent_lifetime,
            )
        ]
        results = merge_results(run_checks(f) for f in facts)
        sources = (
            *(v.source for v in gathered.vcenters.values()),
            *(v.source for v in gathered.vaults.values()),
            *(a.source for a in gathered.agents.values()),
        )
        found = [*problems, *(p for f in facts for p in f.problems)]
        return Report(scope, now, results, tuple(dict.fromkeys(found)), sources, live)

    # -- gathering ------------------------------------------------------------------------------------------------

    def _gather(self, sections: Sequence[Section], *, live: bool, now: dt.datetime) -> Gathered:
        deps = self.deps
        catalog = deps.workflows.catalog
        gatherer = Gatherer(
            live=live,
            now=now,
            catalog=catalog,
            inventory=deps.inventory,
            open_vcenter=deps.open_vcenter,
            open_vault=deps.open_vault,
            privileges=deps.privileges,
            certificate=deps.certificate or read_certificate_expiry(deps.deadline),
            agents=deps.agents,
        )
        every_item = deps.workflows.protection.items()
        plans = [s.plan for s in sections if s.plan is not None]
        vcenters = {p.vcenter for p in plans} | {v for s in sections for v in s.vcenters}
        if any(s.plan is None and s.items for s in sections):
            vcenters |= {row.name for row in catalog.vcenters()}
        vaults = {p.vault for p in plans} | {row.vault for s in sections for row, _ in s.items}
        vaults |= {v for s in sections for v in s.vaults}
        agents = self._agents_to_gather(sections)
        rows = {row.name: row for row in deps.enrollment.agents()}
        beats = deps.heartbeats.latest()

        def vcenter(name: str) -> _Task:
            return lambda failure: gatherer.vcenter(name, failure=failure)

        def vault(name: str) -> _Task:
            return lambda failure: gatherer.vault(name, every_item, failure=failure)

        def agent(name: str) -> _Task:
            role, address, retention = agents[name]
            return lambda failure: gatherer.agent(
                name,
                role,
                address=address,
                row=rows.get(name),
                heartbeat=beats.get(name),
                pair_ids=_pair_ids(every_item, name),
                retention_path=retention,
                failure=failure,
            )

        tasks = {
            **{("vcenter", name): vcenter(name) for name in sorted(vcenters)},
            **{("vault", name): vault(name) for name in sorted(vaults)},
            **{("agent", name): agent(name) for name in sorted(agents)},
        }
        results = self._run(tasks, live=live)
        return Gathered(
            vcenters={n: r for (k, n), r in results.items() if k == "vcenter" and isinstance(r, VCenterData)},
            vaults={n: r for (k, n), r in results.items() if k == "vault" and isinstance(r, VaultData)},
            agents={n: r for (k, n), r in results.items() if k == "agent" and isinstance(r, AgentData)},
            attached_ids=_attached_ids(every_item),
        )

    def _agents_to_gather(self, sections: Sequence[Section]) -> dict[str, tuple[str, str | None, str | None]]:
        """Agent name -> (role, address from the first plan that lists it, that plan's retention volume)."""
        rows = {row.name: row for row in self.deps.enrollment.agents()}
        found: dict[str, tuple[str, str | None, str | None]] = {}
        for section in sections:
            if section.plan is not None:
                for spec in section.plan.agents:
                    found.setdefault(spec.name, (spec.role, spec.address, section.plan.retention_volume))
            for name in section.agents:
                row = rows.get(name)
                found.setdefault(name, (row.role if row else "master-target", None, None))
        return found

    def _run(
        self,
        tasks: dict[tuple[str, str], _Task],
        *,
        live: bool,
    ) -> dict[tuple[str, str], _Data]:
        """Run every live read in parallel; one that raises or outlives the deadline falls back on stored facts."""
        if not live or not tasks:
            return {key: task(None) for key, task in tasks.items()}
        pool = ThreadPoolExecutor(max_workers=min(_WORKERS, len(tasks)), thread_name_prefix="doctor")
        try:
            futures: dict[tuple[str, str], Future[_Data]] = {
                key: pool.submit(task, None) for key, task in tasks.items()
            }
            wait(futures.values(), timeout=self.deps.deadline)
        finally:
            # Reads still running are abandoned: each has its own per-request timeout, so its thread ends.
            pool.shutdown(wait=False, cancel_futures=True)
        results: dict[tuple[str, str], _Data] = {}
        for key, future in futures.items():
            if not future.done():
                results[key] = tasks[key](f"it did not answer within {self.deps.deadline:g} s")
                continue
            try:
                results[key] = future.result()
            except Exception as exc:
                log.exception("doctor: reading %s %s failed unexpectedly", *key)
                results[key] = tasks[key](f"reading it failed unexpectedly: {exc!r}")
        return results


def _attached_ids(items: Sequence[ItemRow]) -> frozenset[str]:
    return frozenset(
        key
        for row in items
        for disk in row.record.get("disks") or ()
        if disk.get("attached_to") == "master-target" and (key := disk_key(str(disk.get("disk_id") or "")))
    )


def _pair_ids(items: Sequence[ItemRow], master_target: str) -> list[str]:
    return [
        str(disk["pair_id"])
        for row in items
        if row.record.get("master_target") == master_target and row.record.get("generation")
        for disk in row.record.get("disks") or ()
        if disk.get("pair_id")
    ]
