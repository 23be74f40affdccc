"""Helpers for tests that run a real controller with the test job types: configuration, restarts, submitting."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from controller.jobs import JobRegistry, Jobs
from controller.store import Database, JobRecord, JobStore
from failback.retry import Policy
from tests.controller_cli import jobtypes
from tests.harness import ControllerProcess, Service

FAST = (
    '\n[agents]\nheartbeat_interval = "1s"\nstale_after = "4s"\n'
    '\n[jobs]\npoll_interval = "200ms"\nlease = "30s"\nplugins = ["tests.controller_cli.jobtypes"]\n'
)
_FINISH = Policy(deadline=120.0, initial=0.05, maximum=0.5)


def restart(controller: ControllerProcess, run: str, *, env: dict[str, str] | None = None) -> ControllerProcess:
    """Start the controller again on the same configuration and state (after a stop or a SIGKILL)."""
    service = Service.start(
        "controller",
        "controller",
        ["serve", "--config", str(controller.config)],
        controller.directory / run,
        **(env or {}),
    )
    service.wait_ready()
    restarted = ControllerProcess(controller.directory, controller.config, controller.ctl_config, service)
    text = restarted.ctl_config.read_text()
    restarted.ctl_config.write_text(re.sub(r'controller = ".*"', f'controller = "{restarted.api}"', text))
    return restarted


def kill(controller: ControllerProcess) -> None:
    controller.service.process.send_signal(signal.SIGKILL)
    controller.service.process.wait(30)
    controller.service.notify.close()


@contextmanager
def jobs_of(controller: ControllerProcess) -> Iterator[Jobs]:
    """Submit and read jobs through the controller's database, as another replica would."""
    database = Database.open(controller.database_url, migrate=False)
    try:
        yield Jobs(JobStore(database), JobRegistry(jobtypes.job_types()))
    finally:
        database.close()


def wait_finished(jobs: Jobs, job_id: int) -> JobRecord:
    return _FINISH.wait_for(lambda: job if (job := jobs.get(job_id)).finished else None, what=f"job {job_id}")


def wait_for_file(path: Path, deadline: float = 60.0) -> None:
    Policy(deadline=deadline, initial=0.02, maximum=0.2).wait_for(
        lambda: True if path.exists() else None, what=str(path)
    )


def ctl_json(controller: ControllerProcess, *args: str) -> Any:
    result = controller.ctl(*args, "--output", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def start_replica(directory: Path, database_url: str, *, seed: ControllerProcess | None = None) -> ControllerProcess:
    """A controller on a shared database. The first replica creates the CA and credential key; later ones get a
    copy (``seed``), as an operator installing a second replica would."""
    import shutil

    from tests.harness import run_cli

    state = directory / "state"
    state.mkdir(parents=True, mode=0o700)
    if seed is not None:
        shutil.copytree(seed.state_dir / "ca", state / "ca")
        shutil.copy2(seed.state_dir / "secrets.key", state / "secrets.key")
    config = directory / "controller.toml"
    config.write_text(
        f'[controller]\nstate_dir = "{state}"\ndatabase_url = "{database_url}"\n\n'
        '[server]\nlisten = "127.0.0.1:0"\nregistration_listen = "127.0.0.1:0"\ndrain_seconds = 5\n\n'
        '[metrics]\nlisten = "127.0.0.1:0"\n' + FAST.replace('lease = "30s"', 'lease = "2s"')
    )
    result = run_cli("controller", "init", "--config", str(config), "--operator-dir", str(directory / "operator-home"))
    assert result.returncode == 0, result.stderr
    service = Service.start("controller", "controller", ["serve", "--config", str(config)], directory / "run")
    service.wait_ready()
    return ControllerProcess(directory, config, directory / "operator-home" / "failbackctl.toml", service)
