"""Run the simulator as a child process on 127.0.0.1 with a fresh certificate, and stop it cleanly.

The simulator keeps datastore folders under ``$TMPDIR/govcsim-*``; each run gets its own temporary directory for
them and for the certificate, removed on stop even when the process had to be killed. The password is random per run
and reaches the child through its environment, never its argv.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import selectors
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from lab.vcsim._build import build
from lab.vcsim.errors import VcsimStartError

__all__ = ["FREE_ESXI", "License", "Model", "Simulator"]


@dataclass(frozen=True)
class License:
    """The licence every host presents (the simulator's ``EvalLicense``); the default is evaluation mode."""

    key: str = "00000-00000-00000-00000-00000"
    edition: str = "eval"
    name: str = "Evaluation Mode"


# A free ESXi licence: its API is read-only, which the controller's doctor must detect.
FREE_ESXI = License(key="00000-00000-00000-00000-00001", edition="esxBasic", name="VMware vSphere 7 Hypervisor")


@dataclass(frozen=True)
class Model:
    """The inventory the simulator starts with (govmomi's ``simulator.VPX()``, or ``ESX()`` with ``esx``).

    Names follow govmomi: ``DC0``, ``DC0_C0``, ``DC0_C0_H0``, ``DC0_H0``, ``LocalDS_0``, ``DC0_C0_RP0_VM0``...
    ``vms`` is per resource pool: the VPX default has two pools (the standalone host's and the cluster's).
    """

    datacenters: int = 1
    clusters: int = 1
    hosts_per_cluster: int = 3
    standalone_hosts: int = 1
    vms: int = 2
    pools: int = 0
    datastores: int = 1
    folders: int = 0
    apps: int = 0
    pods: int = 0
    portgroups: int = 1
    nsx_portgroups: int = 0
    opaque_networks: int = 0
    autostart: bool = True
    esx: bool = False
    license: License = License()

    def argv(self) -> list[str]:
        flags = {
            "datacenters": "-dc",
            "clusters": "-cluster",
            "hosts_per_cluster": "-host",
            "standalone_hosts": "-standalone-host",
            "vms": "-vm",
            "pools": "-pool",
            "datastores": "-ds",
            "folders": "-folder",
            "apps": "-app",
            "pods": "-pod",
            "portgroups": "-pg",
            "nsx_portgroups": "-pg-nsx",
            "opaque_networks": "-nsx",
        }
        argv: list[str] = []
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in flags:
                if value < 0:
                    raise ValueError(f"Model.{field.name} must not be negative, got {value}")
                argv.append(f"{flags[field.name]}={value}")
        argv += [f"-autostart={str(self.autostart).lower()}", f"-esx={str(self.esx).lower()}"]
        argv += [
            f"-license-key={self.license.key}",
            f"-license-edition={self.license.edition}",
            f"-license-name={self.license.name}",
        ]
        return argv


class Simulator:
    """A running simulator: ``with Simulator(Model(vms=5)) as sim: connect(sim.host, sim.port, ...)``."""

    def __init__(
        self,
        model: Model | None = None,
        *,
        binary: Path | None = None,
        username: str = "failback",
        start_timeout: float = 300.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.model = model or Model()
        self.username = username
        self.password = secrets.token_urlsafe(18)
        self._binary = binary
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._url: str | None = None

    def __repr__(self) -> str:
        return f"Simulator(url={self._url!r}, username={self.username!r})"

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the simulator is not running; use it as a context manager")
        return self._url

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        assert port is not None, "the simulator always prints its port"
        return port

    @property
    def ca_file(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("the simulator is not running; use it as a context manager")
        return self._workdir / "vcsim.pem"

    @property
    def thumbprint_sha256(self) -> str:
        """The SHA-256 fingerprint of the server certificate, as lowercase hex."""
        der = ssl.PEM_cert_to_DER_cert(self.ca_file.read_text(encoding="ascii"))
        return hashlib.sha256(der).hexdigest()

    @property
    def tmpdir(self) -> Path:
        """The simulator's ``$TMPDIR``: datastore folders live under it as ``govcsim-<dc>-<ds>-*``."""
        if self._workdir is None:
            raise RuntimeError("the simulator is not running; use it as a context manager")
        return self._workdir / "tmp"

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("the simulator is already running")
        binary = self._binary or build()
        self._workdir = Path(tempfile.mkdtemp(prefix="failback-vcsim-"))
        self.tmpdir.mkdir()
        env = {**os.environ, "TMPDIR": str(self.tmpdir), "VCSIM_PASSWORD": self.password}
        argv = [str(binary), *self.model.argv(), f"-cert-file={self.ca_file}", f"-username={self.username}"]
        try:
            with (self._workdir / "stderr").open("wb") as stderr:
                self._process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, env=env)
            self._url = self._read_url()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM, wait up to ``stop_timeout``, then SIGKILL; remove the temporary directories either way."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=self._stop_timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self._url = None

    def _read_url(self) -> str:
        """Read the one line the simulator prints once it serves; bounded by ``start_timeout``."""
        process = self._process
        assert process is not None
        assert process.stdout is not None
        deadline = time.monotonic() + self._start_timeout
        received = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while b"\n" not in received:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(timeout=remaining):
                    raise VcsimStartError(
                        f"the simulator printed no URL within {self._start_timeout:g} s: {self._stderr_tail()}",
                        remedy="a large model takes longer to create; raise start_timeout",
                    )
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    process.wait(timeout=self._stop_timeout)
                    raise VcsimStartError(
                        f"the simulator exited with status {process.returncode} before serving: {self._stderr_tail()}"
                    )
                received += chunk
        url = received.split(b"\n", 1)[0].decode().strip()
        if not url.startswith("https://127.0.0.1:"):
            raise VcsimStartError(f"the simulator printed {url!r} instead of its https://127.0.0.1 URL")
        return url

    def _stderr_tail(self) -> str:
        assert self._workdir is not None
        try:
            text = (self._workdir / "stderr").read_text(errors="replace")
        except OSError:
            return "(no stderr)"
        return text.strip()[-2000:] or "(empty stderr)"
