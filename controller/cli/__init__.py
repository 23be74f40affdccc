"""``failbackctl``: the operator's command line, talking to the controller over mutual TLS.

Exit codes: 0 ok, 1 failed, 2 usage. Errors go to stderr with the remedy. Every listing takes
``--output table|json``; the JSON shapes are documented in each command module and kept stable.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from failback import __version__
from failback.cli import run_handler

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from controller.cli import _commands

    parser = argparse.ArgumentParser(prog="failbackctl", description="Operate failback: agents, inventory, failback.")
    parser.add_argument("--version", action="version", version=f"failbackctl {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="failbackctl.toml (default: $FAILBACKCTL_CONFIG, then ~/.config/failback/failbackctl.toml)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _commands.REGISTRY:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from controller.cli._client import UsageError

    return run_handler("failbackctl", _parser().parse_args(argv), usage_errors=(UsageError,))
