"""Fixtures for the lab: a simulator with the lab's small model, and pyVmomi sessions to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.vcsim import DEBIAN_PACKAGES, Model, Simulator, VcsimUnavailable, build
from lab.world import LAB_MODEL
from lab.world._vsphere import connect
from tests.conftest import skip_or_fail


@pytest.fixture(scope="session")
def vcsim_binary() -> Path:
    try:
        return build()
    except VcsimUnavailable as exc:
        skip_or_fail(f"{exc}; install with: apt-get install -y {' '.join(DEBIAN_PACKAGES)}")
        raise  # unreachable: skip_or_fail always raises


@pytest.fixture
def simulator(vcsim_binary: Path) -> Iterator[Simulator]:
    model: Model = LAB_MODEL
    with Simulator(model, binary=vcsim_binary) as sim:
        yield sim


def session(sim: Simulator) -> Any:
    return connect(sim.host, sim.port, sim.username, sim.password, sim.ca_file)
