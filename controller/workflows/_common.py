"""Pieces every workflow's job uses: claiming and releasing items, recording on them, the vSphere views, and
running one step's per-item work side by side."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from controller.jobs import InvalidParameters, StepContext
from controller.store import ItemClaim, ItemRow
from controller.vsphere import Inventory, VirtualMachine
from controller.workflows._deps import Deps, Scope
from controller.workflows._states import WORKFLOWS, ItemState
from failback.diskid import InvalidDiskId, normalize_disk_id

__all__ = [
    "PARALLEL",
    "claim_step",
    "disk_index",
    "each",
    "finish_step",
    "needs_plan",
    "records",
    "save",
    "startable",
    "subject",
    "vm_by_disks",
]


T = TypeVar("T")
R = TypeVar("R")

PARALLEL = 8
"""Items a step works on at once. A step's per-item work is mostly waiting (a vSphere task, an agent, Azure), and
items are independent within a step, so a 100-VM plan need not pay 100 round trips one after the other; a few at a
time keep vCenter and the agents within what they serve comfortably."""


def each(items: Sequence[T], act: Callable[[T], R], *, workers: int = PARALLEL) -> list[R]:
    """``act`` on every item, up to ``workers`` at once; the results in the items' order.

    Every item is tried even when another fails (each records its own progress, so a re-run of the step skips what
    is done); then the first failure in the items' order is raised. ``act`` must only touch its own item's record.
    """
    if len(items) <= 1 or workers <= 1:
        return [act(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="step") as pool:
        futures = [pool.submit(act, item) for item in items]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return [future.result() for future in futures]


def needs_plan(params: Mapping[str, Any]) -> None:
    if not isinstance(params.get("plan"), str) or not params["plan"]:
        raise InvalidParameters("a workflow job needs 'plan' (a failback plan applied with 'failbackctl plan apply')")
    items = params.get("items")
    if items is not None and (not isinstance(items, list) or not all(isinstance(i, str) for i in items)):
        raise InvalidParameters("'items' is a list of item names or ids")


# Where an operator holds an item outside any workflow (``points bring``). The doctor's preflight, first in some
# workflows, cannot see it (it judges the item by ASR and the agents, and finds its paused replication unreachable).
_OPERATOR_HOLDS = frozenset({ItemState.POINT_TEST.value})


def startable(
    deps: Deps, workflow: str, check: Callable[[Mapping[str, Any]], None] = needs_plan
) -> Callable[[Mapping[str, Any]], None]:
    """A workflow job type's ``validate``: ``check`` its parameters, then refuse the job, when it is submitted and
    before any step runs, if an operator holds one of its items (at a test point): the operator learns where the
    item stands and what ends the hold, not what the doctor finds wrong with a VM whose replication is paused.
    Every other state is left to the preflight and the claim step."""
    flow = WORKFLOWS[workflow]
    claim = ItemClaim(flow.name, frozenset(flow.starts_from), flow.during)

    def validate(params: Mapping[str, Any]) -> None:
        check(params)
        deps.protection.refuse_held(deps.scope(params).keys, claim, _OPERATOR_HOLDS)

    return validate


def subject(params: Mapping[str, Any]) -> str:
    items = params.get("items")
    if items and len(items) == 1:
        return f"item:{params['plan']}:{items[0]}"
    return f"plan:{params['plan']}"


def claim_step(deps: Deps, workflow: str) -> Callable[[StepContext], dict[str, Any]]:
    """The first step of every workflow: take the items, or refuse them all (another job holds one, or one is in
    no state this workflow starts from). Repeating it after a crash finds the items already held."""
    flow = WORKFLOWS[workflow]
    claim = ItemClaim(flow.name, frozenset(flow.starts_from), flow.during)

    def run(ctx: StepContext) -> dict[str, Any]:
        scope = deps.scope(ctx.params)
        rows = deps.protection.claim(scope.keys, claim, job_id=ctx.job_id, now=deps.clock())
        return {"items": [row.key for row in rows], "names": sorted(row.name for row in rows)}

    return run


def finish_step(
    deps: Deps, workflow: str, *, rollback: Callable[[Scope], dt.timedelta | None] | None = None
) -> Callable[[StepContext], dict[str, Any]]:
    flow = WORKFLOWS[workflow]

    def run(ctx: StepContext) -> dict[str, Any]:
        scope = deps.scope(ctx.params)
        window = rollback(scope) if rollback else None
        until = deps.clock() + window if window else None
        deps.protection.release(
            scope.keys,
            job_id=ctx.job_id,
            during=flow.during,
            state=flow.ends_in,
            now=deps.clock(),
            rollback_until=until,
        )
        return {"state": flow.ends_in.value, "rollback_until": until.isoformat() if until else None}

    return run


def records(deps: Deps, scope: Scope) -> dict[str, dict[str, Any]]:
    """The items' records as they are now (fresh from the database)."""
    return {row.key: row.record for row in deps.protection.items(keys=scope.keys)}


def save(deps: Deps, ctx: StepContext, row_or_key: ItemRow | str, record: dict[str, Any]) -> None:
    key = row_or_key if isinstance(row_or_key, str) else row_or_key.key
    deps.protection.record(key, job_id=ctx.job_id, record=record, now=deps.clock())


def disk_index(record: Mapping[str, Any], disk_id: str) -> int:
    for index, disk in enumerate(record.get("disks", ())):
        if disk.get("disk_id") == disk_id:
            return index
    raise KeyError(disk_id)


def _normalized(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return normalize_disk_id(value)
    except InvalidDiskId:  # an id in no recognised spelling (a physical server's disk) matches nothing
        return None


def vm_by_disks(inventory: Inventory, disk_ids: set[str]) -> VirtualMachine | None:
    """The VM holding the most of ``disk_ids`` (normalised), ignoring templates; None when none holds any."""
    best: tuple[int, VirtualMachine] | None = None
    for vm in inventory.vms:
        if vm.template:
            continue
        held = sum(1 for disk in vm.disks if _normalized(disk.uuid) in disk_ids)
        if held and (best is None or held > best[0]):
            best = (held, vm)
    return best[1] if best else None
