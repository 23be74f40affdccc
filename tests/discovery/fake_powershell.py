"""A small stand-in for Windows PowerShell, behind the CommandRunner interface.

It answers the agent's disk query from a fixture (the JSON shape QUERY_SCRIPT prints) and applies the ``Set-Disk``
lines of change scripts to that state, honouring the UniqueId guard the agent puts first; a ``throw`` becomes exit
code 1 with the message on stderr, as ``powershell.exe -EncodedCommand`` does with ErrorActionPreference=Stop.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent.discovery import CommandResult

FIXTURES = Path(__file__).parent / "fixtures" / "windows"

_GUARD = re.compile(r"\$d = Get-Disk -Number (\d+)\nif \(\$d\.UniqueId -ne '([^']*)'\)")
_SET = re.compile(r"^Set-Disk -Number (\d+) -Is(Offline|ReadOnly) \$(true|false)$", re.MULTILINE)


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


class FakePowerShell:
    def __init__(self, state: dict[str, Any], *, ignores: Sequence[str] = ()) -> None:
        self.state = copy.deepcopy(state)
        self.scripts: list[str] = []
        self.on_rescan: Callable[[], None] | None = None
        self.before: Callable[[str], None] | None = None
        self.ignores = set(ignores)
        """Set-Disk properties the fake pretends to apply but does not (a SAN policy or attribute that sticks)."""

    def __call__(self, argv: Sequence[str], *, timeout: float) -> CommandResult:
        assert argv[0] == "powershell.exe"
        assert argv[-2] == "-EncodedCommand"
        assert timeout > 0
        script = base64.b64decode(argv[-1]).decode("utf-16-le")
        assert script.startswith("$ErrorActionPreference = 'Stop'\n")
        self.scripts.append(script)
        if self.before is not None:
            self.before(script)
        if "ConvertTo-Json" in script and "Get-Disk |" in script:
            return CommandResult(0, json.dumps(self.state), "")
        if "Update-HostStorageCache" in script:
            if self.on_rescan is not None:
                self.on_rescan()
            return CommandResult(0, "", "")
        guard = _GUARD.search(script)
        if guard is not None:
            return self._set_disk(int(guard.group(1)), guard.group(2), script)
        return CommandResult(1, "", "FakePowerShell: a script this fake does not know")

    def disk(self, number: int) -> dict[str, Any] | None:
        return next((d for d in self.state["Disks"] if d["Number"] == number), None)

    def _set_disk(self, number: int, expected: str, script: str) -> CommandResult:
        disk = self.disk(number)
        if disk is None:
            return CommandResult(
                1, "", f"Get-Disk : No MSFT_Disk objects found with property 'Number' equal to '{number}'."
            )
        if disk["UniqueId"] != expected:
            return CommandResult(1, "", f"disk {number} is now {disk['UniqueId']}, not {expected}; rescan and retry")
        for match in _SET.finditer(script):
            target, prop, value = self.disk(int(match.group(1))), match.group(2), match.group(3) == "true"
            assert target is disk, "a script touches only the disk it guarded"
            if prop not in self.ignores:
                disk[f"Is{prop}"] = value
        return CommandResult(0, "", "")
