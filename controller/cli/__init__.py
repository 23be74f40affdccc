"""``failbackctl``: the operator's command line, talking to the controller over mutual TLS.

Exit codes: 0 ok, 1 failed, 2 usage. Errors go to stderr with the remedy. Every listing takes
``--output table|json``; the JSON shapes are documented in each command module and kept stable.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from failback import __version__
from failback.errors import FailbackError

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

    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except UsageError as exc:
        print(f"failbackctl: error: {exc}", file=sys.stderr)
        return 2
    except FailbackError as exc:
        print(f"failbackctl: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (head, grep -q) went away: that is not an error of ours. Silence the flush at exit too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
