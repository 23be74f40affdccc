"""``failbackctl inventory vms|hosts|datastores|items|plans [--source NAME]``: the newest snapshot of every source.

JSON: ``{"objects": [{"source_kind": "vcenter" | "azure", "source_name": str, "kind": str, "key": str,
"name": str, "parent_key": str | null, "details": {...}}]}``. ``key`` is the stable id (VM instance UUID, datastore
and host managed object ids, ARM ids of protected items and plans); the fields of ``details`` per kind are listed in
``controller.inventory._kinds``. ``items`` are Azure Site Recovery protected items (``details.active_location`` is
"Recovery" for a failed-over one); ``plans`` are recovery plans.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from controller.api.v1 import inventory_pb2, inventory_pb2_grpc
from controller.cli._client import RPC_TIMEOUT, call, load_ctl_config
from controller.cli._output import add_output_argument, emit, human_bytes
from controller.inventory import KIND_ALIASES

__all__ = ["register"]

Row = Callable[[dict[str, Any]], list[object]]


def _vm(o: dict[str, Any]) -> list[object]:
    d = o["details"]
    return [
        o["source_name"],
        o["name"],
        o["key"],
        d.get("power_state"),
        len(d.get("disks", [])),
        ", ".join(d.get("ip_addresses", [])),
    ]


def _host(o: dict[str, Any]) -> list[object]:
    d = o["details"]
    return [o["source_name"], o["name"], o["key"], d.get("cluster"), d.get("version"), d.get("connection_state")]


def _datastore(o: dict[str, Any]) -> list[object]:
    d = o["details"]
    return [
        o["source_name"],
        o["name"],
        d.get("type"),
        human_bytes(d.get("capacity_bytes")),
        human_bytes(d.get("free_bytes")),
    ]


def _item(o: dict[str, Any]) -> list[object]:
    d = o["details"]
    return [o["source_name"], o["name"], d.get("protection_state"), d.get("active_location"), d.get("failover_health")]


def _plan(o: dict[str, Any]) -> list[object]:
    d = o["details"]
    items = sum(len(group.get("item_ids", [])) for group in d.get("groups", []))
    return [o["source_name"], o["name"], len(d.get("groups", [])), items, ", ".join(d.get("allowed_operations", []))]


_VIEWS: dict[str, tuple[list[str], Row]] = {
    "vms": (["SOURCE", "NAME", "INSTANCE UUID", "POWER", "DISKS", "IP ADDRESSES"], _vm),
    "hosts": (["SOURCE", "NAME", "ID", "CLUSTER", "VERSION", "CONNECTION"], _host),
    "datastores": (["SOURCE", "NAME", "TYPE", "CAPACITY", "FREE"], _datastore),
    "items": (["VAULT", "NAME", "PROTECTION", "ACTIVE LOCATION", "FAILOVER HEALTH"], _item),
    "plans": (["VAULT", "NAME", "GROUPS", "ITEMS", "ALLOWED OPERATIONS"], _plan),
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    inventory = subparsers.add_parser("inventory", help="what the vCenters and vaults hold (their last snapshot)")
    views = inventory.add_subparsers(dest="view", required=True, metavar="VIEW")
    helps = {
        "vms": "virtual machines",
        "hosts": "ESXi hosts",
        "datastores": "datastores",
        "items": "Azure Site Recovery protected items (failed-over machines)",
        "plans": "Azure Site Recovery recovery plans",
    }
    for view, text in helps.items():
        parser = views.add_parser(view, help=text)
        parser.add_argument("--source", help="only this vCenter or vault")
        add_output_argument(parser)
        parser.set_defaults(handler=_list)


def _list(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    request = inventory_pb2.ListObjectsRequest(kinds=list(KIND_ALIASES[args.view]), source=args.source or "")
    response = call(
        config, lambda channel: inventory_pb2_grpc.InventoryStub(channel).ListObjects(request, timeout=RPC_TIMEOUT)
    )
    documents = [
        {
            "source_kind": o.source_kind,
            "source_name": o.source_name,
            "kind": o.kind,
            "key": o.key,
            "name": o.name,
            "parent_key": o.parent_key or None,
            "details": json.loads(o.details_json) if o.details_json else {},
        }
        for o in response.objects
    ]
    columns, row = _VIEWS[args.view]
    emit(args, {"objects": documents}, columns, [row(document) for document in documents])
    return 0
