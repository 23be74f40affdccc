"""Errors of the failback workflows.

::

    WorkflowError (PermanentError)
    ├── PlanInvalid          a plan file or a plan's parameters are wrong: names the field, nothing was stored
    ├── NotEligible          an item is in no state the workflow can start from (e.g. failover before reprotect)
    ├── ItemBusy             another unfinished job holds the item: the second workflow fails at the database
    ├── PlacementFailed      the disks do not fit on the master targets (60-disk limit, retention space)
    ├── PreflightFailed      a doctor check failed: the report says which, with evidence and remedy
    └── AttestationFailed    a disk's digest at the recovery point differs from the source's
    WorkflowWaiting (TemporaryError)   the workflow waits for replication (sync, drain): the loop polls again
"""

from __future__ import annotations

from failback.errors import PermanentError, TemporaryError

__all__ = [
    "AttestationFailed",
    "ItemBusy",
    "NotEligible",
    "PlacementFailed",
    "PlanInvalid",
    "PreflightFailed",
    "WorkflowError",
    "WorkflowWaiting",
]


class WorkflowError(PermanentError):
    pass


class PlanInvalid(WorkflowError):
    pass


class NotEligible(WorkflowError):
    pass


class ItemBusy(WorkflowError):
    def __init__(self, message: str, *, remedy: str | None = None, job_id: int | None = None) -> None:
        super().__init__(message, remedy=remedy)
        self.job_id = job_id


class PlacementFailed(WorkflowError):
    pass


class PreflightFailed(WorkflowError):
    pass


class AttestationFailed(WorkflowError):
    pass


class WorkflowWaiting(TemporaryError):
    pass
