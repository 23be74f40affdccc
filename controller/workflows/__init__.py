"""The failback workflows: reprotect (Azure -> on-premises), failover (planned or unplanned, to a chosen point),
cancel, commit and reprotect back to Azure, per VM or per plan, as persistent jobs of idempotent steps.

Pure parts decide (plan files, location, placement, forecast, item states); steps act through the adapters and the
agent client, checking the world before acting; protected items change state only by conditional updates.

``job_types(deps)`` returns the job types to register; ``import_vault`` turns a vault import into items, failback
groups and plans.
"""

from controller.jobs import JobType
from controller.workflows._deps import Deps, Scope, item_key, pair_id
from controller.workflows._dryrun import PlannedStep, describe
from controller.workflows._failover import FAILOVER, POINTS, failover_job_type
from controller.workflows._finish import CANCEL, COMMIT, REPROTECT_BACK, finish_job_types
from controller.workflows._forecast import SyncForecast, forecast
from controller.workflows._import import SETTLED, failback_group_name, import_vault
from controller.workflows._location import LocationDecision, OnPremVm, decide_location
from controller.workflows._placement import MasterTargetRoom, PlacementUnit, place
from controller.workflows._reprotect import REPROTECT, reprotect_job_type
from controller.workflows._spec import AgentSpec, PlanSpec, VmSpec, load_plan, parse_plan, plan_from_json
from controller.workflows._states import WORKFLOWS, ItemState, Workflow
from controller.workflows.errors import (
    AttestationFailed,
    ItemBusy,
    NotEligible,
    PlacementFailed,
    PlanInvalid,
    PreflightFailed,
    WorkflowError,
    WorkflowWaiting,
)

JOB_TYPES = {
    "reprotect": REPROTECT,
    "failover": FAILOVER,
    "cancel": CANCEL,
    "commit": COMMIT,
    "reprotect-back": REPROTECT_BACK,
}


def job_types(deps: Deps) -> list[JobType]:
    return [reprotect_job_type(deps), failover_job_type(deps), *finish_job_types(deps)]


__all__ = [
    "CANCEL",
    "COMMIT",
    "FAILOVER",
    "JOB_TYPES",
    "POINTS",
    "REPROTECT",
    "REPROTECT_BACK",
    "SETTLED",
    "WORKFLOWS",
    "AgentSpec",
    "AttestationFailed",
    "Deps",
    "ItemBusy",
    "ItemState",
    "LocationDecision",
    "MasterTargetRoom",
    "NotEligible",
    "OnPremVm",
    "PlacementFailed",
    "PlacementUnit",
    "PlanInvalid",
    "PlanSpec",
    "PlannedStep",
    "PreflightFailed",
    "Scope",
    "SyncForecast",
    "VmSpec",
    "Workflow",
    "WorkflowError",
    "WorkflowWaiting",
    "decide_location",
    "describe",
    "failback_group_name",
    "forecast",
    "import_vault",
    "item_key",
    "job_types",
    "load_plan",
    "pair_id",
    "parse_plan",
    "place",
    "plan_from_json",
]
