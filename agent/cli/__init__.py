"""The ``failback-agent`` command line.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its parser and sets
``handler`` (a callable taking the parsed namespace and returning an exit code). Exit codes: 0 ok, 1 failed, 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from failback import __version__
from failback.errors import FailbackError

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
    args = _build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except FailbackError as exc:
        print(f"failback-agent: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (head, grep -q) went away: that is not an error of ours. Silence the flush at exit too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
