"""Start agent processes by fork from a process that already imported the agent: real processes, restarted in a
fraction of the time an exec takes, so hundreds of SIGKILL/restart cycles fit in a test run.

The zygote imports the agent's modules but never starts gRPC (no channel, no server), so forking it is safe. Each
child is ``failback-agent serve --config ...`` exactly as systemd runs it, with its output in a log file and its own
NOTIFY_SOCKET. Run as ``python -m tests.faults.zygote``; it reads one JSON request per line on stdin and answers the
child's pid on stdout. Children are reaped automatically (SIGCHLD ignored in the zygote).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.harness import NotifySocket

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    import agent.cli
    import agent.server

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setsid()
            log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.environ["NOTIFY_SOCKET"] = request["notify"]
            code = 1
            try:
                code = agent.cli.main(["serve", "--config", request["config"]])
            finally:
                os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)


@dataclass
class Child:
    pid: int
    notify: NotifySocket

    def alive(self) -> bool:
        return os.path.exists(f"/proc/{self.pid}") and _state(self.pid) != "Z"

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.notify.close()

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        self.notify.close()


class Zygote:
    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env.pop("NOTIFY_SOCKET", None)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )

    def start(self, config: Path, directory: Path, name: str) -> Child:
        directory.mkdir(parents=True, exist_ok=True)
        notify_dir = directory / f"notify-{os.urandom(4).hex()}"
        notify_dir.mkdir()
        notify = NotifySocket(notify_dir)
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        request = {"config": str(config), "notify": str(notify.path), "log": str(directory / f"{name}.log")}
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        return Child(json.loads(self._process.stdout.readline())["pid"], notify)

    def close(self) -> None:
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()
        self._process.wait(10)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):  # gone, possibly between the open and the read
        return "X"


if __name__ == "__main__":
    main()
