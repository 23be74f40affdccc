"""``failbackctl doctor [--plan P | --vm NAME... | --all] [--offline] [--output table|json]``.

The controller runs every check (vCenter, vault, agents, the on-premises and master-target VMs) and answers with
each finding; nothing is changed anywhere. Without a scope it checks everything. ``--offline`` asks no vCenter,
vault or agent: only what the controller stored (the last inventory refresh and vault import, heartbeats).

The table groups findings by subject and ends with where the facts came from and a summary line. Exit codes: 0
when nothing fails (warnings allowed), 1 when a check fails (or the controller cannot be reached), 2 for a usage
error (no such plan or VM, conflicting options).

JSON (``--output json``), as documented in ``controller/doctor/_report.py``::

    {"scope": "plan lab", "live": true, "taken_at": RFC 3339, "status": "ok" | "warn" | "fail",
     "counts": {"ok": int, "warn": int, "fail": int},
     "sources": [{"name": "vCenter lab-vcenter", "how": "live" | "stored" | "none", "at": RFC 3339 | null,
                  "note": str}],
     "problems": [str],
     "checks": [{"id": "vm-snapshots", "title": str, "subject": "vm web01", "status": "ok" | "warn" | "fail",
                 "evidence": str, "remedy": str | null}]}
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import grpc
from rich.console import Console
from rich.table import Table
from rich.text import Text

from controller.api.v1 import doctor_pb2, doctor_pb2_grpc
from controller.cli._client import UsageError, connect, load_ctl_config, rpc_error
from controller.cli._output import add_output_argument, stamp

__all__ = ["register"]

# The controller's deadline for reading every source is 30 s; assembling and checking takes little more.
_TIMEOUT = 90.0
_PIPE_WIDTH = 400
_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = subparsers.add_parser(
        "doctor", help="check a plan, VMs or everything before failing back (changes nothing)"
    )
    scope = doctor.add_mutually_exclusive_group()
    scope.add_argument("--plan", help="a failback plan (failbackctl plan list)")
    scope.add_argument(
        "--vm", action="extend", nargs="+", default=[], metavar="NAME", help="protected items by name or ARM id"
    )
    scope.add_argument("--all", action="store_true", help="every plan, item, vCenter, vault and agent (default)")
    doctor.add_argument(
        "--offline", action="store_true", help="use only what the controller stored; ask no vCenter, vault or agent"
    )
    add_output_argument(doctor)
    doctor.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    request = doctor_pb2.CheckRequest(
        plan=args.plan or "", vms=args.vm, all=not (args.plan or args.vm), offline=args.offline
    )
    with connect(config) as channel:
        try:
            report = doctor_pb2_grpc.DoctorStub(channel).Check(request, timeout=_TIMEOUT)
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND):
                raise UsageError(exc.details() or exc.code().name) from exc
            raise rpc_error(exc, config) from exc
    document = _document(report)
    if args.output == "json":
        print(json.dumps(document, indent=2, sort_keys=True))
    else:
        _print(document)
    return 1 if document["status"] == "fail" else 0


def _document(report: doctor_pb2.CheckReport) -> dict[str, Any]:
    checks = [
        {
            "id": c.id,
            "title": c.title,
            "subject": c.subject,
            "status": c.status,
            "evidence": c.evidence,
            "remedy": c.remedy or None,
        }
        for c in report.checks
    ]
    return {
        "scope": report.scope,
        "live": report.live,
        "taken_at": stamp(report, "taken_at"),
        "status": report.status,
        "counts": {status: sum(1 for c in checks if c["status"] == status) for status in ("ok", "warn", "fail")},
        "sources": [{"name": s.name, "how": s.how, "at": stamp(s, "at"), "note": s.note} for s in report.sources],
        "problems": list(report.problems),
        "checks": checks,
    }


def _print(document: dict[str, Any]) -> None:
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else _PIPE_WIDTH, highlight=False)
    table = Table("SUBJECT", "STATUS", "CHECK", "EVIDENCE", "REMEDY", box=None, pad_edge=False)
    checks = document["checks"]
    for index, check in enumerate(checks):
        first = index == 0 or checks[index - 1]["subject"] != check["subject"]
        last = index == len(checks) - 1 or checks[index + 1]["subject"] != check["subject"]
        # Text, not markup: evidence and remedies quote plan keys such as [[vms]].
        table.add_row(
            Text(check["subject"] if first else ""),
            Text(check["status"].upper(), style=_STYLE.get(check["status"], "")),
            Text(check["id"]),
            Text(check["evidence"]),
            Text(check["remedy"] or ""),
            end_section=last,
        )
    console.print(table)
    console.print()
    for source in document["sources"]:
        at = f" at {source['at']}" if source["at"] else ""
        console.print(Text(f"source: {source['name']}: {source['how']}{at}; {source['note']}"))
    for problem in document["problems"]:
        console.print(Text(f"not checked: {problem}", style="yellow"))
    counts = document["counts"]
    verdict = {"ok": "nothing fails", "warn": "nothing fails (see the warnings)", "fail": "something fails"}
    mode = "live" if document["live"] else "offline"
    console.print(
        Text(
            f"doctor ({document['scope']}, {mode}): {counts['ok']} ok, {counts['warn']} warn, {counts['fail']} fail"
            f" - {verdict[document['status']]}",
            style=_STYLE[document["status"]],
        )
    )
