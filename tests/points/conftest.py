"""The lab's simulator, built once per session (as tests/lab does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.vcsim import DEBIAN_PACKAGES, VcsimUnavailable, build
from tests.conftest import skip_or_fail


@pytest.fixture(scope="session")
def vcsim_binary() -> Path:
    try:
        return build()
    except VcsimUnavailable as exc:
        skip_or_fail(f"{exc}; install with: apt-get install -y {' '.join(DEBIAN_PACKAGES)}")
        raise  # unreachable: skip_or_fail always raises
