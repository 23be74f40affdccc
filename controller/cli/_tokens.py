"""``failbackctl token create``.

JSON: ``{"token": str, "role": str, "expires_at": RFC 3339, "ca_fingerprint": "sha256:<hex>"}``.
"""

from __future__ import annotations

import argparse
import json

import grpc

from controller.api.v1 import controller_pb2, controller_pb2_grpc
from controller.cli._client import RPC_TIMEOUT, connect, load_ctl_config, rpc_error
from failback.config import parse_duration
from failback.errors import ConfigError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = subparsers.add_parser("token", help="registration tokens for new agents")
    actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="print a single-use registration token and the CA fingerprint")
    create.add_argument("--role", required=True, choices=["master-target", "process-server"])
    create.add_argument("--ttl", default="1h", help="how long the token stays valid (1m..7d, default 1h)")
    create.add_argument("--output", "-o", choices=["text", "json"], default="text")
    create.set_defaults(handler=_create)


def _create(args: argparse.Namespace) -> int:
    try:
        ttl = parse_duration(args.ttl)
    except ValueError as exc:
        raise ConfigError(f"--ttl: {exc}") from exc
    config = load_ctl_config(args.config)
    with connect(config) as channel:
        try:
            response = controller_pb2_grpc.EnrollmentStub(channel).CreateToken(
                controller_pb2.CreateTokenRequest(role=args.role, ttl_seconds=int(ttl.total_seconds())),
                timeout=RPC_TIMEOUT,
            )
        except grpc.RpcError as exc:
            raise rpc_error(exc, config) from exc
    expires = response.expires_at.ToDatetime().isoformat() + "Z"
    if args.output == "json":
        print(
            json.dumps(
                {
                    "token": response.token,
                    "role": response.role,
                    "expires_at": expires,
                    "ca_fingerprint": response.ca_fingerprint,
                },
                indent=2,
                sort_keys=True,
            )
        )
        return 0
    print(f"token:          {response.token}")
    print(f"role:           {response.role}")
    print(f"expires:        {expires}")
    print(f"CA fingerprint: {response.ca_fingerprint}")
    print()
    print("On the agent (the token is single use; keep it out of shell history):")
    print("  printf '%s' TOKEN > /root/failback.token")
    print(
        f"  failback-agent register --controller {config.controller.rsplit(':', 1)[0]}:9441 "
        f"--token-file /root/failback.token --ca-fingerprint {response.ca_fingerprint} --name NAME"
    )
    return 0
