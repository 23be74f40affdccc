"""What the vCenter and Azure commands share: snapshot summaries, and starting a job with an optional wait."""

from __future__ import annotations

import argparse
from typing import Any

from controller.api.v1 import inventory_pb2, jobs_pb2
from controller.cli._client import CtlConfig
from controller.cli._jobs import follow, job_document, report_job
from controller.cli._output import stamp

__all__ = ["add_wait_argument", "counts_text", "finish_job_command", "snapshot_document"]


def snapshot_document(record: Any) -> dict[str, Any] | None:
    if not record.HasField("snapshot"):
        return None
    snapshot: inventory_pb2.SnapshotInfo = record.snapshot
    return {
        "id": snapshot.id,
        "taken_at": stamp(snapshot, "taken_at"),
        "counts": dict(sorted(snapshot.counts.items())),
        "job_id": snapshot.job_id or None,
    }


def counts_text(snapshot: dict[str, Any] | None, kinds: tuple[str, ...]) -> str:
    if snapshot is None:
        return "never"
    counts = snapshot["counts"]
    return ", ".join(f"{counts.get(kind, 0)} {kind}s" for kind in kinds)


def add_wait_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true", help="follow the job until it finishes; exit 1 if it fails")


def finish_job_command(args: argparse.Namespace, config: CtlConfig, job: jobs_pb2.Job) -> int:
    """Print the job that was started, or follow it with ``--wait``."""
    if getattr(args, "wait", False):
        return follow(config, job.id, args.output)
    report_job(args, job_document(job))
    return 0
