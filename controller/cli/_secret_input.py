"""Reading a secret (a password, a client secret, a backup passphrase) without it ever being an argument.

Three ways, in order: ``--<name>-file FILE`` (the first line), ``--<name>-stdin`` (the first line of standard input),
or a prompt when standard input is a terminal. A value on the command line would be visible in ``ps`` and in shell
history, so there is no flag for it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from controller.cli._client import UsageError

__all__ = ["add_secret_arguments", "read_secret"]


def add_secret_arguments(parser: argparse.ArgumentParser, name: str, what: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(f"--{name}-file", type=Path, metavar="FILE", help=f"read the {what} from the first line of FILE")
    group.add_argument(f"--{name}-stdin", action="store_true", help=f"read the {what} from standard input")


def read_secret(args: argparse.Namespace, name: str, what: str, *, confirm: bool = False) -> str:
    attribute = name.replace("-", "_")
    path: Path | None = getattr(args, f"{attribute}_file")
    if path is not None:
        try:
            value = path.read_text().splitlines()[0] if path.stat().st_size else ""
        except OSError as exc:
            raise UsageError(f"--{name}-file: cannot read {path}: {exc.strerror}") from exc
    elif getattr(args, f"{attribute}_stdin"):
        value = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        value = getpass.getpass(f"{what}: ")
        if confirm and getpass.getpass(f"{what} (again): ") != value:
            raise UsageError(f"the two {what}s differ")
    else:
        raise UsageError(
            f"no {what} given", remedy=f"use --{name}-file FILE or --{name}-stdin, or run the command in a terminal"
        )
    if not value:
        raise UsageError(f"the {what} is empty")
    return value
