"""Suite-wide rules.

Tests marked ``root`` need root (loop devices, mounts, network namespaces). Outside CI they are skipped with a reason
that says so; with ``FAILBACK_CI=1`` (set by ``.ci/run``) a missing privilege fails the test instead, so a skip can
never be counted as a pass in CI.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("FAILBACK_CI") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI, an unavailable prerequisite is a failure."""
    if in_ci():
        pytest.fail(f"CI must provide this prerequisite: {reason}")
    pytest.skip(reason)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") and os.geteuid() != 0:
        skip_or_fail("needs root (loop devices, mounts or network namespaces); run as root, as CI does")
