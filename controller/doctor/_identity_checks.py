"""The process server's Azure identity holds the actions agentless replication needs (docs/azure-permissions.md).

The process server holds the credential, so it asks ARM's permissions API itself and reports, per VM it replicates
from managed-disk snapshots and per resource group, the documented actions missing there. Pure over the facts.
"""

from __future__ import annotations

from collections.abc import Iterator

from controller.doctor._facts import AgentFacts, DoctorFacts
from controller.doctor._result import CheckResult, agent_subject, fail, ok, warn

__all__ = ["azure_roles"]

CHECK = "azure-snapshot-roles"
_DOCS = "docs/azure-permissions.md"


def _vm_name(vm_resource_id: str) -> str:
    return vm_resource_id.rstrip("/").rsplit("/", 1)[-1]


def azure_roles(facts: DoctorFacts) -> Iterator[CheckResult]:
    for ps in facts.process_servers:
        yield from _process_server(ps)


def _process_server(ps: AgentFacts) -> Iterator[CheckResult]:
    subject = agent_subject("process-server", ps.name)
    answer = ps.azure_permissions
    if answer is None:
        if ps.answers:  # an unreachable or unprobed agent is the reachability check's finding
            yield warn(
                CHECK,
                subject,
                f"whether its Azure identity may take and read snapshots is not known: {ps.azure_note}",
                f"run failbackctl doctor again once its agent answers; the actions are listed in {_DOCS}",
            )
        return
    if not answer.configured:
        yield ok(CHECK, subject, "it has no [azure] section, so it replicates no VM from snapshots: not applicable")
        return
    if not answer.vms:
        yield ok(CHECK, subject, "it replicates no VM from snapshots (no agentless pairs): not applicable")
        return
    for vm in answer.vms:
        name = _vm_name(vm.vm_resource_id)
        lacking = [s for s in vm.scopes if s.missing]
        unread = [s for s in vm.scopes if s.error]
        if lacking:
            per_scope = "; ".join(f"on {s.scope} ({', '.join(s.roles)}): {', '.join(s.missing)}" for s in lacking)
            grants = "; ".join(f"{', '.join(s.missing)} on {s.scope}" for s in lacking)
            yield fail(
                CHECK,
                subject,
                f"its Azure identity lacks actions that {vm.consistency} of VM {name} need {per_scope}",
                f"grant {grants} to the process server's identity (a custom role with every action is in {_DOCS}), "
                "then run doctor again",
            )
        if unread:
            errors = "; ".join(f"{s.scope}: {s.error}" for s in unread)
            yield warn(
                CHECK,
                subject,
                f"the permissions of its Azure identity for VM {name} could not be read: {errors}",
                "check that the process server reaches Azure Resource Manager, and grant its identity "
                f"Microsoft.Authorization/permissions/read there (Reader has it); the actions are listed in {_DOCS}",
            )
        if not lacking and not unread:
            granted = sum(len(s.granted) for s in vm.scopes)
            scopes = ", ".join(s.scope for s in vm.scopes)
            yield ok(
                CHECK,
                subject,
                f"its Azure identity holds all {granted} actions {vm.consistency} of VM {name} need on {scopes}",
            )
