import base64
import sys
from pathlib import Path

import pytest

from agent.discovery import CommandResult, SubprocessRunner, powershell_argv, proc_mounts, psutil_mounts
from agent.discovery._runner import run_powershell
from agent.discovery.errors import CommandFailed
from tests.discovery.fake_powershell import FakePowerShell, load

# The CommandRunner contract, for the real runner and the fake: results come back, exit codes are not exceptions.


@pytest.fixture(params=["subprocess", "fake"])
def runner_and_failing_argv(request):
    if request.param == "subprocess":
        return SubprocessRunner(), [sys.executable, "-c", "import sys; sys.stderr.write('no disks\\n'); sys.exit(3)"]
    return FakePowerShell(load("master_target.json")), powershell_argv("Get-Unknown")


def test_contract_a_failing_command_returns_its_code_and_stderr(runner_and_failing_argv):
    runner, argv = runner_and_failing_argv
    result = runner(argv, timeout=30)
    assert isinstance(result, CommandResult)
    assert result.returncode not in (0, None)
    assert result.stderr


def test_the_subprocess_runner_returns_stdout():
    result = SubprocessRunner()([sys.executable, "-c", "print('{\"Disks\": []}')"], timeout=30)
    assert (result.returncode, result.stdout.strip()) == (0, '{"Disks": []}')


def test_the_subprocess_runner_reports_a_timeout_as_no_exit_code():
    result = SubprocessRunner()(
        [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"], timeout=1
    )
    assert result.returncode is None
    assert "started" in result.stdout


def test_a_missing_program_is_a_command_failure():
    with pytest.raises(CommandFailed, match="no-such-powershell"):
        SubprocessRunner()(["no-such-powershell", "-NoProfile"], timeout=5)


def test_a_timed_out_powershell_is_reported_as_timed_out():
    def hangs(argv, *, timeout):
        return CommandResult(None, "", "")

    with pytest.raises(CommandFailed, match=r"timed out\): no error output"):
        run_powershell(hangs, "Get-Disk", what="Get-Disk")


def test_powershell_scripts_travel_base64_encoded_utf16_with_the_strict_prelude():
    argv = powershell_argv("Get-Disk | ConvertTo-Json \"quoted\" 'single'")
    assert argv[:5] == ["powershell.exe", "-NoLogo", "-NoProfile", "-NonInteractive", "-EncodedCommand"]
    script = base64.b64decode(argv[5]).decode("utf-16-le")
    assert script.startswith("$ErrorActionPreference = 'Stop'\n")
    assert script.endswith("Get-Disk | ConvertTo-Json \"quoted\" 'single'")


# The mount table contract: the file reader used for fake roots agrees with psutil on this machine.


def test_contract_proc_mounts_and_psutil_agree_on_block_device_mounts():
    physical = {(m.device, m.mountpoint) for m in psutil_mounts() if m.device.startswith("/dev/")}
    from_file = {(m.device, m.mountpoint) for m in proc_mounts(Path("/proc/self/mounts"))()}
    assert physical, "this machine mounts / from a block device"
    assert physical <= from_file


def test_mount_points_with_spaces_are_unescaped(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sdd1 /var/lib/failback\\040retention ext4 rw 0 0\n")
    assert [(m.device, m.mountpoint, m.fstype) for m in proc_mounts(mounts)()] == [
        ("/dev/sdd1", "/var/lib/failback retention", "ext4")
    ]


def test_a_missing_mount_file_means_no_mounts(tmp_path):
    assert proc_mounts(tmp_path / "absent")() == []
