"""Checks of what the vault and the guests show: the vault answers, it lists the servers reprotect names, each item
is in the state its next workflow starts from, and its network survives the trip back. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from controller.doctor._facts import DoctorFacts, ItemFacts
from controller.doctor._result import CheckResult, agent_subject, fail, ok, role_label, warn

__all__ = [
    "AsrExpectation",
    "asr_expectation",
    "asr_servers",
    "item_state",
    "network_manager",
    "static_ips",
    "vault_connected",
]

_FAILED_OVER = frozenset({("UnplannedFailoverCommitted", "Recovery", "InMageAzureV2")})
_REPROTECTED = frozenset({("Protected", "Recovery", "InMage")})


@dataclass(frozen=True)
class AsrExpectation:
    """What ASR must show for an item in one failback phase, as (protection state, active location, provider)."""

    accepted: frozenset[tuple[str, str, str]]
    needs: str
    remedy: str

    def accepts(self, protection_state: str | None, active_location: str | None, provider: str | None) -> bool:
        return (protection_state or "", active_location or "", provider or "") in self.accepted


_BEFORE_REPROTECT = AsrExpectation(
    _FAILED_OVER,
    "reprotect starts from a VM failed over to Azure and committed "
    "(UnplannedFailoverCommitted/Recovery, InMageAzureV2)",
    "commit the failover to Azure first (or pick another item); then import the vault again",
)
_EXPECTATIONS = {
    "failed-over-to-azure": _BEFORE_REPROTECT,
    "not-eligible": _BEFORE_REPROTECT,
    # A reprotect that stopped may already have recorded the reverse direction in ASR.
    "reprotecting": AsrExpectation(_FAILED_OVER | _REPROTECTED, _BEFORE_REPROTECT.needs, _BEFORE_REPROTECT.remedy),
    "replicating": AsrExpectation(
        _REPROTECTED,
        "failover starts from an item ASR protects from Azure to on-premises (Protected/Recovery, InMage)",
        "run the reprotect again (failbackctl reprotect), which records the reverse direction in ASR",
    ),
}
_EXPECTATIONS["failing-over"] = _EXPECTATIONS["replicating"]


def asr_expectation(phase: str) -> AsrExpectation | None:
    """What ASR must show for an item in ``phase`` (its failback state); None when nothing is expected of it."""
    return _EXPECTATIONS.get(phase)


def item_state(facts: DoctorFacts) -> Iterator[CheckResult]:
    for item in facts.items:
        subject = f"vm {item.name}"
        shown = item.asr_state or "(no state)"
        expectation = asr_expectation(item.phase)
        if item.eligible_state:
            after = f"; the item is {item.phase}" if expectation is None else ""
            yield ok("asr-state", subject, f"ASR shows it {shown}{after}")
        else:
            needs = expectation.needs if expectation else f"the item is {item.phase}"
            remedy = expectation.remedy if expectation else "check the item in the vault"
            yield fail("asr-state", subject, f"ASR shows it {shown}: {needs}", remedy)


def _why_not_restored(item: ItemFacts) -> tuple[str, str]:
    plan_ips = "list them under [[vms]] ips = [{ mac, address, prefix, gateways }] in the plan"
    if item.plan is None:
        return "it is in no failback plan", f"add it to a plan with [network] restore_static_ips = true and {plan_ips}"
    if not item.restore_static_ips:
        return "the plan does not restore them", "set [network] restore_static_ips = true in the plan"
    if item.os_family != "linux":
        return (
            f"the guest runs {item.os_family or 'an OS vCenter does not name'}: vSphere customises only Linux "
            "guests without giving them a new identity",
            "re-apply the addresses inside the guest after failback",
        )
    return "neither the plan nor VMware Tools give their prefix and network adapter", plan_ips


def static_ips(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "static-ip"
    for item in facts.items:
        subject = f"vm {item.name}"
        if not item.static_ips:
            yield ok(check, subject, "no IPv4 address is recorded for it (plan, VMware Tools, ASR)")
            continue
        restorable = item.restore_static_ips and item.os_family == "linux" and item.plan is not None
        restored = set(item.restorable_ips) if restorable else set()
        lost = [ip for ip in item.static_ips if ip not in restored]
        if not lost:
            yield ok(check, subject, f"{', '.join(item.static_ips)} will be restored by guest customisation")
            continue
        why, remedy = _why_not_restored(item)
        yield warn(
            check,
            subject,
            f"{', '.join(lost)} will not be restored after failback: a static address becomes DHCP ({why})",
            remedy,
        )


def network_manager(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "linux-networkmanager"
    for item in facts.items:
        if item.os_family != "linux":
            continue
        subject = f"vm {item.name}"
        if item.network_manager is None:
            yield warn(
                check,
                subject,
                item.network_manager_note,
                "check 'systemctl status NetworkManager' in the Azure VM before failing back",
            )
        elif not item.network_manager:
            yield fail(
                check,
                subject,
                "NetworkManager was removed from the Linux guest: its network is not configured after failback",
                "install NetworkManager in the Azure VM (e.g. dnf install NetworkManager) before failing back",
            )
        else:
            yield ok(check, subject, "NetworkManager is installed")


def vault_connected(facts: DoctorFacts) -> Iterator[CheckResult]:
    for vault in facts.vaults:
        subject = f"vault {vault.name}"
        if vault.connected:
            yield ok("vault-connected", subject, "signed in to Azure and read its protected items")
        elif vault.connected is None:
            yield warn(
                "vault-connected",
                subject,
                f"not checked: {vault.note or 'no live session was tried'}",
                "run doctor without --offline to sign in to it",
            )
        else:
            fallback = f"; the checks below use {vault.note}" if vault.note else ""
            yield fail(
                "vault-connected",
                subject,
                f"cannot read it: {vault.error}{fallback}",
                "check the service principal's secret, the endpoint and its CA (failbackctl azure add), then run "
                "doctor again",
            )


def asr_servers(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "asr-servers"
    for server in facts.asr_servers:
        subject = agent_subject(server.role, server.agent)
        role = role_label(server.role)
        wanted = f"with id {server.asr_id}" if server.asr_id else f"named {server.agent}"
        if server.found is None:
            yield warn(
                check,
                subject,
                f"the servers of vault {server.vault} are not known",
                f"import the vault (failbackctl azure import {server.vault})",
            )
        elif server.found:
            yield ok(check, subject, f"vault {server.vault} lists a {role} {wanted}")
        else:
            listed = ", ".join(server.listed) or "none"
            yield fail(
                check,
                subject,
                f"vault {server.vault} lists no {role} {wanted} (it lists: {listed}): ASR's reprotect must name it",
                f"set asr_id of agent {server.agent} in the plan to its server's id in the vault, or register the "
                "server with the vault's configuration server",
            )
