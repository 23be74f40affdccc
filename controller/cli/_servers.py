"""``failbackctl servers`` (and ``agents list``, its alias): every agent with heartbeat, health, version and capacity.

JSON::

    {"controller_version": str,
     "agents": [{"name": str, "role": "master-target" | "process-server", "state": "active" | "revoked",
                 "version": str, "hostname": str, "registered_at": RFC 3339, "certificate_not_after": RFC 3339 | null,
                 "health": "ok" | "degraded" | "stale" | "unknown" | "revoked", "problems": [str],
                 "last_heartbeat": RFC 3339 | null, "started_at": RFC 3339 | null,
                 "capacity": null
                           | {"master_target": {"attached_disks": int | null, "disk_limit": int,
                                                "retention_volumes": [{"path", "capacity_bytes", "free_bytes"}]}}
                           | {"process_server": {"backlog_bytes": int | null,
                                                 "throughput_bytes_per_second": int | null,
                                                 "replicating_disks": int | null}}}]}

Capacity figures an agent has not measured are null, never 0.
"""

from __future__ import annotations

import argparse
from typing import Any

from controller.api.v1 import agents_pb2, agents_pb2_grpc
from controller.cli._client import RPC_TIMEOUT, call, load_ctl_config
from controller.cli._output import add_output_argument, emit, human_bytes, stamp

__all__ = ["list_servers", "register", "server_document"]

_COLUMNS = ["NAME", "ROLE", "HEALTH", "VERSION", "LAST HEARTBEAT", "CAPACITY", "PROBLEMS"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    servers = subparsers.add_parser("servers", help="agents with heartbeat, health, version and capacity")
    add_output_argument(servers)
    servers.set_defaults(handler=list_servers)


def _optional(message: Any, field: str) -> int | None:
    return getattr(message, field) if message.HasField(field) else None


def _capacity(record: agents_pb2.ServerRecord) -> dict[str, Any] | None:
    kind = record.WhichOneof("capacity")
    if kind == "master_target":
        mt = record.master_target
        return {
            "master_target": {
                "attached_disks": _optional(mt, "attached_disks"),
                "disk_limit": mt.disk_limit,
                "retention_volumes": [
                    {"path": v.path, "capacity_bytes": v.capacity_bytes, "free_bytes": v.free_bytes}
                    for v in mt.retention_volumes
                ],
            }
        }
    if kind == "process_server":
        ps = record.process_server
        return {
            "process_server": {
                field: _optional(ps, field)
                for field in ("backlog_bytes", "throughput_bytes_per_second", "replicating_disks")
            }
        }
    return None


def server_document(record: agents_pb2.ServerRecord) -> dict[str, Any]:
    agent = record.agent
    return {
        "name": agent.name,
        "role": agent.role,
        "state": agent.state,
        "version": agent.version,
        "hostname": agent.hostname,
        "registered_at": stamp(agent, "registered_at"),
        "certificate_not_after": stamp(agent, "certificate_not_after"),
        "health": record.health,
        "problems": list(record.problems),
        "last_heartbeat": stamp(record, "last_heartbeat"),
        "started_at": stamp(record, "started_at"),
        "capacity": _capacity(record),
    }


def _capacity_text(capacity: dict[str, Any] | None) -> str:
    if capacity is None:
        return ""
    if "master_target" in capacity:
        mt = capacity["master_target"]
        disks = "?" if mt["attached_disks"] is None else mt["attached_disks"]
        text = f"disks {disks}/{mt['disk_limit']}"
        free = sum(volume["free_bytes"] for volume in mt["retention_volumes"])
        return text + (f", retention free {human_bytes(free)}" if mt["retention_volumes"] else "")
    ps = capacity["process_server"]
    parts = []
    if ps["backlog_bytes"] is not None:
        parts.append(f"backlog {human_bytes(ps['backlog_bytes'])}")
    if ps["throughput_bytes_per_second"] is not None:
        parts.append(f"{human_bytes(ps['throughput_bytes_per_second'])}/s")
    return ", ".join(parts)


def list_servers(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    response = call(
        config,
        lambda channel: agents_pb2_grpc.ServersStub(channel).ListServers(
            agents_pb2.ListServersRequest(), timeout=RPC_TIMEOUT
        ),
    )
    documents = [server_document(record) for record in response.servers]
    rows = [
        [
            d["name"],
            d["role"],
            d["health"],
            d["version"],
            d["last_heartbeat"],
            _capacity_text(d["capacity"]),
            "; ".join(d["problems"]),
        ]
        for d in documents
    ]
    emit(args, {"controller_version": response.controller_version, "agents": documents}, _COLUMNS, rows)
    return 0
