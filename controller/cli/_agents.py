"""``failbackctl agents list|revoke``.

``list`` is ``failbackctl servers``: the same output, documented in ``_servers``. ``revoke`` prints
``{"agent": {"name", "role", "state", "version", "hostname", "registered_at", "certificate_not_after"},
"certificates_revoked": int}``.
"""

from __future__ import annotations

import argparse
from typing import Any

import grpc

from controller.api.v1 import controller_pb2, controller_pb2_grpc
from controller.cli._client import RPC_TIMEOUT, connect, load_ctl_config, rpc_error
from controller.cli._output import add_output_argument, emit
from controller.cli._servers import list_servers

_COLUMNS = ["NAME", "ROLE", "STATE", "VERSION", "HOSTNAME", "CERTIFICATE EXPIRES"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agents = subparsers.add_parser("agents", help="registered agents (process servers and master targets)")
    actions = agents.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list registered agents (the same as 'failbackctl servers')")
    add_output_argument(listing)
    listing.set_defaults(handler=list_servers)
    revoke = actions.add_parser("revoke", help="revoke an agent: its certificates stop working everywhere")
    revoke.add_argument("name")
    add_output_argument(revoke)
    revoke.set_defaults(handler=_revoke)


def _record(agent: controller_pb2.AgentRecord) -> dict[str, Any]:
    def stamp(field: str) -> str | None:
        return getattr(agent, field).ToDatetime().isoformat() + "Z" if agent.HasField(field) else None

    return {
        "name": agent.name,
        "role": agent.role,
        "state": agent.state,
        "version": agent.version,
        "hostname": agent.hostname,
        "registered_at": stamp("registered_at"),
        "certificate_not_after": stamp("certificate_not_after"),
    }


def _row(record: dict[str, Any]) -> list[object]:
    return [
        record["name"],
        record["role"],
        record["state"],
        record["version"],
        record["hostname"],
        record["certificate_not_after"],
    ]


def _revoke(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    with connect(config) as channel:
        try:
            response = controller_pb2_grpc.EnrollmentStub(channel).RevokeAgent(
                controller_pb2.RevokeAgentRequest(name=args.name), timeout=RPC_TIMEOUT
            )
        except grpc.RpcError as exc:
            raise rpc_error(exc, config) from exc
    record = _record(response.agent)
    emit(args, {"agent": record, "certificates_revoked": response.certificates_revoked}, _COLUMNS, [_row(record)])
    return 0
