"""``failback-agent register``: join a controller with a one-time token."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from failback.errors import ConfigError

_TOKEN_ENV = "FAILBACK_REGISTRATION_TOKEN"  # noqa: S105 - the variable name, not a token


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "register",
        help="join a controller: generate a key, send a CSR with a one-time token, store the certificate",
        description="The token is read from --token-file, $FAILBACK_REGISTRATION_TOKEN, or --token "
        "(in that order of preference: a token on the command line is visible to other local users).",
    )
    parser.add_argument("--controller", required=True, help="the controller's registration address, HOST:9441")
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token-file", type=Path, help="file holding the token ('-' for standard input)")
    token.add_argument("--token", help="the token itself (prefer --token-file)")
    parser.add_argument("--ca-fingerprint", required=True, help="the CA fingerprint printed with the token")
    parser.add_argument("--name", required=True, help="this agent's name: 1-63 of a-z, 0-9, '-'")
    parser.add_argument("--state-dir", type=Path, default=Path("/var/lib/failback-agent"))
    parser.add_argument(
        "--san",
        action="append",
        default=[],
        metavar="NAME_OR_IP",
        help="extra DNS name or IP address for this agent's certificate (repeatable)",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing registration in --state-dir")
    parser.set_defaults(handler=_register)


def _read_token(args: argparse.Namespace) -> str:
    if args.token_file is not None:
        text = sys.stdin.read() if str(args.token_file) == "-" else _read_file(args.token_file)
    elif os.environ.get(_TOKEN_ENV):
        text = os.environ[_TOKEN_ENV]
    elif args.token:
        text = args.token
    else:
        raise ConfigError(f"no token: pass --token-file FILE (or set {_TOKEN_ENV})")
    return text.strip()


def _read_file(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigError(f"--token-file {path}: {exc.strerror}") from exc


def _register(args: argparse.Namespace) -> int:
    from agent.trust import register as join

    registration = join(
        controller=args.controller,
        token=_read_token(args),
        ca_fingerprint=args.ca_fingerprint,
        name=args.name,
        state_dir=args.state_dir,
        extra_names=tuple(args.san),
        force=args.force,
    )
    print(
        f"registered as {registration.identity} with controller {registration.controller_name} "
        f"({registration.controller_address}); credentials in {args.state_dir / 'tls'}"
    )
    return 0
