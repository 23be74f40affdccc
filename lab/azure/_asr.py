"""The Site Recovery half of the local endpoint: vault reads and the failback actions, as ASR answers them.

Reads serve the estate through :class:`~lab.azure._bodies.Bodies`, paged by ``estate.page_size`` with ``nextLink``.
Actions are checked by :class:`~lab.azure._transitions.Transitions` before they are accepted (409 while another
operation runs on the item), then run as a long-running operation with a job record; the state changes when the
operation ends successfully.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from lab.azure._bodies import Bodies
from lab.azure._estate import Estate, HealthIssue, Item, Job, Plan
from lab.azure._http import ArmError, Request, Response, Router
from lab.azure._lro import Operations
from lab.azure._transitions import Transitions, bad

__all__ = ["API_VERSION", "SiteRecoveryService"]

API_VERSION = "2025-08-01"

_VAULT = (
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.RecoveryServices/vaults/(?P<vault>[^/]+)"
)
_FABRIC = _VAULT + r"/replicationFabrics/(?P<fabric>[^/]+)"
_CONTAINER = _FABRIC + r"/replicationProtectionContainers/(?P<container>[^/]+)"
_ITEM = _CONTAINER + r"/replicationProtectedItems/(?P<item>[^/]+)"
_PLAN = _VAULT + r"/replicationRecoveryPlans/(?P<plan>[^/]+)"


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


class SiteRecoveryService:
    """Routes under ``Microsoft.RecoveryServices/vaults/{vault}`` for one estate."""

    def __init__(self, estate: Estate, ops: Operations, clock: Callable[[], datetime.datetime]) -> None:
        self.estate = estate
        self.bodies = Bodies(estate)
        self.ops = ops
        self.transitions = Transitions(estate, self.bodies, clock)
        self._clock = clock

    def register(self, router: Router) -> None:
        get, post = "GET", "POST"
        router.add(get, _VAULT + r"/replicationFabrics", self._list_fabrics)
        router.add(get, _FABRIC, self._get_fabric)
        router.add(get, _FABRIC + r"/replicationProtectionContainers", self._list_containers)
        router.add(get, _CONTAINER, self._get_container)
        router.add(get, _VAULT + r"/replicationProtectionContainers", self._list_containers)
        router.add(get, _VAULT + r"/replicationProtectedItems", self._list_items)
        router.add(get, _CONTAINER + r"/replicationProtectedItems", self._list_items)
        router.add(get, _ITEM, self._get_item)
        router.add(get, _ITEM + r"/recoveryPoints", self._list_points)
        router.add(get, _ITEM + r"/recoveryPoints/(?P<point>[^/]+)", self._get_point)
        router.add(post, _ITEM + r"/(?P<action>reProtect|unplannedFailover|failoverCommit|failoverCancel)", self._act)
        router.add(get, _VAULT + r"/replicationRecoveryPlans", self._list_plans)
        router.add(get, _PLAN, self._get_plan)
        router.add(
            post, _PLAN + r"/(?P<action>reProtect|unplannedFailover|failoverCommit|failoverCancel)", self._plan_act
        )
        router.add(get, _VAULT + r"/replicationJobs", self._list_jobs)
        router.add(get, _VAULT + r"/replicationJobs/(?P<job>[^/]+)", self._get_job)
        router.add(get, _VAULT + r"/replicationOperationStatus/(?P<op>[^/]+)", self._status)
        router.add(get, _VAULT + r"/.+/operationresults/(?P<op>[^/]+)", self._outcome)

    # Scope checks

    def _vault(self, request: Request, sub: str, rg: str, vault: str) -> None:
        if request.param("api-version") != API_VERSION:
            raise bad(
                "InvalidApiVersionParameter",
                f"The api-version '{request.param('api-version')}' is invalid. The supported versions are "
                f"'{API_VERSION}'.",
            )
        e = self.estate
        if not (_same(sub, e.subscription_id) and _same(rg, e.resource_group) and _same(vault, e.vault)):
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.RecoveryServices/vaults/{vault}' under resource group '{rg}' was not found.",
            )

    def _item(self, request: Request, sub: str, rg: str, vault: str, fabric: str, container: str, item: str) -> Item:
        self._vault(request, sub, rg, vault)
        for candidate in self.estate.items:
            if (
                _same(candidate.name, item)
                and _same(candidate.fabric, fabric)
                and _same(candidate.container, container)
            ):
                return candidate
        raise ArmError(404, "ReplicationProtectedItemNotFound", f"Protected item {item} was not found.")

    def _plan(self, request: Request, sub: str, rg: str, vault: str, plan: str) -> Plan:
        self._vault(request, sub, rg, vault)
        for candidate in self.estate.plans:
            if _same(candidate.name, plan):
                return candidate
        raise ArmError(404, "RecoveryPlanNotFound", f"Recovery plan {plan} was not found.")

    def _page(self, request: Request, bodies: list[dict[str, Any]]) -> Response:
        start = int(request.param("$skiptoken") or 0)
        end = start + self.estate.page_size
        body: dict[str, Any] = {"value": bodies[start:end]}
        if end < len(bodies):
            extra = "".join(f"&{k}={v[0]}" for k, v in request.query.items() if k not in {"api-version", "$skiptoken"})
            body["nextLink"] = f"{request.base_url}{request.path}?api-version={API_VERSION}{extra}&$skiptoken={end}"
        return Response(200, body)

    # Reads

    def _list_fabrics(self, request: Request, sub: str, rg: str, vault: str) -> Response:
        self._vault(request, sub, rg, vault)
        return self._page(request, [self.bodies.fabric(f) for f in self.estate.fabrics])

    def _get_fabric(self, request: Request, sub: str, rg: str, vault: str, fabric: str) -> Response:
        self._vault(request, sub, rg, vault)
        for f in self.estate.fabrics:
            if _same(f.name, fabric):
                return Response(200, self.bodies.fabric(f))
        raise ArmError(404, "FabricNotFound", f"Fabric {fabric} was not found.")

    def _list_containers(self, request: Request, sub: str, rg: str, vault: str, fabric: str | None = None) -> Response:
        self._vault(request, sub, rg, vault)
        bodies = [
            self.bodies.container(f, c)
            for f in self.estate.fabrics
            if fabric is None or _same(f.name, fabric)
            for c in f.containers
        ]
        return self._page(request, bodies)

    def _get_container(self, request: Request, sub: str, rg: str, vault: str, fabric: str, container: str) -> Response:
        self._vault(request, sub, rg, vault)
        for f in self.estate.fabrics:
            for c in f.containers:
                if _same(f.name, fabric) and _same(c, container):
                    return Response(200, self.bodies.container(f, c))
        raise ArmError(404, "ProtectionContainerNotFound", f"Protection container {container} was not found.")

    def _list_items(
        self,
        request: Request,
        sub: str,
        rg: str,
        vault: str,
        fabric: str | None = None,
        container: str | None = None,
    ) -> Response:
        self._vault(request, sub, rg, vault)
        items = [
            self.bodies.item(i)
            for i in self.estate.items
            if fabric is None or (_same(i.fabric, fabric) and container is not None and _same(i.container, container))
        ]
        return self._page(request, items)

    def _get_item(self, request: Request, **path: str) -> Response:
        return Response(200, self.bodies.item(self._item(request, **path)))

    def _list_points(self, request: Request, **path: str) -> Response:
        item = self._item(request, **path)
        points = sorted(item.recovery_points, key=lambda p: p.time)
        return self._page(request, [self.bodies.recovery_point(item, p) for p in points])

    def _get_point(self, request: Request, point: str, **path: str) -> Response:
        item = self._item(request, **path)
        for p in item.recovery_points:
            if _same(p.name, point):
                return Response(200, self.bodies.recovery_point(item, p))
        raise ArmError(404, "RecoveryPointNotFound", f"Recovery point {point} was not found.")

    def _list_plans(self, request: Request, sub: str, rg: str, vault: str) -> Response:
        self._vault(request, sub, rg, vault)
        return self._page(request, [self.bodies.plan(p) for p in self.estate.plans])

    def _get_plan(self, request: Request, **path: str) -> Response:
        return Response(200, self.bodies.plan(self._plan(request, **path)))

    def _list_jobs(self, request: Request, sub: str, rg: str, vault: str) -> Response:
        self._vault(request, sub, rg, vault)
        jobs = sorted(self.estate.jobs, key=lambda j: j.start_time, reverse=True)
        return self._page(request, [self.bodies.job(j) for j in jobs])

    def _get_job(self, request: Request, sub: str, rg: str, vault: str, job: str) -> Response:
        self._vault(request, sub, rg, vault)
        self.ops.observe(job)
        for j in self.estate.jobs:
            if _same(j.name, job):
                return Response(200, self.bodies.job(j))
        raise ArmError(404, "JobNotFound", f"Job {job} was not found.")

    def _status(self, request: Request, sub: str, rg: str, vault: str, op: str) -> Response:
        self._vault(request, sub, rg, vault)
        return self.ops.poll(op)

    def _outcome(self, request: Request, sub: str, rg: str, vault: str, op: str) -> Response:
        self._vault(request, sub, rg, vault)
        return self.ops.outcome(op)

    # Item actions

    def _act(self, request: Request, action: str, **path: str) -> Response:
        item = self._item(request, **path)
        self._idle(item)
        body = request.body if isinstance(request.body, dict) else {}
        props = body.get("properties") or {}
        if _same(action, "reProtect"):
            scenario, effect = "Reprotect", self.transitions.reprotect(item, props)
        elif _same(action, "unplannedFailover"):
            scenario, effect = "UnplannedFailover", self.transitions.failover(item, props)
        elif _same(action, "failoverCommit"):
            scenario, effect = "Commit", self.transitions.commit(item)
        else:
            scenario, effect = "CancelFailover", self.transitions.cancel(item)
        item_path = request.path[: request.path.lower().rindex("/" + action.lower())]
        return self._start(request, item_path, scenario, [item], effect, lambda: self.bodies.item(item))

    def _idle(self, item: Item) -> None:
        if item.scenario != "None":
            raise ArmError(
                409,
                "OperationInProgress",
                f"The operation {item.scenario} is in progress on {item.friendly_name}.",
                recommended_action=f"Wait for job {item.scenario_job} to finish, then retry.",
            )

    # Plan actions

    def _plan_act(self, request: Request, action: str, **path: str) -> Response:
        plan = self._plan(request, **path)
        items = [self.estate.item(name) for group in plan.groups for name in group.items]
        for item in items:
            self._idle(item)
        body = request.body if isinstance(request.body, dict) else {}
        props = body.get("properties") or {}
        if _same(action, "reProtect"):
            providers = sorted({i.provider for i in items})
            raise bad(
                "ReprotectNotSupportedForProvider",
                f"Recovery plan reprotect is not supported for replication providers {', '.join(providers)}.",
                "Reprotect each protected item of the plan with its provider input.",
            )
        if _same(action, "unplannedFailover"):
            scenario = "UnplannedFailover"
            inputs = {d.get("instanceType"): d for d in props.get("providerSpecificDetails") or []}
            effects = [
                self.transitions.failover(
                    item,
                    {
                        "failoverDirection": props.get("failoverDirection"),
                        "providerSpecificDetails": inputs.get(item.provider)
                        or {"instanceType": item.provider, "recoveryPointType": "LatestTime"},
                    },
                )
                for item in items
            ]
        elif _same(action, "failoverCommit"):
            scenario, effects = "Commit", [self.transitions.commit(item) for item in items]
        else:
            scenario, effects = "CancelFailover", [self.transitions.cancel(item) for item in items]

        def effect() -> None:
            for one in effects:
                one()
            plan.last_unplanned_failover = self._clock() if scenario == "UnplannedFailover" else None

        plan_path = request.path[: request.path.lower().rindex("/" + action.lower())]
        return self._start(request, plan_path, scenario, items, effect, lambda: self.bodies.plan(plan), plan=plan)

    # Operations and jobs

    def _start(
        self,
        request: Request,
        resource_path: str,
        scenario: str,
        items: list[Item],
        effect: Callable[[], None],
        result: Callable[[], Any],
        *,
        plan: Plan | None = None,
    ) -> Response:
        op_id = self.ops.new_id()
        now = self._clock()
        target = plan.name if plan else items[0].name
        job = Job(
            name=op_id,
            scenario=scenario,
            friendly_name=_FRIENDLY[scenario],
            state="InProgress",
            target_object_id=target,
            target_object_name=plan.friendly_name if plan else items[0].friendly_name,
            target_instance_type="RecoveryPlan" if plan else "ProtectionEntity",
            start_time=now,
            end_time=None,
            tasks=[("Prerequisites check", "Succeeded"), (_FRIENDLY[scenario], "InProgress")],
        )
        self.estate.jobs.append(job)
        for item in items:
            item.scenario, item.scenario_job, item.scenario_start = scenario, op_id, now
        if plan:
            plan.scenario, plan.scenario_job, plan.scenario_status = scenario, op_id, "InProgress"

        def settle(state: str) -> None:
            job.state, job.end_time = state, self._clock()
            job.tasks[-1] = (job.tasks[-1][0], state)
            for item in items:
                item.scenario, item.scenario_job = "None", "None"
            if plan:
                plan.scenario, plan.scenario_job, plan.scenario_status = "None", "None", state

        def succeeded() -> None:
            effect()
            settle("Succeeded")

        def failed(code: str, message: str) -> None:
            job.errors.append(HealthIssue(code=code, message=message, level="Error"))
            settle("Failed")

        vault = self.bodies.vault_id.replace("/Subscriptions/", "/subscriptions/", 1)
        return self.ops.start(
            op_id,
            status_url=f"{request.base_url}{vault}/replicationOperationStatus/{op_id}?api-version={API_VERSION}",
            location_url=f"{request.base_url}{resource_path}/operationresults/{op_id}?api-version={API_VERSION}",
            on_success=succeeded,
            on_failure=failed,
            result=result,
        )


_FRIENDLY = {
    "Reprotect": "Reprotect",
    "UnplannedFailover": "Unplanned failover",
    "Commit": "Commit",
    "CancelFailover": "Cancel failover",
}
