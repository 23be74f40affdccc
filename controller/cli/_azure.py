"""``failbackctl azure add|list|import``: Recovery Services vaults, read through a service principal.

The client secret is read from ``--secret-file``, ``--secret-stdin`` or a prompt, never from an argument; the
controller seals it at once. ``--endpoint``, ``--authority`` and ``--ca-file`` point at a sovereign cloud, Azure
Stack or a local test endpoint.

JSON:

* ``azure add``: ``{"name": str, "job": job | null}`` (the import job with ``--import``; see ``_jobs``);
* ``azure list``: ``{"vaults": [{"name": str, "subscription_id": str, "resource_group": str, "vault": str,
  "tenant_id": str, "client_id": str, "base_url": str | null, "created_at": RFC 3339,
  "snapshot": {"id": int, "taken_at": RFC 3339, "counts": {kind: int}, "job_id": int | null} | null}]}``;
* ``azure import``: the import job (``_jobs``); with ``--wait --output json``, its updates as JSON lines.
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
    azure = subparsers.add_parser("azure", help="Azure Site Recovery vaults the failed-over estate is read from")
    actions = azure.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="register a Recovery Services vault")
    add.add_argument("name", help="your name for it: lower-case letters, digits, '-'")
    add.add_argument("--subscription", required=True, help="subscription id")
    add.add_argument("--resource-group", required=True)
    add.add_argument("--vault", required=True, help="the vault's name in Azure")
    add.add_argument("--tenant", required=True, help="Entra ID tenant id")
    add.add_argument("--client-id", required=True, help="the service principal's application (client) id")
    add_secret_arguments(add, "secret", "client secret")
    add.add_argument("--endpoint", help="Resource Manager URL (default: public Azure)")
    add.add_argument("--authority", help="Entra ID authority URL (default: public Azure)")
    add.add_argument("--ca-file", type=Path, help="CA (PEM) for a private endpoint's certificate")
    add.add_argument("--import", dest="run_import", action="store_true", help="start an import at once")
    add_wait_argument(add)
    add_output_argument(add)
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="registered vaults and their last import")
    add_output_argument(listing)
    listing.set_defaults(handler=_list)

    run = actions.add_parser("import", help="read a vault's failed-over estate now (a job)")
    run.add_argument("name")
    add_wait_argument(run)
    add_output_argument(run)
    run.set_defaults(handler=_import)


def _add(args: argparse.Namespace) -> int:
    ca_pem = ""
    if args.ca_file is not None:
        try:
            ca_pem = args.ca_file.read_text()
        except OSError as exc:
            raise UsageError(f"--ca-file: cannot read {args.ca_file}: {exc.strerror}") from exc
    secret = read_secret(args, "secret", "client secret")
    config = load_ctl_config(args.config)
    request = inventory_pb2.AddVaultRequest(
        name=args.name,
        subscription_id=args.subscription,
        resource_group=args.resource_group,
        vault=args.vault,
        tenant_id=args.tenant,
        client_id=args.client_id,
        client_secret=secret,
        base_url=args.endpoint or "",
        authority=args.authority or "",
        ca_pem=ca_pem,
        run_import=args.run_import or args.wait,
    )
    response = call(
        config, lambda channel: inventory_pb2_grpc.SourcesStub(channel).AddVault(request, timeout=RPC_TIMEOUT)
    )
    if response.HasField("job") and args.wait:
        return finish_job_command(args, config, response.job)
    job = job_document(response.job) if response.HasField("job") else None
    emit(
        args,
        {"name": response.name, "job": job},
        ["VAULT", "IMPORT JOB"],
        [[response.name, job["id"] if job else None]],
    )
    return 0


def _document(record: inventory_pb2.VaultRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "subscription_id": record.subscription_id,
        "resource_group": record.resource_group,
        "vault": record.vault,
        "tenant_id": record.tenant_id,
        "client_id": record.client_id,
        "base_url": record.base_url or None,
        "created_at": stamp(record, "created_at"),
        "snapshot": snapshot_document(record),
    }


def _list(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    response = call(
        config,
        lambda channel: inventory_pb2_grpc.SourcesStub(channel).ListVaults(
            inventory_pb2.ListVaultsRequest(), timeout=RPC_TIMEOUT
        ),
    )
    documents = [_document(record) for record in response.vaults]
    rows = [
        [
            d["name"],
            f"{d['resource_group']}/{d['vault']}",
            d["snapshot"]["taken_at"] if d["snapshot"] else "never",
            counts_text(d["snapshot"], ("protected-item", "process-server", "master-target")),
        ]
        for d in documents
    ]
    emit(args, {"vaults": documents}, ["NAME", "VAULT", "IMPORTED", "ESTATE"], rows)
    return 0


def _import(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    job = call(
        config,
        lambda channel: inventory_pb2_grpc.SourcesStub(channel).ImportVault(
            inventory_pb2.RefreshSourceRequest(name=args.name), timeout=RPC_TIMEOUT
        ),
    )
    return finish_job_command(args, config, job)
