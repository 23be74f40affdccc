"""``failbackctl doctor``: preflight checks for a VM or a plan before any change.

Checks are pure functions over collected facts (:mod:`._facts`), so each can be shown failing and passing; the
collectors gather those facts from vCenter, the vault's inventory, the agents and the controller itself. A report
holds every finding with its status (ok / warn / fail), evidence and remedy.
"""

from controller.doctor._checks import CHECKS, CheckResult, CheckSpec, Status, run_checks
from controller.doctor._facts import (
    AgentFacts,
    ControllerFacts,
    DatastoreFacts,
    DoctorFacts,
    ItemFacts,
    MasterTargetFacts,
    RetentionFacts,
    VCenterFacts,
)
from controller.doctor._report import Report, summary

__all__ = [
    "CHECKS",
    "AgentFacts",
    "CheckResult",
    "CheckSpec",
    "ControllerFacts",
    "DatastoreFacts",
    "DoctorFacts",
    "ItemFacts",
    "MasterTargetFacts",
    "Report",
    "RetentionFacts",
    "Status",
    "VCenterFacts",
    "run_checks",
    "summary",
]
