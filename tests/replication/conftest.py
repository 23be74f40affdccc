from collections.abc import Iterator
from pathlib import Path

import pytest

from failback.serving import TlsIdentity
from tests.harness import ControllerProcess, start_controller
from tests.replication.support import Lab, start_lab


@pytest.fixture(scope="package")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerProcess]:
    process = start_controller(tmp_path_factory.mktemp("controller"))
    yield process
    assert process.stop() == 0, process.service.log()


@pytest.fixture(scope="module")
def lab(
    controller: ControllerProcess, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Lab]:
    suffix = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")[:40]
    running = start_lab(controller, tmp_path_factory.mktemp("lab"), mt=f"mt-{suffix}", ps=f"ps-{suffix}")
    yield running
    assert running.ps.stop() == 0, running.ps.service.log()
    assert running.mt.stop() == 0, running.mt.service.log()


@pytest.fixture(scope="module")
def sender_tls(lab: Lab) -> TlsIdentity:
    """A registered process server with no agent running: the test itself sends as it."""
    return lab.process_server_tls(f"{lab.ps.name}-x")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path
