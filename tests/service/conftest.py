from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import ControllerProcess, start_controller


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerProcess]:
    process = start_controller(tmp_path_factory.mktemp("controller"))
    yield process
    assert process.stop() == 0, process.service.log()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path
