"""``failbackctl vcenter add|list|refresh``.

The password is read from ``--password-file``, ``--password-stdin`` or a prompt, never from an argument; the
controller seals it at once. vCenter's certificate is verified with ``--ca-file`` (the CA that signed it) or
``--thumbprint`` (its SHA-256 fingerprint).

JSON:

* ``vcenter add``: ``{"name": str, "job": job | null}`` (the refresh job with ``--refresh``; see ``_jobs``);
* ``vcenter list``: ``{"vcenters": [{"name": str, "address": str, "username": str, "verify": "ca" | "thumbprint",
  "created_at": RFC 3339, "snapshot": {"id": int, "taken_at": RFC 3339, "counts": {kind: int},
  "job_id": int | null} | null}]}``;
* ``vcenter refresh``: the refresh job (``_jobs``); with ``--wait --output json``, its updates as JSON lines.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from controller.api.v1 import inventory_pb2, inventory_pb2_grpc
from controller.cli._client import RPC_TIMEOUT, UsageError, call, load_ctl_config
from controller.cli._jobs import job_document
from controller.cli._output import add_output_argument, emit, stamp
from controller.cli._secret_input import add_secret_arguments, read_secret
from controller.cli._sources_common import add_wait_argument, counts_text, finish_job_command, snapshot_document

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    vcenter = subparsers.add_parser("vcenter", help="vCenters the inventory is read from")
    actions = vcenter.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="register a vCenter (or ESXi host)")
    add.add_argument("name", help="your name for it: lower-case letters, digits, '-'")
    add.add_argument("--address", required=True, help="HOST or HOST:PORT")
    add.add_argument("--user", required=True, help="the failback service account")
    trust = add.add_mutually_exclusive_group(required=True)
    trust.add_argument("--ca-file", type=Path, help="the CA certificate (PEM) that signed vCenter's certificate")
    trust.add_argument("--thumbprint", help="vCenter certificate's SHA-256 fingerprint")
    add_secret_arguments(add, "password", "vCenter password")
    add.add_argument("--refresh", action="store_true", help="start a refresh at once")
    add_wait_argument(add)
    add_output_argument(add)
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="registered vCenters and their last snapshot")
    add_output_argument(listing)
    listing.set_defaults(handler=_list)

    refresh = actions.add_parser("refresh", help="read a vCenter's inventory now (a job)")
    refresh.add_argument("name")
    add_wait_argument(refresh)
    add_output_argument(refresh)
    refresh.set_defaults(handler=_refresh)


def _add(args: argparse.Namespace) -> int:
    ca_pem = ""
    if args.ca_file is not None:
        try:
            ca_pem = args.ca_file.read_text()
        except OSError as exc:
            raise UsageError(f"--ca-file: cannot read {args.ca_file}: {exc.strerror}") from exc
    password = read_secret(args, "password", "vCenter password")
    config = load_ctl_config(args.config)
    request = inventory_pb2.AddVCenterRequest(
        name=args.name,
        address=args.address,
        username=args.user,
        password=password,
        ca_pem=ca_pem,
        thumbprint_sha256=args.thumbprint or "",
        refresh=args.refresh or args.wait,
    )
    response = call(
        config, lambda channel: inventory_pb2_grpc.SourcesStub(channel).AddVCenter(request, timeout=RPC_TIMEOUT)
    )
    if response.HasField("job") and args.wait:
        return finish_job_command(args, config, response.job)
    job = job_document(response.job) if response.HasField("job") else None
    emit(
        args,
        {"name": response.name, "job": job},
        ["VCENTER", "REFRESH JOB"],
        [[response.name, job["id"] if job else None]],
    )
    return 0


def _document(record: inventory_pb2.VCenterRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "address": record.address,
        "username": record.username,
        "verify": record.verify,
        "created_at": stamp(record, "created_at"),
        "snapshot": snapshot_document(record),
    }


def _list(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    response = call(
        config,
        lambda channel: inventory_pb2_grpc.SourcesStub(channel).ListVCenters(
            inventory_pb2.ListVCentersRequest(), timeout=RPC_TIMEOUT
        ),
    )
    documents = [_document(record) for record in response.vcenters]
    rows = [
        [
            d["name"],
            d["address"],
            d["username"],
            d["snapshot"]["taken_at"] if d["snapshot"] else "never",
            counts_text(d["snapshot"], ("host", "datastore", "vm")),
        ]
        for d in documents
    ]
    emit(args, {"vcenters": documents}, ["NAME", "ADDRESS", "USER", "REFRESHED", "INVENTORY"], rows)
    return 0


def _refresh(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    job = call(
        config,
        lambda channel: inventory_pb2_grpc.SourcesStub(channel).RefreshVCenter(
            inventory_pb2.RefreshSourceRequest(name=args.name), timeout=RPC_TIMEOUT
        ),
    )
    return finish_job_command(args, config, job)
