"""``failback-agent health``: ask the running agent, over mutual TLS with its own certificate, whether it serves."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

_TIMEOUT = 5.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("health", help="probe the running agent's grpc.health.v1 over mutual TLS")
    parser.add_argument("--config", type=Path, default=Path("/etc/failback/agent.toml"))
    parser.add_argument("--service", default="", help="a service name; default: the agent as a whole")
    parser.add_argument("--address", help="HOST:PORT to probe; default: the configured listen address")
    parser.add_argument("--output", choices=["text", "json"], default="text")
    parser.set_defaults(handler=_health)


def _health(args: argparse.Namespace) -> int:
    from agent.server import load_config
    from agent.trust import Registration
    from failback.serving import load_tls_identity, secure_channel

    config = load_config(args.config)
    registration = Registration.load(config.state_dir)
    tls = load_tls_identity(config.state_dir / "tls", remedy="register the agent first")
    address = args.address or str(config.listen.local())
    with secure_channel(address, tls, registration.identity) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=_TIMEOUT
            )
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        except grpc.RpcError as exc:
            status, detail = "UNREACHABLE", f"{exc.code().name}: {exc.details()}"
        else:
            detail = ""
    if args.output == "json":
        print(json.dumps({"agent": str(registration.identity), "address": address, "status": status, "detail": detail}))
    else:
        print(f"{registration.identity} at {address}: {status}" + (f" ({detail})" if detail else ""))
    return 0 if status == "SERVING" else 1
