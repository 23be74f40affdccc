"""A real controller (a process, SQLite, mutual TLS) loaded with the test job types and fast heartbeats; plus the
vSphere simulator and the local Azure endpoint from the controller tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.jobs import Jobs
from tests.controller.conftest import local_azure, vcsim, vcsim_binary
from tests.controller_cli._procs import FAST, jobs_of
from tests.harness import ControllerProcess, start_controller

__all__ = ["controller", "jobs", "local_azure", "vcsim", "vcsim_binary", "work"]


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerProcess]:
    process = start_controller(tmp_path_factory.mktemp("controller"), extra=FAST)
    yield process
    assert process.stop() == 0, process.service.log()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def jobs(controller: ControllerProcess) -> Iterator[Jobs]:
    """The controller's jobs, submitted and read through its database (as another replica would)."""
    with jobs_of(controller) as found:
        yield found
