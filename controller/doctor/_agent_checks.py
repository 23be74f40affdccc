"""Checks of the agents and the controller: versions in order, retention room, reachability both ways, certificates
that have not expired. Pure functions of :class:`~controller.doctor.DoctorFacts`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from controller.doctor._facts import AgentFacts, DoctorFacts
from controller.doctor._result import CheckResult, agent_subject, fail, ok, warn
from controller.fleet import Part, VersionMismatch, version_problems

__all__ = ["CERTIFICATE_WARNING", "RETENTION_FREE_WARNING", "certificates", "reachability", "retention", "versions"]

CERTIFICATE_WARNING = dt.timedelta(days=7)
RETENTION_FREE_WARNING = 0.2


def _listened(facts: DoctorFacts) -> float:
    """How long this controller has been there to hear heartbeats (unbounded when its start is not known)."""
    started = facts.controller.started_at
    return float("inf") if started is None else (facts.now - started).total_seconds()


def versions(facts: DoctorFacts) -> Iterator[CheckResult]:
    controller = Part("controller", "", facts.controller.version)
    servers = [Part("process server", ps.name, ps.version) for ps in facts.process_servers if ps.version]
    targets = [
        Part("master target", mt.agent.name, mt.agent.version) for mt in facts.master_targets if mt.agent.version
    ]
    if not servers and not targets:
        return
    try:
        problems = version_problems(controller, servers, targets)
    except VersionMismatch as exc:
        yield fail("version-order", "agents", exc.message, exc.remedy or "upgrade the agent")
        return
    for problem in problems:
        yield fail("version-order", "agents", problem.message, problem.remedy or "upgrade in order")
    if not problems:
        parts = ", ".join(f"{part.name} {part.version}" for part in (*targets, *servers))
        yield ok(
            "version-order",
            "agents",
            f"master targets <= process servers <= controller {facts.controller.version} ({parts})",
        )


def retention(facts: DoctorFacts) -> Iterator[CheckResult]:
    check = "retention-volume"
    for mt in facts.master_targets:
        if mt.vm_uuid is None:
            continue  # no plan names its retention volume
        subject = f"master target {mt.agent.name}"
        volume = mt.retention
        if volume is None:
            yield warn(
                check,
                subject,
                mt.retention_note,
                "check that its agent answers and reports its retention volumes (failbackctl servers)",
            )
            continue
        if volume.eligible is False and volume.eligibility_waived:
            yield warn(
                check,
                subject,
                f"{volume.path} is not fit for retention journals ({'; '.join(volume.reasons) or 'not eligible'}), "
                "but the agent's configuration accepts it ([replication] check_retention_volume = false)",
                "for production, mount a dedicated ext4 or xfs volume (not the OS volume), name it as "
                "retention_volume and remove check_retention_volume = false",
            )
            continue
        if volume.eligible is False:
            yield fail(
                check,
                subject,
                f"{volume.path} cannot hold retention journals: {'; '.join(volume.reasons) or 'not eligible'}",
                "mount a dedicated ext4 or xfs volume (not the OS volume) and name it as retention_volume",
            )
            continue
        unjudged = (
            f"; whether it may hold journals (ext4/xfs, not the OS volume) is not reported by {volume.source}"
            if volume.eligible is None
            else ""
        )
        if volume.capacity_bytes and volume.free_bytes is not None:
            free = volume.free_bytes / volume.capacity_bytes
            used_pct = 100 * (1 - free)
            evidence = (
                f"{volume.path}: {volume.free_bytes // 2**30} GiB free of {volume.capacity_bytes // 2**30} GiB, "
                f"as {volume.source} reports"
            )
            if free < RETENTION_FREE_WARNING or used_pct >= volume.threshold_pct:
                yield warn(
                    check,
                    subject,
                    evidence + f" ({used_pct:.0f}% used, threshold {volume.threshold_pct:.0f}%){unjudged}",
                    "grow the retention volume or free space before reprotecting more disks",
                )
            elif unjudged:
                yield warn(check, subject, evidence + unjudged, "check the volume's file system and mount on it")
            else:
                yield ok(check, subject, evidence)
        elif unjudged:
            yield warn(
                check,
                subject,
                f"{volume.path}: its size is not reported{unjudged}",
                "check the volume's size, file system and mount on the master target",
            )
        else:
            yield ok(check, subject, f"{volume.path} is eligible, as {volume.source} reports")


_AGENT_SUBJECTS = ("master target ", "process server ")


def _duration(left: dt.timedelta) -> str:
    if left >= dt.timedelta(days=2):
        return f"{left.days} days"
    return f"{left.total_seconds() / 3600:.0f} hours"


def _agents(facts: DoctorFacts) -> list[AgentFacts]:
    return [mt.agent for mt in facts.master_targets] + list(facts.process_servers)


def reachability(facts: DoctorFacts) -> Iterator[CheckResult]:
    port_note = "the controller reaches agents on their API port (9443) and agents reach it on 9440/9441"
    for agent in _agents(facts):
        subject = agent_subject(agent.role, agent.name)
        if not agent.registered:
            yield fail("reachability", subject, "no agent of that name is registered", "register it with a token")
            continue
        if agent.answers is False:
            yield fail(
                "reachability",
                subject,
                f"the controller cannot reach it: {agent.answer_error}",
                f"check the address in the plan, firewalls and that failback-agent runs ({port_note})",
            )
        elif agent.answers is None:
            yield warn(
                "reachability",
                subject,
                f"its API was not probed: {agent.probe_note or 'not asked to'}",
                "run doctor without --offline on a plan that lists its address",
            )
        age = agent.heartbeat_age_seconds
        if age is None:
            yield fail(
                "reachability",
                subject,
                "it has never sent a heartbeat: it cannot reach the controller",
                f"check that it reaches the controller on 9440 ({port_note})",
            )
        elif age > facts.stale_after_seconds and _listened(facts) < facts.stale_after_seconds:
            # The silence began while this controller was down, and it has not listened long enough since to tell a
            # lost agent from one whose next heartbeat is simply not due yet: not evidence against the agent.
            yield warn(
                "reachability",
                subject,
                f"its last heartbeat is {age:.0f} s old, but this controller has served for only "
                f"{_listened(facts):.0f} s since it started: too short to say it no longer reaches the controller",
                f"run the doctor again once the controller has run for {facts.stale_after_seconds:.0f} s",
            )
        elif age > facts.stale_after_seconds:
            yield fail(
                "reachability",
                subject,
                f"its last heartbeat is {age:.0f} s old: it no longer reaches the controller",
                "check the agent and the network between it and the controller on 9440",
            )
        elif agent.answers:
            yield ok("reachability", subject, f"answers the controller; last heartbeat {age:.0f} s ago")
    for mt in facts.master_targets:
        subject = f"master target {mt.agent.name}"
        for ps in facts.process_servers:
            pair_subject = f"{subject} from process server {ps.name}"
            if mt.reached_by is None:
                yield warn(
                    "reachability",
                    pair_subject,
                    mt.reach_note,
                    "open TCP 9443 from the process server to the master target; reprotect reports it per pair",
                )
            elif ps.name in mt.reached_by:
                yield ok("reachability", pair_subject, "pairs are connected")
            else:
                yield fail(
                    "reachability",
                    pair_subject,
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
                agent_subject(agent.role, agent.name),
                agent.certificate_not_after,
                "check the agent's renewal: it renews by itself when a third of its lifetime is left, so a "
                "certificate this close to its end means renewal fails (see the agent's log)",
            )
        )
    for subject, not_after, remedy in entries:
        if not_after is None:
            continue
        left = not_after - facts.now
        # Agents' certificates are short-lived and renewed well before their end: only an overdue one warns.
        warning = facts.agent_certificate_warning if subject.startswith(_AGENT_SUBJECTS) else CERTIFICATE_WARNING
        if left <= dt.timedelta(0):
            yield fail("certificate-expiry", subject, f"certificate expired at {not_after.isoformat()}", remedy)
        elif left < warning:
            yield warn("certificate-expiry", subject, f"certificate expires in {_duration(left)}", remedy)
        else:
            yield ok("certificate-expiry", subject, f"certificate valid until {not_after.date().isoformat()}")
