"""Running platform commands (PowerShell on Windows) through an injectable runner.

:class:`SubprocessRunner` runs real processes with a timeout. Tests inject a runner with the same call signature
that answers like PowerShell from fixture files, so the parsing and decision code under test is the code that runs
on Windows.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.discovery.errors import CommandFailed

__all__ = ["CommandResult", "CommandRunner", "SubprocessRunner", "powershell_argv", "run_powershell"]


@dataclass(frozen=True)
class CommandResult:
    returncode: int | None
    """None when the command was killed at its timeout."""
    stdout: str
    stderr: str


class CommandRunner(Protocol):
    def __call__(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        """Run ``argv`` (no shell) and return its result; never raise for a non-zero exit."""
        ...


class SubprocessRunner:
    """Runs commands as child processes."""

    def __call__(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        try:
            done = subprocess.run(
                list(argv),
                capture_output=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            return CommandResult(None, _text(exc.stdout), _text(exc.stderr))
        except OSError as exc:
            raise CommandFailed(argv[0], None, str(exc)) from exc
        return CommandResult(done.returncode, done.stdout, done.stderr)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


_PRELUDE = (
    "$ErrorActionPreference = 'Stop'\n"
    "$ProgressPreference = 'SilentlyContinue'\n"
    "[Console]::OutputEncoding = [System.Text.Encoding]::UTF8\n"
)


def powershell_argv(script: str) -> list[str]:
    """Windows PowerShell invocation for ``script``. -EncodedCommand (base64 of UTF-16LE) avoids every quoting rule of
    the Windows command line; the prelude makes any error terminating (exit code 1) and the output UTF-8."""
    encoded = base64.b64encode((_PRELUDE + script).encode("utf-16-le")).decode("ascii")
    return ["powershell.exe", "-NoLogo", "-NoProfile", "-NonInteractive", "-EncodedCommand", encoded]


def run_powershell(runner: CommandRunner, script: str, *, what: str, timeout: float = 120.0) -> str:
    """Run ``script`` and return its stdout; CommandFailed (with stderr) on a non-zero exit or timeout."""
    result = runner(powershell_argv(script), timeout=timeout)
    if result.returncode != 0:
        raise CommandFailed(what, result.returncode, result.stderr)
    return result.stdout
