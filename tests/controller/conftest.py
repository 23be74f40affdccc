"""Fixtures for controller tests: both store engines (from the store tests), a real vSphere simulator and a local
Azure endpoint for the refresh and import jobs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.azure import LocalAzure
from lab.vcsim import DEBIAN_PACKAGES, Model, Simulator, VcsimUnavailable, build
from tests.conftest import skip_or_fail
from tests.store.conftest import database, make_database

__all__ = ["database", "local_azure", "make_database", "vcsim"]

AZURE_TENANT = "tenant-fb"
AZURE_CLIENT = "client-fb"
AZURE_SECRET = "Az-cl1ent-s3cret-never-in-the-clear"


@pytest.fixture(scope="session")
def vcsim_binary() -> Path:
    try:
        return build()
    except VcsimUnavailable as exc:
        skip_or_fail(f"{exc}; install with: apt-get install -y {' '.join(DEBIAN_PACKAGES)}")
        raise


@pytest.fixture(scope="session")
def vcsim(vcsim_binary: Path) -> Iterator[Simulator]:
    """DC0 with cluster DC0_C0 (3 hosts), standalone host DC0_H0, LocalDS_0, and 3 VMs per host."""
    with Simulator(Model(vms=3), binary=vcsim_binary) as sim:
        yield sim


@pytest.fixture
def local_azure(tmp_path: Path) -> Iterator[LocalAzure]:
    """The demo estate behind a local HTTPS endpoint that also serves Entra ID tokens for one service principal."""
    with LocalAzure(
        tls_dir=tmp_path / "azure-tls", token="local-token", principals={(AZURE_TENANT, AZURE_CLIENT): AZURE_SECRET}
    ) as endpoint:
        yield endpoint
