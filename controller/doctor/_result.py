"""A finding: which check, about what, how bad, the evidence it rests on and what to do about it."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controller.doctor._facts import DoctorFacts

__all__ = ["Check", "CheckResult", "CheckSpec", "Status", "agent_subject", "fail", "ok", "role_label", "warn"]


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckResult:
    check: str
    subject: str
    status: Status
    evidence: str
    remedy: str | None = None


Check = Callable[[DoctorFacts], Iterable[CheckResult]]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title: str
    run: Check


def ok(check: str, subject: str, evidence: str) -> CheckResult:
    return CheckResult(check, subject, Status.OK, evidence)


def warn(check: str, subject: str, evidence: str, remedy: str) -> CheckResult:
    return CheckResult(check, subject, Status.WARN, evidence, remedy)


def fail(check: str, subject: str, evidence: str, remedy: str) -> CheckResult:
    return CheckResult(check, subject, Status.FAIL, evidence, remedy)


def role_label(role: str) -> str:
    """``master-target`` -> ``master target``, as subjects and evidence spell roles."""
    return role.replace("-", " ")


def agent_subject(role: str, name: str) -> str:
    return f"{role_label(role)} {name}"
