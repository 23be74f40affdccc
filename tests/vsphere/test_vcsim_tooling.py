"""The simulator as lab tooling: fixes applied to a private copy or a loud failure, a cached build, and a process
that starts on loopback and leaves nothing behind."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lab.vcsim import (
    FIXES,
    Edit,
    Fix,
    Model,
    Simulator,
    VcsimBuildError,
    VcsimStartError,
    VcsimUnavailable,
    apply_fixes,
    build,
)
from lab.vcsim._build import DEBIAN_GOCODE
from tests.conftest import skip_or_fail

GOVMOMI = DEBIAN_GOCODE / "src/github.com/vmware/govmomi"


def test_every_fix_applies_to_the_installed_govmomi_sources(tmp_path: Path) -> None:
    if not (GOVMOMI / "simulator").is_dir():
        skip_or_fail(f"govmomi sources missing in {GOVMOMI}; apt-get install -y golang-github-vmware-govmomi-dev")
    copy = tmp_path / "govmomi"
    shutil.copytree(GOVMOMI / "simulator", copy / "simulator")
    apply_fixes(copy)
    for fix in FIXES:
        text = (copy / fix.file).read_text()
        for edit in fix.edits:
            assert edit.replacement in text, f"fix {fix.number} missing from {fix.file}"
    assert {fix.number for fix in FIXES} == {1, 2, 3, 4, 5, 6, 7}


def test_a_drifted_source_fails_naming_file_and_anchor_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.go").write_text("func a() { old() }\n")
    (tmp_path / "b.go").write_text("func b() { changed upstream }\n")
    fixes = (
        Fix(1, "a.go", "first", (Edit("old()", "new()"),)),
        Fix(2, "b.go", "second", (Edit("original()", "fixed()"),)),
    )
    with pytest.raises(VcsimBuildError) as caught:
        apply_fixes(tmp_path, fixes)
    assert "b.go" in str(caught.value)
    assert "original()" in str(caught.value)
    assert (tmp_path / "a.go").read_text() == "func a() { old() }\n"


def test_an_anchor_found_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.go").write_text("x()\nx()\n")
    with pytest.raises(VcsimBuildError, match="occurs 2 times"):
        apply_fixes(tmp_path, (Fix(1, "a.go", "why", (Edit("x()", "y()"),)),))


def test_a_missing_source_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VcsimBuildError, match="does not exist"):
        apply_fixes(tmp_path, (Fix(1, "gone.go", "why", (Edit("x", "y"),)),))


def test_without_go_the_build_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(VcsimUnavailable, match="apt-get install -y golang-go golang-github-vmware-govmomi-dev"):
        build(cache=tmp_path, go="no-such-go-binary")


@pytest.mark.vcsim
def test_a_second_build_returns_the_cached_binary(vcsim_binary: Path) -> None:
    before = vcsim_binary.stat().st_mtime_ns
    assert build(cache=vcsim_binary.parents[2]) == vcsim_binary
    assert vcsim_binary.stat().st_mtime_ns == before
    assert os.access(vcsim_binary, os.X_OK)


@pytest.mark.vcsim
def test_a_stopped_simulator_leaves_no_process_or_files(vcsim_binary: Path) -> None:
    sim = Simulator(Model(vms=1), binary=vcsim_binary)
    with sim:
        workdir = sim.ca_file.parent
        assert sim.url.startswith("https://127.0.0.1:")
        assert list(sim.tmpdir.glob("govcsim-*"))
        process = sim._process
        assert process is not None
    assert process.returncode == 0  # it handled SIGTERM and exited on its own
    assert not workdir.exists()


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_a_simulator_that_exits_at_start_reports_its_stderr(tmp_path: Path) -> None:
    binary = _script(tmp_path / "vcsim", 'echo "vcsim: bad flag" >&2\nexit 2\n')
    with pytest.raises(VcsimStartError, match="bad flag"):
        Simulator(binary=binary).start()


def test_a_simulator_that_never_prints_its_url_is_stopped_after_the_start_timeout(tmp_path: Path) -> None:
    binary = _script(tmp_path / "vcsim", "exec sleep 60\n")
    sim = Simulator(binary=binary, start_timeout=0.5, stop_timeout=5)
    with pytest.raises(VcsimStartError, match="no URL"):
        sim.start()
    assert sim._process is None
