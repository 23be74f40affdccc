"""The shipped units pass systemd-analyze verify and keep the properties the services rely on."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

UNITS = Path(__file__).resolve().parents[2] / "systemd"


def _directives(unit: Path) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    section = None
    for line in unit.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values.setdefault(f"{section}.{key}", []).append(value)
    return values


@pytest.mark.parametrize("name", ["failback-agent.service", "failback-controller.service"])
def test_unit_passes_systemd_analyze_verify(name: str, tmp_path: Path):
    if shutil.which("systemd-analyze") is None:
        skip_or_fail("systemd-analyze is missing: apt-get install systemd")
    # verify insists that ExecStart exists; point it at a stand-in of the installed console script.
    program = tmp_path / name.removesuffix(".service")
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    text = (UNITS / name).read_text().replace(f"/usr/local/bin/{program.name}", str(program))
    unit = tmp_path / name
    unit.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    problems = [line for line in result.stderr.splitlines() if name in line or "Unknown" in line]
    assert result.returncode == 0, result.stderr
    assert not problems, result.stderr


@pytest.mark.parametrize("name", ["failback-agent.service", "failback-controller.service"])
def test_unit_is_a_notify_service_with_watchdog_and_restart(name: str):
    directives = _directives(UNITS / name)
    assert directives["Service.Type"] == ["notify"]
    assert directives["Service.Restart"] == ["on-failure"]
    assert directives["Service.WatchdogSec"]
    assert directives["Service.NoNewPrivileges"] == ["yes"]


def test_the_agent_can_still_reach_block_devices_and_sysfs():
    directives = _directives(UNITS / "failback-agent.service")
    assert "block-sd rw" in directives["Service.DeviceAllow"]
    assert "Service.PrivateDevices" not in directives
    assert "Service.ProtectKernelTunables" not in directives, "rescans write /sys/class/scsi_host/*/scan"
    assert directives["Service.ProtectSystem"] == ["full"], "retention volumes are mounted under /mnt or /srv"
