"""One lab for the whole directory: real simulator, controller, agents and Azure endpoint as processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.vcsim import DEBIAN_PACKAGES, VcsimUnavailable, build
from lab.world import Layout
from tests.conftest import skip_or_fail
from tests.harness import run_cli
from tests.workflows_crash._site import Site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    try:
        build()
    except VcsimUnavailable as exc:
        skip_or_fail(f"{exc}; install with: apt-get install -y {' '.join(DEBIAN_PACKAGES)}")
    layout = Layout(Path(tmp_path_factory.mktemp("crash")) / "lab")
    # Through failbackctl, as a user does: the lab's processes outlive the command, and no test process holds them.
    started = run_cli("controller.cli", "lab", "up", "--dir", str(layout.root), timeout=600)
    assert started.returncode == 0, started.stderr
    lab = Site(layout)
    try:
        lab.apply_plan()
        yield lab
    finally:
        lab.close()
        stopped = run_cli("controller.cli", "lab", "down", "--dir", str(layout.root), timeout=300)
        assert stopped.returncode == 0, stopped.stderr
