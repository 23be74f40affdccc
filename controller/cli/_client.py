"""Connecting to the controller as an operator, and turning gRPC failures into errors with remedies."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc

from failback.config import Table, load_toml, parse_address
from failback.errors import ConfigError, FailbackError, PermanentError, TemporaryError
from failback.identity import Identity, Role
from failback.serving import TlsIdentity, load_tls_identity, secure_channel

__all__ = ["CtlConfig", "UsageError", "call", "connect", "load_ctl_config", "rpc_error"]

RPC_TIMEOUT = 30.0

T = TypeVar("T")


class UsageError(ConfigError):
    """The command line is incomplete in a way argparse cannot see (a secret with no way to read it): exit 2."""


@dataclass(frozen=True)
class CtlConfig:
    source: Path
    controller: str
    controller_name: str
    credentials: Path


def default_config_path() -> Path:
    env = os.environ.get("FAILBACKCTL_CONFIG")
    return Path(env) if env else Path.home() / ".config" / "failback" / "failbackctl.toml"


def load_ctl_config(path: Path | None) -> CtlConfig:
    path = path or default_config_path()
    if not path.exists():
        raise ConfigError(
            f"{path} does not exist",
            remedy="run 'failback-controller init' on the controller (it writes this file), or pass --config",
        )
    with Table(str(path), load_toml(path)) as table:
        controller = table.string("controller")
        try:
            parse_address(controller, allow_zero_port=False)
        except ValueError as exc:
            raise table.error("controller", str(exc)) from exc
        name = table.string("controller_name", "controller")
        credentials = table.path("credentials", path.parent / "operator")
    return CtlConfig(path, controller, name, credentials)


@contextmanager
def connect(config: CtlConfig) -> Iterator[grpc.Channel]:
    tls: TlsIdentity = load_tls_identity(
        config.credentials, remedy="create an operator credential with 'failback-controller init'"
    )
    with secure_channel(config.controller, tls, Identity(Role.CONTROLLER, config.controller_name)) as channel:
        yield channel


def rpc_error(exc: grpc.RpcError, config: CtlConfig) -> FailbackError:
    code = exc.code()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return TemporaryError(
            f"the controller at {config.controller} did not answer ({exc.details()})",
            remedy="check that failback-controller is running and reachable",
        )
    return PermanentError(exc.details() or code.name)


def call(config: CtlConfig, rpc: Callable[[grpc.Channel], T]) -> T:
    """Run ``rpc`` on a fresh operator channel; gRPC failures become errors with remedies."""
    with connect(config) as channel:
        try:
            return rpc(channel)
        except grpc.RpcError as exc:
            raise rpc_error(exc, config) from exc
