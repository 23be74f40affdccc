"""``failbackctl jobs``, ``job show ID [--follow]``, ``job cancel ID``.

JSON of one job (``job show``, ``job cancel``, and each element of ``jobs``)::

    {"id": int, "type": str, "title": str, "subject": str | null,
     "state": "queued" | "running" | "waiting" | "succeeded" | "failed" | "cancelled",
     "cancel_requested": bool, "cancellable": bool,
     "percent": float, "bytes_done": int, "bytes_total": int, "eta_seconds": float | null,
     "current_step": str | null, "error": str | null, "remedy": str | null,
     "created_by": str, "created_at": RFC 3339,
     "started_at", "finished_at", "updated_at", "not_before": RFC 3339 | null,
     "params": {...},
     "steps": [{"position": int, "name": str, "title": str,
                "state": "pending" | "running" | "waiting" | "succeeded" | "failed" | "cancelled",
                "attempts": int, "fraction": float, "bytes_done": int | null, "bytes_total": int | null,
                "message": str | null, "last_error": str | null, "error": str | null, "remedy": str | null,
                "started_at", "finished_at", "retry_at": RFC 3339 | null, "cancellable": bool,
                "output": {...} | null}]}

``jobs``: ``{"jobs": [job, ...]}``, newest first. ``job show --follow --output json`` prints one job per line
(compact) each time it changes, the last one finished. Exit codes: ``job show --follow`` (and ``--wait`` on commands
that start jobs) exits 0 when the job succeeded and 1 when it failed or was cancelled.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import grpc
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from controller.api.v1 import jobs_pb2, jobs_pb2_grpc
from controller.cli._client import RPC_TIMEOUT, CtlConfig, call, connect, load_ctl_config, rpc_error
from controller.cli._output import add_output_argument, emit, human_bytes, stamp

__all__ = ["follow", "job_document", "register", "report_job"]

_COLUMNS = ["ID", "TYPE", "SUBJECT", "STATE", "PROGRESS", "STEP", "CREATED", "ERROR"]
# A follow without news for this long re-asks: the stream may have been cut by a controller restart.
_FOLLOW_TIMEOUT = 3600.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = subparsers.add_parser("jobs", help="list jobs, newest first")
    jobs.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    jobs.add_argument("--unfinished", action="store_true", help="only jobs that have not finished")
    add_output_argument(jobs)
    jobs.set_defaults(handler=_list)

    job = subparsers.add_parser("job", help="one job: show it, follow it, cancel it")
    actions = job.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="a job with its steps")
    show.add_argument("id", type=int)
    show.add_argument("--follow", "-f", action="store_true", help="follow it live until it finishes")
    add_output_argument(show)
    show.set_defaults(handler=_show)
    cancel = actions.add_parser("cancel", help="stop a job at the next step that allows it")
    cancel.add_argument("id", type=int)
    add_output_argument(cancel)
    cancel.set_defaults(handler=_cancel)


def _loads(text: str) -> Any:
    return json.loads(text) if text else None


def job_document(job: jobs_pb2.Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "type": job.type,
        "title": job.title,
        "subject": job.subject or None,
        "state": job.state,
        "cancel_requested": job.cancel_requested,
        "cancellable": job.cancellable,
        "percent": job.percent,
        "bytes_done": job.bytes_done,
        "bytes_total": job.bytes_total,
        "eta_seconds": job.eta_seconds if job.HasField("eta_seconds") else None,
        "current_step": job.current_step or None,
        "error": job.error or None,
        "remedy": job.remedy or None,
        "created_by": job.created_by,
        "created_at": stamp(job, "created_at"),
        "started_at": stamp(job, "started_at"),
        "finished_at": stamp(job, "finished_at"),
        "updated_at": stamp(job, "updated_at"),
        "not_before": stamp(job, "not_before"),
        "params": _loads(job.params_json) or {},
        "steps": [
            {
                "position": step.position,
                "name": step.name,
                "title": step.title,
                "state": step.state,
                "attempts": step.attempts,
                "fraction": step.fraction,
                "bytes_done": step.bytes_done if step.HasField("bytes_done") else None,
                "bytes_total": step.bytes_total if step.HasField("bytes_total") else None,
                "message": step.message or None,
                "last_error": step.last_error or None,
                "error": step.error or None,
                "remedy": step.remedy or None,
                "started_at": stamp(step, "started_at"),
                "finished_at": stamp(step, "finished_at"),
                "retry_at": stamp(step, "retry_at"),
                "cancellable": step.cancellable,
                "output": _loads(step.output_json),
            }
            for step in job.steps
        ],
    }


def _state(document: dict[str, Any]) -> str:
    if document["cancel_requested"] and document["finished_at"] is None:
        return "cancelling"
    return str(document["state"])


def _row(document: dict[str, Any]) -> list[object]:
    return [
        document["id"],
        document["type"],
        document["subject"],
        _state(document),
        f"{document['percent']:.0f}%",
        document["current_step"],
        document["created_at"],
        document["error"],
    ]


def _list(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    response = call(
        config,
        lambda channel: jobs_pb2_grpc.JobsStub(channel).ListJobs(
            jobs_pb2.ListJobsRequest(limit=args.limit, unfinished_only=args.unfinished), timeout=RPC_TIMEOUT
        ),
    )
    documents = [job_document(job) for job in response.jobs]
    emit(args, {"jobs": documents}, _COLUMNS, [_row(document) for document in documents])
    return 0


def report_job(args: argparse.Namespace, document: dict[str, Any]) -> None:
    """A job with its steps: JSON as documented above, or a summary and a table of steps."""
    if args.output == "json":
        emit(args, document, [], [])
        return
    console = Console(soft_wrap=True)
    console.print(f"job {document['id']}: {document['title']} ({document['type']})", markup=False)
    console.print(f"state:    {_state(document)}  {document['percent']:.0f}%", markup=False)
    if document["subject"]:
        console.print(f"subject:  {document['subject']}", markup=False)
    if document["error"]:
        console.print(f"error:    {document['error']}", markup=False)
    if document["remedy"]:
        console.print(f"remedy:   {document['remedy']}", markup=False)
    rows = [
        [
            step["position"] + 1,
            step["title"],
            step["state"],
            f"{100 * step['fraction']:.0f}%",
            step["attempts"],
            step["error"] or step["last_error"] or step["message"],
        ]
        for step in document["steps"]
    ]
    emit(args, document, ["#", "STEP", "STATE", "DONE", "ATTEMPTS", "NOTE"], rows)


def _show(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    if args.follow:
        return follow(config, args.id, args.output)
    job = call(
        config,
        lambda channel: jobs_pb2_grpc.JobsStub(channel).GetJob(jobs_pb2.GetJobRequest(id=args.id), timeout=RPC_TIMEOUT),
    )
    report_job(args, job_document(job))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    job = call(
        config,
        lambda channel: jobs_pb2_grpc.JobsStub(channel).CancelJob(
            jobs_pb2.CancelJobRequest(id=args.id), timeout=RPC_TIMEOUT
        ),
    )
    report_job(args, job_document(job))
    return 0


def follow(config: CtlConfig, job_id: int, output: str) -> int:
    """Watch a job until it finishes: a live progress bar, or JSON lines. 0 when it succeeded, 1 otherwise."""
    last: dict[str, Any] | None = None
    with connect(config) as channel:
        stream = jobs_pb2_grpc.JobsStub(channel).WatchJob(jobs_pb2.GetJobRequest(id=job_id), timeout=_FOLLOW_TIMEOUT)
        try:
            if output == "json":
                for job in stream:
                    last = job_document(job)
                    print(json.dumps(last, sort_keys=True), flush=True)
            else:
                last = _progress_bar(stream)
        except grpc.RpcError as exc:
            raise rpc_error(exc, config) from exc
    if last is None:
        return 1
    if output != "json":
        console = Console(stderr=False, soft_wrap=True)
        console.print(f"job {last['id']} {last['state']}", markup=False)
        if last["error"]:
            console.print(f"error:  {last['error']}", markup=False)
        if last["remedy"]:
            console.print(f"remedy: {last['remedy']}", markup=False)
    return 0 if last["state"] == "succeeded" else 1


def _progress_bar(stream: Any) -> dict[str, Any] | None:
    last = None
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("starting", total=100.0, detail="")
        for job in stream:
            last = job_document(job)
            step = next((s for s in last["steps"] if s["name"] == last["current_step"]), None)
            detail = ""
            if last["bytes_total"]:
                detail = f"{human_bytes(last['bytes_done'])} of {human_bytes(last['bytes_total'])}"
            elif step and step["last_error"]:
                detail = f"retrying: {step['last_error']}"
            elif step and step["message"]:
                detail = step["message"]
            title = step["title"] if step else last["title"]
            bar.update(task, completed=last["percent"], description=f"job {last['id']}: {title}", detail=detail)
    return last
