"""``failbackctl health``: the controller's grpc.health.v1 status over mutual TLS.

JSON: ``{"controller": "HOST:PORT", "services": {"": "SERVING", "failback.controller.v1.Enrollment": ...}}``.
"""

from __future__ import annotations

import argparse

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controller.cli._client import RPC_TIMEOUT, connect, load_ctl_config, rpc_error
from controller.cli._output import add_output_argument, emit

_SERVICES = [
    "",
    "failback.controller.v1.Certificates",
    "failback.controller.v1.Enrollment",
    "failback.controller.v1.AgentStatus",
    "failback.controller.v1.Jobs",
    "failback.controller.v1.Sources",
]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    health = subparsers.add_parser("health", help="is the controller serving?")
    add_output_argument(health)
    health.set_defaults(handler=_health)


def _health(args: argparse.Namespace) -> int:
    config = load_ctl_config(args.config)
    statuses: dict[str, str] = {}
    with connect(config) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in _SERVICES:
            try:
                response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT)
            except grpc.RpcError as exc:
                raise rpc_error(exc, config) from exc
            statuses[service] = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    emit(
        args,
        {"controller": config.controller, "services": statuses},
        ["SERVICE", "STATUS"],
        [[service or "(controller)", status] for service, status in statuses.items()],
    )
    return 0 if all(status == "SERVING" for status in statuses.values()) else 1
