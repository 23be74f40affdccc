"""``failbackctl plan apply|list``, ``items``, ``groups``, and the workflows: ``reprotect``, ``failover``,
``cancel-failover``, ``commit``, ``reprotect-back``.

Every workflow command starts a job on a plan (``--plan``), or on some of its items (``--item``, repeatable), and
prints the job (``_jobs``); ``--wait`` follows it with live progress (bytes, ETA) and exits 0 when it succeeds.

JSON:

* ``plan apply``: ``{"name": str, "stored": bool, "plan": {...}, "steps": [{"workflow": str, "step": str,
  "item": str, "action": str}]}`` (``--dry-run``: ``stored`` is false, nothing is changed);
* ``plan list``: ``{"plans": [{"name": str, "source": "file" | "vault", "vault": str, "document": {...},
  "updated_at": RFC 3339}]}``;
* ``items``: ``{"items": [{"key": str, "vault": str, "name": str, "group": str | null, "state": str,
  "job_id": int | null, "rollback_until": RFC 3339 | null, "asr": {...}, "record": {...}}]}``;
* ``groups``: ``{"groups": [{"name": str, "vault": str, "protection_group": str, "protection_group_name": str,
  "members": [str]}]}``;
* workflow commands: the job; with ``--wait --output json``, its updates as JSON lines.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from controller.api.v1 import workflows_pb2, workflows_pb2_grpc
from controller.cli._client import RPC_TIMEOUT, UsageError, call, load_ctl_config
from controller.cli._output import add_output_argument, emit, stamp
from controller.cli._sources_common import add_wait_argument, finish_job_command

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    plan = subparsers.add_parser("plan", help="failback plans: apply a plan file, list plans")
    actions = plan.add_subparsers(dest="action", required=True, metavar="ACTION")
    apply = actions.add_parser("apply", help="check and store a plan file (TOML or YAML)")
    apply.add_argument("file", type=Path)
    apply.add_argument("--dry-run", action="store_true", help="store nothing; print every step it would take")
    add_output_argument(apply)
    apply.set_defaults(handler=_apply)
    listing = actions.add_parser("list", help="plans applied from files and imported from vaults")
    add_output_argument(listing)
    listing.set_defaults(handler=_plans)

    items = subparsers.add_parser("items", help="protected items and where each stands")
    items.add_argument("--vault")
    add_output_argument(items)
    items.set_defaults(handler=_items)
    groups = subparsers.add_parser("groups", help="failback groups (one per protection group)")
    groups.add_argument("--vault")
    add_output_argument(groups)
    groups.set_defaults(handler=_groups)

    for name, helptext in (
        ("reprotect", "replicate a plan's VMs from Azure to the on-premises site"),
        ("failover", "fail a plan's VMs over to the on-premises site"),
        ("cancel-failover", "roll a failover back before commit"),
        ("commit", "commit a failover (ends the rollback window)"),
        ("reprotect-back", "hand the failed-back VMs to ASR for protection to Azure"),
    ):
        command = subparsers.add_parser(name, help=helptext)
        command.add_argument("--plan", required=True)
        command.add_argument("--item", action="append", default=[], help="only this item (repeatable)")
        if name == "failover":
            command.add_argument("--kind", choices=["planned", "unplanned"], default="planned")
            command.add_argument(
                "--point", choices=["latest", "latest-app", "latest-group", "custom"], default="latest"
            )
            command.add_argument("--point-id")
            command.add_argument("--point-time", type=float, help="seconds since the epoch")
        if name in ("reprotect", "failover"):
            command.add_argument(
                "--skip-doctor",
                action="append",
                default=[],
                metavar="CHECK_ID",
                help="start although this doctor check fails (repeatable; recorded on the job)",
            )
        if name == "reprotect-back":
            command.add_argument("--asr-process-server", required=True, help="ASR's on-premises process server id")
            command.add_argument("--asr-policy", help="ASR replication policy (default: the plan's)")
        add_wait_argument(command)
        add_output_argument(command)
        command.set_defaults(handler=_start, workflow={"cancel-failover": "cancel"}.get(name, name))


def _apply(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from exc
    syntax = "yaml" if args.file.suffix.lower() in (".yaml", ".yml") else "toml"
    config = load_ctl_config(args.config)
    request = workflows_pb2.ApplyPlanRequest(text=text, syntax=syntax, dry_run=args.dry_run)
    response = call(config, lambda c: workflows_pb2_grpc.FailbackStub(c).ApplyPlan(request, timeout=RPC_TIMEOUT))
    steps = [{"workflow": s.workflow, "step": s.step, "item": s.item, "action": s.action} for s in response.steps]
    document = {
        "name": response.name,
        "stored": response.stored,
        "plan": json.loads(response.plan_json),
        "steps": steps,
    }
    emit(
        args,
        document,
        ["WORKFLOW", "STEP", "ITEM", "ACTION"],
        [[s["workflow"], s["step"], s["item"], s["action"]] for s in steps],
    )
    return 0


def _plans(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    response = call(
        config,
        lambda c: workflows_pb2_grpc.FailbackStub(c).ListPlans(workflows_pb2.ListPlansRequest(), timeout=RPC_TIMEOUT),
    )
    plans = [
        {
            "name": p.name,
            "source": p.source,
            "vault": p.vault,
            "document": json.loads(p.document_json),
            "updated_at": stamp(p, "updated_at"),
        }
        for p in response.plans
    ]
    emit(
        args,
        {"plans": plans},
        ["NAME", "SOURCE", "VAULT", "UPDATED"],
        [[p["name"], p["source"], p["vault"], p["updated_at"]] for p in plans],
    )
    return 0


def _items(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    request = workflows_pb2.ListItemsRequest(vault=args.vault or "")
    response = call(config, lambda c: workflows_pb2_grpc.FailbackStub(c).ListItems(request, timeout=RPC_TIMEOUT))
    items: list[dict[str, Any]] = [
        {
            "key": i.key,
            "vault": i.vault,
            "name": i.name,
            "group": i.group or None,
            "state": i.state,
            "job_id": i.job_id or None,
            "rollback_until": stamp(i, "rollback_until"),
            "asr": json.loads(i.asr_json),
            "record": json.loads(i.record_json),
        }
        for i in response.items
    ]
    emit(
        args,
        {"items": items},
        ["NAME", "VAULT", "GROUP", "STATE", "JOB", "LOCATION"],
        [[i["name"], i["vault"], i["group"], i["state"], i["job_id"], i["record"].get("location")] for i in items],
    )
    return 0


def _groups(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    request = workflows_pb2.ListGroupsRequest(vault=args.vault or "")
    response = call(config, lambda c: workflows_pb2_grpc.FailbackStub(c).ListGroups(request, timeout=RPC_TIMEOUT))
    groups = [
        {
            "name": g.name,
            "vault": g.vault,
            "protection_group": g.protection_group,
            "protection_group_name": g.protection_group_name,
            "members": list(g.members),
        }
        for g in response.groups
    ]
    emit(
        args,
        {"groups": groups},
        ["GROUP", "VAULT", "FROM", "MEMBERS"],
        [[g["name"], g["vault"], g["protection_group_name"], len(g["members"])] for g in groups],
    )
    return 0


def _start(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {}
    if args.workflow == "failover":
        options = {"kind": args.kind, "point": args.point}
        if args.point_id:
            options["point_id"] = args.point_id
        if args.point_time is not None:
            options["point_time"] = args.point_time
    if args.workflow == "reprotect-back":
        options = {"asr_process_server": args.asr_process_server}
        if args.asr_policy:
            options["asr_policy"] = args.asr_policy
    if getattr(args, "skip_doctor", None):
        options["skip_doctor"] = args.skip_doctor
    config = load_ctl_config(args.config)
    request = workflows_pb2.StartWorkflowRequest(
        workflow=args.workflow, plan=args.plan, items=args.item, options_json=json.dumps(options)
    )
    job = call(config, lambda c: workflows_pb2_grpc.FailbackStub(c).StartWorkflow(request, timeout=RPC_TIMEOUT))
    return finish_job_command(args, config, job)
