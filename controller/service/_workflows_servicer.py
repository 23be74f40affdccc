"""``failback.controller.v1.Failback``: plans, items, failback groups, and workflows started as jobs."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable

import grpc

from controller.api.v1 import jobs_pb2, workflows_pb2, workflows_pb2_grpc
from controller.jobs import Jobs
from controller.service._jobs_servicer import job_message
from controller.service._status import abort, timestamp
from controller.store import ProtectionStore
from controller.workflows import JOB_TYPES, describe, parse_plan
from failback.errors import FailbackError
from failback.serving import peer_identity

__all__ = ["FailbackServicer"]

log = logging.getLogger(__name__)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FailbackServicer(workflows_pb2_grpc.FailbackServicer):
    def __init__(self, protection: ProtectionStore, jobs: Jobs, *, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self._protection = protection
        self._jobs = jobs
        self._clock = clock

    def ApplyPlan(
        self, request: workflows_pb2.ApplyPlanRequest, context: grpc.ServicerContext
    ) -> workflows_pb2.ApplyPlanResponse:
        if request.syntax not in ("toml", "yaml"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "syntax is toml or yaml")
        try:
            plan = parse_plan(request.text, source="the plan file", yaml_syntax=request.syntax == "yaml")
            steps = describe(plan, self._protection.items(vault=plan.vault))
            if not request.dry_run:
                self._protection.save_plan(
                    plan.name, source="file", vault=plan.vault, document=plan.to_json(), now=self._clock()
                )
                log.info("%s applied plan %s", peer_identity(context), plan.name)
        except FailbackError as exc:
            abort(context, exc)
        return workflows_pb2.ApplyPlanResponse(
            name=plan.name,
            stored=not request.dry_run,
            steps=[
                workflows_pb2.PlannedStep(workflow=s.workflow, step=s.step, item=s.item, action=s.action) for s in steps
            ],
            plan_json=json.dumps(plan.to_json(), sort_keys=True),
        )

    def ListPlans(
        self, request: workflows_pb2.ListPlansRequest, context: grpc.ServicerContext
    ) -> workflows_pb2.ListPlansResponse:
        try:
            rows = self._protection.plans()
        except FailbackError as exc:
            abort(context, exc)
        return workflows_pb2.ListPlansResponse(
            plans=[
                workflows_pb2.PlanRecord(
                    name=r.name,
                    source=r.source,
                    vault=r.vault,
                    document_json=json.dumps(r.document, sort_keys=True),
                    updated_at=timestamp(r.updated_at),
                )
                for r in rows
            ]
        )

    def ListItems(
        self, request: workflows_pb2.ListItemsRequest, context: grpc.ServicerContext
    ) -> workflows_pb2.ListItemsResponse:
        try:
            rows = self._protection.items(vault=request.vault or None)
        except FailbackError as exc:
            abort(context, exc)
        return workflows_pb2.ListItemsResponse(
            items=[
                workflows_pb2.ItemRecord(
                    key=r.key,
                    vault=r.vault,
                    name=r.name,
                    group=r.group_name or "",
                    state=r.state,
                    job_id=r.job_id or 0,
                    rollback_until=timestamp(r.rollback_until),
                    asr_json=json.dumps(r.asr, sort_keys=True),
                    record_json=json.dumps(r.record, sort_keys=True),
                )
                for r in rows
            ]
        )

    def ListGroups(
        self, request: workflows_pb2.ListGroupsRequest, context: grpc.ServicerContext
    ) -> workflows_pb2.ListGroupsResponse:
        try:
            rows = self._protection.groups(request.vault or None)
        except FailbackError as exc:
            abort(context, exc)
        return workflows_pb2.ListGroupsResponse(
            groups=[
                workflows_pb2.GroupRecord(
                    name=g.name,
                    vault=g.vault,
                    protection_group=g.protection_group,
                    protection_group_name=g.protection_group_name,
                    members=list(g.members),
                )
                for g in rows
            ]
        )

    def StartWorkflow(self, request: workflows_pb2.StartWorkflowRequest, context: grpc.ServicerContext) -> jobs_pb2.Job:
        job_type = JOB_TYPES.get(request.workflow)
        if job_type is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"workflow is one of {', '.join(sorted(JOB_TYPES))}")
        try:
            options = json.loads(request.options_json) if request.options_json else {}
        except json.JSONDecodeError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"options_json is not JSON: {exc}")
        if not isinstance(options, dict):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "options_json is a JSON object")
        params = {**options, "plan": request.plan, "submitted_at": self._clock().isoformat()}
        if request.items:
            params["items"] = list(request.items)
        try:
            self._protection.plan(request.plan)
            job = self._jobs.submit(job_type, params, created_by=str(peer_identity(context)))
        except FailbackError as exc:
            abort(context, exc)
        log.info("%s started job %d (%s of plan %s)", peer_identity(context), job.id, job_type, request.plan)
        return job_message(job, self._jobs.registry, self._clock())
