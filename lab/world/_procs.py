"""The lab's processes: started detached (their own session, output to a log), ready when they say so, stopped by
the pid recorded in ``lab.json`` - and only if that pid is still the process the lab started.

Readiness is sd_notify's: each process gets a ``NOTIFY_SOCKET`` of its own while it starts and sends ``READY=1``
with a ``STATUS=`` line naming its bound addresses (``serving on HOST:PORT``), as under systemd. A pid is checked
against the start time the kernel recorded for it (``/proc/<pid>/stat`` field 22), so a recycled pid is never
signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lab
from failback.errors import DeadlineExceeded
from failback.retry import Policy
from lab.world._layout import Layout
from lab.world.errors import LabStartError

__all__ = ["Proc", "Starting", "alive", "python_env", "start", "stop"]

_STOP_WAIT = Policy(deadline=30.0, initial=0.05, maximum=0.5)
_KILL_WAIT = Policy(deadline=10.0, initial=0.05, maximum=0.5)
REPO_ROOT = Path(lab.__file__).resolve().parents[1]


def python_env(**extra: str) -> dict[str, str]:
    """The environment for ``python -m agent|controller|lab.world``: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("NOTIFY_SOCKET", None)
    env.update(extra)
    return env


@dataclass(frozen=True)
class Proc:
    name: str
    pid: int
    started: int  # /proc/<pid>/stat starttime, in clock ticks since boot
    log: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Proc:
        return cls(str(data["name"]), int(data["pid"]), int(data["started"]), str(data["log"]))


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, starttime) of ``pid``, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def alive(proc: Proc) -> bool:
    """True while the process the lab started still runs (a zombie is reaped, and is not alive)."""
    found = _stat(proc.pid)
    if found is None or found[1] != proc.started:
        return False
    if found[0] == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(proc.pid, os.WNOHANG)
        return False
    return True


class Starting:
    """A process that has been started and has not said it is ready yet."""

    def __init__(self, proc: Proc, popen: subprocess.Popen[bytes], notify: socket.socket | None, path: Path | None):
        self.proc = proc
        self._popen = popen
        self._notify = notify
        self._path = path

    def wait_ready(self, timeout: float) -> str:
        """Wait for ``READY=1``; returns its STATUS. A process that exits first is a LabStartError with its log."""
        assert self._notify is not None, "this process does not use sd_notify"
        deadline = time.monotonic() + timeout
        status = ""
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LabStartError(
                        f"{self.proc.name} did not become ready within {timeout:g} s: {self.log_tail()}",
                        remedy=f"read {self.proc.log}",
                    )
                self._notify.settimeout(min(remaining, 0.2))
                try:
                    data = self._notify.recv(65536)
                except TimeoutError:
                    if self._popen.poll() is not None:
                        raise LabStartError(
                            f"{self.proc.name} exited with status {self._popen.returncode} before it was ready: "
                            f"{self.log_tail()}",
                            remedy=f"read {self.proc.log}",
                        ) from None
                    continue
                message = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
                status = message.get("STATUS", status)
                if message.get("READY") == "1":
                    return status
        finally:
            self.close()

    def wait_for_file_line(self, path: Path, policy: Policy) -> str:
        """For a process that prints one line once it serves (the simulator): wait for that line in ``path``."""

        def line() -> str | None:
            if self._popen.poll() is not None:
                raise LabStartError(
                    f"{self.proc.name} exited with status {self._popen.returncode} before serving: {self.log_tail()}",
                    remedy=f"read {self.proc.log}",
                )
            text = path.read_text() if path.exists() else ""
            return text.split("\n", 1)[0].strip() if "\n" in text else None

        try:
            return policy.wait_for(line, what=f"{self.proc.name} to serve")
        except DeadlineExceeded as exc:
            raise LabStartError(f"{self.proc.name} did not serve: {self.log_tail()}") from exc

    def log_tail(self) -> str:
        try:
            return Path(self.proc.log).read_text(errors="replace").strip()[-2000:] or "(empty log)"
        except OSError:
            return "(no log)"

    def close(self) -> None:
        if self._notify is not None:
            self._notify.close()
            self._notify = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None


def start(
    layout: Layout,
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    notify: bool = True,
    stdout: Path | None = None,
) -> Starting:
    """Start ``argv`` detached, output to ``run/<name>.log`` (stdout to ``stdout`` if given)."""
    layout.run.mkdir(parents=True, exist_ok=True)
    log_path = layout.log(name)
    sock: socket.socket | None = None
    sock_path: Path | None = None
    environment = dict(env if env is not None else python_env())
    if notify:
        sock_path = layout.run / f"{name}.notify"
        sock_path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        sock.bind(str(sock_path))
        environment["NOTIFY_SOCKET"] = str(sock_path)
    with log_path.open("ab") as log, contextlib.ExitStack() as files:
        out = files.enter_context(stdout.open("wb")) if stdout is not None else log
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=log,
                env=environment,
                start_new_session=True,
            )
        except OSError as exc:
            if sock is not None:
                sock.close()
            raise LabStartError(f"cannot start {name} ({argv[0]}): {exc}") from exc
    found = _stat(popen.pid)
    proc = Proc(name, popen.pid, found[1] if found else 0, str(log_path))
    return Starting(proc, popen, sock, sock_path)


def stop(proc: Proc) -> bool:
    """SIGTERM, wait, SIGKILL if need be. False when the process was already gone (nothing was signalled)."""
    if not alive(proc):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        _STOP_WAIT.wait_for(lambda: True if not alive(proc) else None, what=f"{proc.name} to stop")
    except DeadlineExceeded:
        print(f"lab: {proc.name} (pid {proc.pid}) ignored SIGTERM; killing it", file=sys.stderr)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        _KILL_WAIT.wait_for(lambda: True if not alive(proc) else None, what=f"{proc.name} to die")
    return True
