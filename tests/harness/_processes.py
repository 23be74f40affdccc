from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from failback.config import Address, parse_address
from failback.identity import Identity, Role
from failback.serving import TlsIdentity, load_tls_identity

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env.pop("NOTIFY_SOCKET", None)
    env.update(extra)
    return env


def run_cli(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m <module> args`` to completion (``agent``, ``controller`` or ``controller.cli``)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        check=False,
    )


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "notify.sock"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self.messages: list[dict[str, str]] = []

    def wait_for(self, key: str, timeout: float) -> dict[str, str]:
        """Receive until a message carrying ``key`` arrives; returns that message's fields."""
        deadline = time.monotonic() + timeout
        for message in self.messages:
            if key in message:
                return message
        while time.monotonic() < deadline:
            self._sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                break
            message = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append(message)
            if key in message:
                return message
        raise TimeoutError(f"no {key} from the service within {timeout} s; got {self.messages}")

    def close(self) -> None:
        self._sock.close()


@dataclass
class Service:
    """A service process started with its own notify socket."""

    name: str
    process: subprocess.Popen[str]
    notify: NotifySocket
    log_path: Path
    status: str = ""

    @classmethod
    def start(cls, name: str, module: str, args: list[str], directory: Path, **env: str) -> Service:
        directory.mkdir(parents=True, exist_ok=True)
        notify = NotifySocket(directory)
        log_path = directory / f"{name}.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=_env(NOTIFY_SOCKET=str(notify.path), **env),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        log.close()
        return cls(name, process, notify, log_path)

    def wait_ready(self, timeout: float = 30) -> str:
        try:
            message = self.notify.wait_for("READY", timeout)
        except TimeoutError:
            raise RuntimeError(f"{self.name} did not become ready; exit={self.process.poll()}\n{self.log()}") from None
        self.status = message.get("STATUS", "")
        return self.status

    def address(self, label: str) -> Address:
        match = re.search(rf"{label} (\S+)", self.status)
        assert match, f"no '{label}' address in status {self.status!r}"
        return parse_address(match.group(1)).local()

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            self.notify.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.notify.close()


@dataclass
class ControllerProcess:
    directory: Path
    config: Path
    ctl_config: Path
    service: Service
    api: Address = field(init=False)
    registration: Address = field(init=False)

    def __post_init__(self) -> None:
        self.api = self.service.address("serving on")
        self.registration = self.service.address("registration")

    @property
    def state_dir(self) -> Path:
        return self.directory / "state"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.state_dir / 'controller.db'}"

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run_cli("controller.cli", "--config", str(self.ctl_config), *args, timeout=timeout)

    def token(self, role: str, ttl: str = "10m") -> tuple[str, str]:
        result = self.ctl("token", "create", "--role", role, "--ttl", ttl, "--output", "json")
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        return document["token"], document["ca_fingerprint"]

    def own_tls(self) -> TlsIdentity:
        """The controller's own identity: tests use it to call agents as the controller does."""
        return load_tls_identity(self.state_dir / "tls", remedy="")

    def operator_tls(self) -> TlsIdentity:
        return load_tls_identity(self.ctl_config.parent / "operator", remedy="")

    def stop(self) -> int:
        return self.service.stop()


def start_controller(directory: Path, *, agent_lifetime: str = "7d", extra: str = "") -> ControllerProcess:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "controller.toml"
    config.write_text(
        f'[controller]\nstate_dir = "{directory / "state"}"\n\n'
        '[server]\nlisten = "127.0.0.1:0"\nregistration_listen = "127.0.0.1:0"\ndrain_seconds = 5\n\n'
        '[metrics]\nlisten = "127.0.0.1:0"\n\n'
        f'[certificates]\nagent_lifetime = "{agent_lifetime}"\n{extra}'
    )
    operator_dir = directory / "operator-home"
    result = run_cli("controller", "init", "--config", str(config), "--operator-dir", str(operator_dir))
    assert result.returncode == 0, result.stderr
    service = Service.start("controller", "controller", ["serve", "--config", str(config)], directory)
    service.wait_ready()
    process = ControllerProcess(directory, config, operator_dir / "failbackctl.toml", service)
    # init could not know the port (0 in the config): point failbackctl at the bound one.
    text = process.ctl_config.read_text()
    process.ctl_config.write_text(re.sub(r'controller = ".*"', f'controller = "{process.api}"', text))
    return process


def register_agent(controller: ControllerProcess, directory: Path, name: str, role: Role) -> Path:
    """Register ``name`` with a fresh token; returns the agent's state directory."""
    token, fingerprint = controller.token(role.value)
    state_dir = directory / name
    token_file = directory / f"{name}.token"
    token_file.write_text(token)
    result = run_cli(
        "agent",
        "register",
        "--controller",
        str(controller.registration),
        "--token-file",
        str(token_file),
        "--ca-fingerprint",
        fingerprint,
        "--name",
        name,
        "--state-dir",
        str(state_dir),
    )
    assert result.returncode == 0, result.stderr
    # Registration records the controller's configured API port; the test controller listens on an ephemeral one.
    record = json.loads((state_dir / "registration.json").read_text())
    assert record["controller_address"] == str(controller.api)
    return state_dir


@dataclass
class AgentProcess:
    name: str
    role: Role
    state_dir: Path
    config: Path
    service: Service

    @property
    def address(self) -> Address:
        return self.service.address("serving on")

    @property
    def metrics(self) -> Address:
        return self.service.address("metrics")

    @property
    def identity(self) -> Identity:
        return Identity(self.role, self.name)

    def tls(self) -> TlsIdentity:
        return load_tls_identity(self.state_dir / "tls", remedy="")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        return self.service.stop(sig)


def start_agent(
    controller: ControllerProcess,
    directory: Path,
    name: str,
    role: Role,
    *,
    check_interval: str = "5m",
    extra: str = "",
    wait: bool = True,
    env: dict[str, str] | None = None,
) -> AgentProcess:
    state_dir = register_agent(controller, directory, name, role)
    config = directory / f"{name}.toml"
    config.write_text(
        f'[agent]\nstate_dir = "{state_dir}"\n\n[server]\nlisten = "127.0.0.1:0"\ndrain_seconds = 5\n\n'
        f'[metrics]\nlisten = "127.0.0.1:0"\n\n[certificates]\ncheck_interval = "{check_interval}"\n{extra}'
    )
    service = Service.start(name, "agent", ["serve", "--config", str(config)], directory / f"{name}-run", **(env or {}))
    if wait:
        service.wait_ready()
    return AgentProcess(name, role, state_dir, config, service)
