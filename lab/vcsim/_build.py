"""Build our vcsim binary from Debian's govmomi sources, with the fixes applied, into a cache.

Debian ships the simulator library (golang-github-vmware-govmomi-dev) but no vcsim command and Go modules cannot be
downloaded here, so the build runs in GOPATH mode over a private copy of the whole govmomi tree (a partial copy hides
the root package). The binary is cached under a key made of main.go, the fixes, the build flags and the Go/govmomi
package versions, so a change to any of them rebuilds and nothing else does. Concurrent builders serialise on a lock
file.

This module never modifies the system's sources; everything it writes lives under the cache directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from failback.retry import Policy
from lab.vcsim._fixes import FIXES, apply_fixes
from lab.vcsim.errors import VcsimBuildError, VcsimUnavailable

__all__ = ["DEBIAN_GOCODE", "DEBIAN_PACKAGES", "build", "cache_dir"]

DEBIAN_GOCODE = Path("/usr/share/gocode")
DEBIAN_PACKAGES = ("golang-go", "golang-github-vmware-govmomi-dev")
_GOVMOMI = Path("src/github.com/vmware/govmomi")
_MAIN_GO = Path(__file__).with_name("main.go")
_INSTALL = "apt-get install -y " + " ".join(DEBIAN_PACKAGES)
_BUILD_TIMEOUT = 900.0
_GO_BUILD = ("build", "-trimpath", "-ldflags=-s -w")
# GOPATH mode; a static binary (no cgo) needs no C compiler on the CI image.
_GO_ENV = {"GO111MODULE": "off", "GOFLAGS": "", "CGO_ENABLED": "0"}
_LOCK_WAIT = Policy(deadline=_BUILD_TIMEOUT + 60, initial=0.2, maximum=2.0)


def cache_dir() -> Path:
    """``$FAILBACK_CACHE_DIR``, else ``~/.cache/failback``."""
    configured = os.environ.get("FAILBACK_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "failback"


def build(*, cache: Path | None = None, gocode: Path = DEBIAN_GOCODE, go: str = "go") -> Path:
    """Return the path of a built simulator, building it first if this key has no binary yet."""
    go_path = shutil.which(go)
    govmomi = gocode / _GOVMOMI
    if go_path is None or not (govmomi / "simulator" / "model.go").is_file():
        raise VcsimUnavailable(
            f"the vSphere simulator needs Go and govmomi's sources in {govmomi}",
            remedy=f"install them as root: {_INSTALL}",
        )
    root = (cache or cache_dir()) / "vcsim"
    key = _cache_key(go_path)
    binary = root / key / "vcsim"
    if binary.is_file():
        return binary
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f"{key}.lock"):
        if binary.is_file():  # another process built it while we waited for the lock
            return binary
        _compile(go_path, govmomi, gocode, root, binary)
    return binary


def _cache_key(go_path: str) -> str:
    digest = hashlib.sha256()
    digest.update(_MAIN_GO.read_bytes())
    digest.update(repr((FIXES, _GO_BUILD, _GO_ENV)).encode())
    digest.update(_run([go_path, "version"], what="go version").encode())
    digest.update(_package_versions().encode())
    return digest.hexdigest()[:16]


def _package_versions() -> str:
    try:
        return _run(["dpkg-query", "-W", "-f=${Package} ${Version}\n", *DEBIAN_PACKAGES], what="dpkg-query")
    except VcsimBuildError as exc:
        raise VcsimUnavailable(
            "cannot read the versions of the Debian Go and govmomi packages", remedy=_INSTALL
        ) from exc


def _compile(go_path: str, govmomi: Path, gocode: Path, root: Path, binary: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="build-", dir=root) as scratch:
        gopath = Path(scratch) / "gopath"
        private = gopath / _GOVMOMI
        shutil.copytree(govmomi, private, symlinks=True)
        apply_fixes(private)
        command = gopath / "src" / "failback-vcsim"
        command.mkdir(parents=True)
        shutil.copy2(_MAIN_GO, command / "main.go")
        output = Path(scratch) / "vcsim"
        env = {
            **os.environ,
            **_GO_ENV,
            "GOPATH": f"{gopath}:{gocode}",
            "GOCACHE": str(root / "go-build"),  # shared across keys: a new main.go recompiles only itself
        }
        _run(
            [go_path, *_GO_BUILD, "-o", str(output), "."],
            what="go build of the simulator",
            cwd=command,
            env=env,
        )
        binary.parent.mkdir(parents=True, exist_ok=True)
        os.replace(output, binary)


def _run(argv: list[str], *, what: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=_BUILD_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VcsimBuildError(f"{what} could not run: {exc}") from exc
    if done.returncode != 0:
        raise VcsimBuildError(f"{what} failed with exit status {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done.stdout


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``; a waiter gives up after the longest a build may take."""
    with path.open("a") as handle:

        def try_lock() -> bool | None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            return True

        _LOCK_WAIT.wait_for(try_lock, what=f"the simulator build lock {path}")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
