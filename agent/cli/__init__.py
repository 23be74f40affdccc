"""The ``failback-agent`` command line.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its parser and sets
``handler`` (a callable taking the parsed namespace and returning an exit code). Exit codes: 0 ok, 1 failed, 2 usage.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from failback import __version__
from failback.cli import run_handler

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    # Imported here so that `failback-agent --help` does not pay for every subcommand's dependencies at import time.
    from agent.cli import _commands

    parser = argparse.ArgumentParser(prog="failback-agent", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"failback-agent {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _commands.REGISTRY:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_handler("failback-agent", _build_parser().parse_args(argv))
