"""Benchmark support: a controller, a master target and a process server as real processes over real mutual TLS
(the test harness's), resource sampling of a process, and a bare gRPC mTLS sink for same-run baselines."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from failback.identity import Identity, Role  # noqa: E402
from failback.serving import TlsIdentity, load_tls_identity, secure_channel  # noqa: E402
from tests.harness import AgentProcess, ControllerProcess, start_agent, start_controller  # noqa: E402
from tests.replication.support import LAB, Lab  # noqa: E402

__all__ = ["Lab", "Sampler", "Sink", "bare_stream", "start_bench_lab"]


def start_bench_lab(directory: Path, extra: str = "") -> tuple[ControllerProcess, Lab]:
    controller = start_controller(directory / "controller")
    mt: AgentProcess = start_agent(controller, directory, "mt-bench", Role.MASTER_TARGET, extra=LAB + extra)
    ps: AgentProcess = start_agent(controller, directory, "ps-bench", Role.PROCESS_SERVER, extra=LAB + extra)
    return controller, Lab(controller, mt, ps, directory)


@dataclass
class Sampler:
    """CPU seconds of a process between start() and stop(), and its peak RSS (sampled every 50 ms)."""

    pid: int
    peak_rss: int = 0
    cpu: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sampler:
        process = psutil.Process(self.pid)
        times = process.cpu_times()
        self._cpu0 = times.user + times.system
        self.peak_rss = process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        process = psutil.Process(self.pid)
        while not self._stop.wait(0.05):
            self.peak_rss = max(self.peak_rss, process.memory_info().rss)

    def stop(self) -> Sampler:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        times = psutil.Process(self.pid).cpu_times()
        self.cpu = times.user + times.system - self._cpu0
        return self


_SINK = """
import sys, threading
sys.path.insert(0, {root!r})
from pathlib import Path
import grpc
from failback.config import Address
from failback.identity import Role
from failback.serving import AccessPolicy, GrpcServer, ServiceBinding, load_tls_identity

def drain(requests, context):
    total = 0
    for message in requests:
        total += len(message)
    return total.to_bytes(8, "little")

handler = grpc.method_handlers_generic_handler(
    "bench.Sink", {{"Drain": grpc.stream_unary_rpc_method_handler(drain)}}
)
server = GrpcServer(
    listen=Address("127.0.0.1", 0),
    tls=load_tls_identity(Path({tls!r}), remedy=""),
    services=[ServiceBinding("bench.Sink", lambda _s, srv: srv.add_generic_rpc_handlers((handler,)), None)],
    policy=AccessPolicy({{"bench.Sink": frozenset({{Role.PROCESS_SERVER}})}}),
)
server.start()
print(server.port, flush=True)
threading.Event().wait()
"""


BARE_STREAM_CPU: dict[str, float] = {}


class Sink:
    """A gRPC server in its own process, with the master target's TLS identity, that drains a client stream."""

    def __init__(self, tls_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SINK.format(root=str(ROOT), tls=str(tls_dir))],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def cpu(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def bare_stream(port: int, client: TlsIdentity, peer: Identity, total: int, message: int = 1 << 20) -> float:
    """Stream ``total`` bytes as ``message``-byte messages to the sink; returns MB/s. The CPU seconds of both ends
    are left in :data:`BARE_STREAM_CPU`."""
    payload = os.urandom(message)

    def messages() -> Iterator[bytes]:
        for _ in range(total // message):
            yield payload

    with secure_channel(f"127.0.0.1:{port}", client, peer) as channel:
        drain = channel.stream_unary("/bench.Sink/Drain", request_serializer=None, response_deserializer=None)
        start, cpu = time.perf_counter(), time.process_time()
        answer = drain(messages(), timeout=600)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    BARE_STREAM_CPU["client"] = cpu
    assert int.from_bytes(answer, "little") == total // message * message
    return total / elapsed / 1e6


def agent_tls(agent: AgentProcess) -> TlsIdentity:
    return load_tls_identity(agent.state_dir / "tls", remedy="")


def grpc_version() -> str:
    return grpc.__version__
