"""``failbackctl doctor``: preflight checks for a VM, a plan or everything, before any change.

Checks are pure functions over collected facts (:mod:`._facts`), so each can be shown failing and passing. The
doctor gathers those facts once per source — a vCenter (one PropertyCollector read of the inventory, one privilege
query), a vault, each agent, the controller's own records — live with a deadline, or from what the controller stored
(``live=False``), assembles them per plan as the workflows would see them, and reports every finding with its status
(ok / warn / fail), subject, evidence and remedy. The reprotect and failover jobs run it first (:func:`with_preflight`).

::

    doctor = Doctor(DoctorDeps(workflows=deps, inventory=..., enrollment=..., heartbeats=..., controller=...,
                               agents=GrpcAgents(tls, timeout=10), open_vcenter=vcenter_opener(...),
                               open_vault=vault_opener(...)))
    report = doctor.run(Selection(plan="web-tier"))          # live; Selection(vms=("web01",)), everything=True
    report.status, report.to_json()
"""

from controller.doctor._checks import CHECK_IDS, CHECKS, run_checks, title_of
from controller.doctor._doctor import Doctor, DoctorDeps
from controller.doctor._facts import (
    AgentFacts,
    AsrServerFacts,
    ControllerFacts,
    DatastoreFacts,
    DoctorFacts,
    ItemFacts,
    MasterTargetFacts,
    RetentionFacts,
    VaultFacts,
    VCenterFacts,
)
from controller.doctor._preflight import PREFLIGHT_STEP, PREFLIGHT_WORKFLOWS, SKIP_PARAM, preflight_step, with_preflight
from controller.doctor._report import Report, Source, summary
from controller.doctor._result import CheckResult, CheckSpec, Status
from controller.doctor._selection import Section, Selection
from controller.doctor._sources import (
    PrivilegeProbe,
    VaultClient,
    VCenterClient,
    principal_privileges,
    read_certificate_expiry,
    session_privileges,
    vault_opener,
    vcenter_opener,
)
from controller.doctor.errors import DoctorError, SelectionInvalid, UnknownTarget

__all__ = [
    "CHECKS",
    "CHECK_IDS",
    "PREFLIGHT_STEP",
    "PREFLIGHT_WORKFLOWS",
    "SKIP_PARAM",
    "AgentFacts",
    "AsrServerFacts",
    "CheckResult",
    "CheckSpec",
    "ControllerFacts",
    "DatastoreFacts",
    "Doctor",
    "DoctorDeps",
    "DoctorError",
    "DoctorFacts",
    "ItemFacts",
    "MasterTargetFacts",
    "PrivilegeProbe",
    "Report",
    "RetentionFacts",
    "Section",
    "Selection",
    "SelectionInvalid",
    "Source",
    "Status",
    "UnknownTarget",
    "VCenterClient",
    "VCenterFacts",
    "VaultClient",
    "VaultFacts",
    "preflight_step",
    "principal_privileges",
    "read_certificate_expiry",
    "run_checks",
    "session_privileges",
    "summary",
    "title_of",
    "vault_opener",
    "vcenter_opener",
    "with_preflight",
]
