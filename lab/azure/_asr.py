"""The Site Recovery half of the local endpoint: vault reads and the failback actions, as ASR answers them.

Reads serve the estate through :class:`~lab.azure._bodies.Bodies`, paged by ``estate.page_size`` with ``nextLink``.
Actions check the item's state and the request body the way ASR does before accepting (400 for bad input or a state
that does not allow the operation, 409 while another operation runs on the item), then start a long-running operation
with a job record; the state changes when the operation ends successfully.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from lab.azure._bodies import Bodies
from lab.azure._estate import Estate, HealthIssue, Item, Job, Plan, PowerState, RecoveryPoint
from lab.azure._http import ArmError, Request, Response, Router
from lab.azure._lro import Operations

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

_CLASSIC = {"InMage", "InMageAzureV2"}


def _bad(code: str, message: str, remedy: str = "") -> ArmError:
    return ArmError(400, code, message, recommended_action=remedy)


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


class SiteRecoveryService:
    """Routes under ``Microsoft.RecoveryServices/vaults/{vault}`` for one estate."""

    def __init__(self, estate: Estate, ops: Operations, clock: Callable[[], datetime.datetime]) -> None:
        self.estate = estate
        self.bodies = Bodies(estate)
        self.ops = ops
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
            raise _bad(
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
            scenario, effect = "Reprotect", self._reprotect(item, props)
        elif _same(action, "unplannedFailover"):
            scenario, effect = "UnplannedFailover", self._failover(item, props)
        elif _same(action, "failoverCommit"):
            scenario, effect = "Commit", self._commit(item)
        else:
            scenario, effect = "CancelFailover", self._cancel(item)
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

    def _reprotect(self, item: Item, props: dict[str, Any]) -> Callable[[], None]:
        direction = props.get("failoverDirection")
        details = props.get("providerSpecificDetails") or {}
        kind = details.get("instanceType")
        if direction == "RecoveryToPrimary":
            self._require_state(item, "UnplannedFailoverCommitted", "Recovery", "InMageAzureV2", "ReProtect")
            if kind != "InMage":
                raise _bad(
                    "InvalidProviderInput",
                    f"Reprotect from Azure to VMware needs InMage provider input, not {kind!r}.",
                    "Send InMageReprotectInput (instanceType InMage).",
                )
            self._check_inmage_reprotect(item, details)
            return lambda: self._after_reprotect_to_primary(item, details)
        if direction == "PrimaryToRecovery":
            self._require_state(item, "UnplannedFailoverCommitted", "Primary", "InMage", "ReProtect")
            if kind == "InMage":
                self._check_inmage_reprotect(item, details)
            elif kind == "InMageAzureV2":
                self._require_fields(details, ("processServerId", "policyId"))
                self._check_process_server(item, details["processServerId"])
            else:
                raise _bad(
                    "InvalidProviderInput",
                    f"Reprotect from VMware to Azure needs InMageAzureV2 or InMage provider input, not {kind!r}.",
                )
            return lambda: self._after_reprotect_to_recovery(item, details)
        raise _bad(
            "InvalidFailoverDirection",
            f"failoverDirection must be PrimaryToRecovery or RecoveryToPrimary, not {direction!r}.",
        )

    def _check_inmage_reprotect(self, item: Item, details: dict[str, Any]) -> None:
        self._require_fields(details, ("masterTargetId", "processServerId", "retentionDrive", "profileId"))
        fabric = self.estate.fabric(item.fabric)
        self._check_process_server(item, details["processServerId"])
        mt = next((m for m in fabric.master_targets if _same(m.id, details["masterTargetId"])), None)
        if mt is None:
            raise _bad("MasterTargetNotFound", f"Master target {details['masterTargetId']} is not registered.")
        if details["retentionDrive"] not in {v.volume_name for v in mt.retention_volumes}:
            raise _bad(
                "RetentionVolumeNotFound",
                f"Retention drive {details['retentionDrive']!r} is not a retention volume of {mt.name}.",
            )
        datastore = details.get("datastoreName")
        if datastore is not None and datastore not in {d.symbolic_name for d in mt.datastores}:
            raise _bad("DatastoreNotFound", f"Datastore {datastore!r} is not visible to master target {mt.name}.")
        account = details.get("runAsAccountId")
        if account is not None and account not in {a.account_id for a in fabric.run_as_accounts}:
            raise _bad("RunAsAccountNotFound", f"Run-as account {account!r} does not exist on {fabric.friendly_name}.")
        if not any(_same(self.bodies.policy_id(p.name), details["profileId"]) for p in self.estate.policies):
            raise _bad("PolicyNotFound", f"Replication policy {details['profileId']} does not exist.")

    def _check_process_server(self, item: Item, ps_id: str) -> None:
        fabric = self.estate.fabric(item.fabric)
        if not any(_same(ps.id, ps_id) for ps in fabric.process_servers):
            raise _bad(
                "ProcessServerNotFound", f"Process server {ps_id} is not registered with {fabric.friendly_name}."
            )

    @staticmethod
    def _require_fields(details: dict[str, Any], names: tuple[str, ...]) -> None:
        missing = [n for n in names if not details.get(n)]
        if missing:
            raise _bad("InvalidProviderInput", f"Required provider input fields are missing: {', '.join(missing)}.")

    @staticmethod
    def _require_state(item: Item, state: str, location: str, provider: str, operation: str) -> None:
        if item.protection_state != state or item.active_location != location or item.provider != provider:
            raise _bad(
                "OperationNotAllowedInCurrentState",
                f"{operation} is not allowed for {item.friendly_name}: it is {item.protection_state} "
                f"with active location {item.active_location} ({item.provider}).",
                "Refresh the item and choose an operation from its allowedOperations.",
            )

    def _after_reprotect_to_primary(self, item: Item, details: dict[str, Any]) -> None:
        item.provider = "InMage"
        item.protection_state = "Protected"
        item.master_target_id = details["masterTargetId"]
        item.process_server_id = details["processServerId"]
        item.retention_drive = details["retentionDrive"]
        item.datastore_name = details.get("datastoreName") or ""
        item.run_as_account_id = details.get("runAsAccountId") or ""
        item.policy = details["profileId"].rsplit("/", 1)[-1]
        item.failover_recovery_point = ""
        self._fresh_points(item)

    def _after_reprotect_to_recovery(self, item: Item, details: dict[str, Any]) -> None:
        item.provider = "InMageAzureV2"
        item.protection_state = "Protected"
        item.process_server_id = details["processServerId"]
        item.master_target_id = details.get("masterTargetId") or ""
        item.policy = (details.get("profileId") or details.get("policyId") or item.policy).rsplit("/", 1)[-1]
        item.failover_recovery_point = ""
        self._fresh_points(item)

    def _fresh_points(self, item: Item) -> None:
        """A new replication starts a new journal: points from before the reprotect are gone."""
        now = self._clock()
        item.recovery_points = [
            RecoveryPoint(f"rp-{now:%H%M%S}-app", now - datetime.timedelta(minutes=1), "ApplicationConsistent"),
            RecoveryPoint(f"rp-{now:%H%M%S}-crash", now, "CrashConsistent"),
        ]

    def _failover(self, item: Item, props: dict[str, Any]) -> Callable[[], None]:
        direction = props.get("failoverDirection")
        details = props.get("providerSpecificDetails") or {}
        vm_state: PowerState
        if direction == "RecoveryToPrimary":
            self._require_state(item, "Protected", "Recovery", "InMage", "UnplannedFailover")
            if details.get("instanceType") != "InMage":
                raise _bad("InvalidProviderInput", "Failback needs InMageUnplannedFailoverInput (instanceType InMage).")
            point = self._choose_point(item, details.get("recoveryPointType"), details.get("recoveryPointId"))
            target, vm_state = "Primary", "stopped"  # ASR shuts the Azure VM down when failing back
        elif direction == "PrimaryToRecovery":
            self._require_state(item, "Protected", "Primary", "InMageAzureV2", "UnplannedFailover")
            point = self._choose_point(item, "LatestTime", None)
            target, vm_state = "Recovery", "running"
        else:
            raise _bad("InvalidFailoverDirection", f"Unknown failoverDirection {direction!r}.")

        def effect() -> None:
            item.protection_state = "UnplannedFailoverCommitPendingStatesBegin"
            item.active_location = target
            item.failover_recovery_point = point.name
            item.last_failover = self._clock()
            if item.azure_vm:
                self.estate.vm(item.azure_vm).power_state = vm_state

        return effect

    def _choose_point(self, item: Item, kind: str | None, point_id: str | None) -> RecoveryPoint:
        points = sorted(item.recovery_points, key=lambda p: p.time)
        if kind == "LatestTime":
            chosen = points[-1] if points else None
        elif kind == "LatestTag":
            tagged = [p for p in points if p.type == "ApplicationConsistent"]
            chosen = tagged[-1] if tagged else None
        elif kind == "Custom":
            if not point_id:
                raise _bad("InvalidProviderInput", "recoveryPointId is required when recoveryPointType is Custom.")
            name = point_id.rstrip("/").rsplit("/", 1)[-1]
            chosen = next((p for p in points if _same(p.name, name)), None)
            if chosen is None:
                raise _bad("RecoveryPointNotFound", f"Recovery point {point_id} does not exist for this item.")
        else:
            raise _bad("InvalidProviderInput", f"recoveryPointType must be LatestTime, LatestTag or Custom: {kind!r}.")
        if chosen is None:
            raise _bad(
                "NoRecoveryPointAvailable",
                f"No {kind} recovery point is available for {item.friendly_name}.",
                "Wait for replication to produce a recovery point, or choose another recovery point type.",
            )
        return chosen

    def _commit(self, item: Item) -> Callable[[], None]:
        self._require_pending(item, "Commit")

        def effect() -> None:
            item.protection_state = "UnplannedFailoverCommitted"

        return effect

    def _cancel(self, item: Item) -> Callable[[], None]:
        self._require_pending(item, "CancelFailover")
        back = "Recovery" if item.active_location == "Primary" else "Primary"

        def effect() -> None:
            item.protection_state = "Protected"
            item.active_location = back
            item.failover_recovery_point = ""
            if item.azure_vm and back == "Recovery":
                self.estate.vm(item.azure_vm).power_state = "running"

        return effect

    @staticmethod
    def _require_pending(item: Item, operation: str) -> None:
        if item.protection_state != "UnplannedFailoverCommitPendingStatesBegin":
            raise _bad(
                "OperationNotAllowedInCurrentState",
                f"{operation} is allowed only after a failover and before its commit; "
                f"{item.friendly_name} is {item.protection_state}.",
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
            raise _bad(
                "ReprotectNotSupportedForProvider",
                f"Recovery plan reprotect is not supported for replication providers {', '.join(providers)}.",
                "Reprotect each protected item of the plan with its provider input.",
            )
        if _same(action, "unplannedFailover"):
            scenario = "UnplannedFailover"
            inputs = {d.get("instanceType"): d for d in props.get("providerSpecificDetails") or []}
            effects = [
                self._failover(
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
            scenario, effects = "Commit", [self._commit(item) for item in items]
        else:
            scenario, effects = "CancelFailover", [self._cancel(item) for item in items]

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
