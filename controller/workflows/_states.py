"""The life of a protected item, and which workflow may move it from where. Pure.

::

    failed-over-to-azure ──reprotect──▶ replicating ──failover──▶ failed-over ──commit──▶ committed
            ▲                               ▲                          │                      │
            │                               └──────── cancel ──────────┘                reprotect-back
            │                                                                                  ▼
            └───────────────────── (a new failover to Azure, imported again) ──────── protected-to-azure

    replicating ◀──(points cancel)── point-test ◀──(points bring)── replicating

``point-test``: an operator holds a disk of the VM at a recovery point (``failbackctl points bring``) outside any
workflow; no workflow starts from it, so a failover cannot start on a disk the operator is looking at.

While a workflow runs, the item is in its ``during`` state and names the job holding it. A job that stopped
(failed or cancelled) leaves the item in that state: the same workflow may start again from there and finish what
is left (its steps check before acting), and a failover that stopped half-way can also be rolled back by cancel.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["WORKFLOWS", "ItemState", "Workflow", "workflow"]


class ItemState(enum.StrEnum):
    FAILED_OVER_TO_AZURE = "failed-over-to-azure"
    REPROTECTING = "reprotecting"
    REPLICATING = "replicating"
    FAILING_OVER = "failing-over"
    FAILED_OVER = "failed-over"
    CANCELLING = "cancelling"
    COMMITTING = "committing"
    COMMITTED = "committed"
    REPROTECTING_BACK = "reprotecting-back"
    POINT_TEST = "point-test"
    PROTECTED_TO_AZURE = "protected-to-azure"
    # ASR shows the item in a state failback does not start from (not failed over, another provider...).
    NOT_ELIGIBLE = "not-eligible"


@dataclass(frozen=True)
class Workflow:
    name: str
    starts_from: frozenset[ItemState]
    during: ItemState
    ends_in: ItemState

    def may_start(self, state: ItemState) -> bool:
        """Whether an item in ``state``, held by no running job, may be claimed by this workflow."""
        return state in self.starts_from or state is self.during


WORKFLOWS: dict[str, Workflow] = {
    w.name: w
    for w in (
        Workflow(
            "reprotect", frozenset({ItemState.FAILED_OVER_TO_AZURE}), ItemState.REPROTECTING, ItemState.REPLICATING
        ),
        Workflow("failover", frozenset({ItemState.REPLICATING}), ItemState.FAILING_OVER, ItemState.FAILED_OVER),
        Workflow(
            "cancel",
            frozenset({ItemState.FAILED_OVER, ItemState.FAILING_OVER}),
            ItemState.CANCELLING,
            ItemState.REPLICATING,
        ),
        Workflow("commit", frozenset({ItemState.FAILED_OVER}), ItemState.COMMITTING, ItemState.COMMITTED),
        Workflow(
            "reprotect-back",
            frozenset({ItemState.COMMITTED}),
            ItemState.REPROTECTING_BACK,
            ItemState.PROTECTED_TO_AZURE,
        ),
    )
}


def workflow(name: str) -> Workflow:
    return WORKFLOWS[name]
