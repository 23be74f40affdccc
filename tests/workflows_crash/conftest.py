"""One lab for the whole directory: real simulator, controller, agents and Azure endpoint as processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.vcsim import DEBIAN_PACKAGES, VcsimUnavailable, build
from lab.world import Layout, down, up
from tests.conftest import skip_or_fail
from tests.workflows_crash._site import Site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    try:
        build()
    except VcsimUnavailable as exc:
        skip_or_fail(f"{exc}; install with: apt-get install -y {' '.join(DEBIAN_PACKAGES)}")
    layout = Layout(Path(tmp_path_factory.mktemp("crash")) / "lab")
    up(layout)
    lab = Site(layout)
    try:
        lab.apply_plan()
        yield lab
    finally:
        lab.close()
        down(layout)
