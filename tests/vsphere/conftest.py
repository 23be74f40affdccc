"""Fixtures for the vSphere adapter: one real simulator per session (127.0.0.1, random port, its own certificate),
and a fresh adapter connection per test.

Tests that use them carry the ``vcsim`` marker. Without Go and Debian's govmomi sources the build cannot run:
locally the tests skip with the install command, in CI they fail.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyVim.connect import Disconnect, SmartConnect

from controller.vsphere import Credentials, VSphere, connect
from lab.vcsim import DEBIAN_PACKAGES, Model, Simulator, VcsimUnavailable, build
from tests.conftest import skip_or_fail


@pytest.fixture(scope="session")
def vcsim_binary() -> Path:
    try:
        return build()
    except VcsimUnavailable as exc:
        skip_or_fail(f"{exc}; install with: apt-get install -y {' '.join(DEBIAN_PACKAGES)}")
        raise  # unreachable: skip_or_fail always raises


@pytest.fixture(scope="session")
def vcsim(vcsim_binary: Path) -> Iterator[Simulator]:
    """The shared simulator: DC0 with cluster DC0_C0 (3 hosts), standalone host DC0_H0, LocalDS_0, 4 model VMs."""
    with Simulator(Model(vms=2), binary=vcsim_binary) as sim:
        yield sim


@pytest.fixture
def start_simulator(vcsim_binary: Path) -> Iterator[Callable[[Model], Simulator]]:
    """Start extra simulators with their own models; all are stopped after the test."""
    started: list[Simulator] = []

    def start(model: Model) -> Simulator:
        sim = Simulator(model, binary=vcsim_binary)
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def credentials_for(sim: Simulator, **overrides: object) -> Credentials:
    fields: dict[str, object] = {
        "host": sim.host,
        "port": sim.port,
        "user": sim.username,
        "password": sim.password,
        "ca_file": sim.ca_file,
    }
    fields.update(overrides)
    return Credentials(**fields)  # type: ignore[arg-type]


@pytest.fixture
def vc(vcsim: Simulator) -> Iterator[VSphere]:
    with connect(credentials_for(vcsim)) as client:
        yield client


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names no other test in the session uses (the simulator is shared)."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def operator(vcsim: Simulator) -> Iterator[Any]:
    """A plain pyVmomi session for test setup, standing in for an operator's own tools (not the adapter)."""
    context = ssl.create_default_context(cafile=str(vcsim.ca_file))
    instance = SmartConnect(
        host=vcsim.host, port=vcsim.port, user=vcsim.username, pwd=vcsim.password, sslContext=context
    )
    try:
        yield instance.RetrieveContent()
    finally:
        Disconnect(instance)
