"""Two real agents (a master target and a process server, registered to a real controller) and the calls a
controller makes to pair them; disks and change logs as files."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc

from agent.api.v1 import pairs_pb2, pairs_pb2_grpc, points_pb2_grpc, replication_pb2_grpc
from agent.dataplane import BLOCK_SIZE, disk_digest
from failback.identity import Role
from failback.retry import Policy
from failback.serving import TlsIdentity, load_tls_identity, secure_channel
from tests.harness import AgentProcess, ControllerProcess, register_agent, start_agent

T = TypeVar("T")

#: Lab settings: targets named by path, retention directories on any volume.
LAB = "[replication]\nallow_path_targets = true\ncheck_retention_volume = false\n"


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    return Policy(deadline=timeout, initial=0.02, maximum=0.25, jitter=0.01).wait_for(probe, what=what)


def make_disk(path: Path, size: int, *, seed: int | None = None, fill: float = 1.0) -> Path:
    """A disk image; with ``seed``, ``fill`` of its 4 KiB blocks hold mixed (zero, repetitive or random) data."""
    with open(path, "wb") as handle:
        handle.truncate(size)
        if seed is not None:
            rng = random.Random(seed)
            for block in range(size // BLOCK_SIZE):
                if rng.random() < fill:
                    handle.seek(block * BLOCK_SIZE)
                    handle.write(block_data(rng))
    return path


def block_data(rng: random.Random) -> bytes:
    pick = rng.random()
    if pick < 0.2:
        return bytes(BLOCK_SIZE)
    if pick < 0.6:
        word = rng.randbytes(rng.randint(1, 16))
        return (word * (BLOCK_SIZE // len(word) + 1))[:BLOCK_SIZE]
    return rng.randbytes(BLOCK_SIZE)


@dataclass
class Lab:
    """A controller, a master target and a process server, and the controller's credentials to call them."""

    controller: ControllerProcess
    mt: AgentProcess
    ps: AgentProcess
    directory: Path

    @contextmanager
    def channel(self, agent: AgentProcess, tls: TlsIdentity | None = None) -> Iterator[grpc.Channel]:
        with secure_channel(str(agent.address), tls or self.controller.own_tls(), agent.identity) as channel:
            yield channel

    def target_pairs(self, channel: grpc.Channel) -> pairs_pb2_grpc.TargetPairsStub:
        return pairs_pb2_grpc.TargetPairsStub(channel)

    def put_target(self, pair: pairs_pb2.TargetPair) -> pairs_pb2.TargetPairStatus:
        with self.channel(self.mt) as channel:
            return pairs_pb2_grpc.TargetPairsStub(channel).PutPair(pair, timeout=60)

    def put_source(self, pair: pairs_pb2.SourcePair) -> pairs_pb2.SourcePairStatus:
        with self.channel(self.ps) as channel:
            return pairs_pb2_grpc.SourcePairsStub(channel).PutPair(pair, timeout=60)

    def target_status(self, pair_id: str) -> pairs_pb2.TargetPairStatus:
        with self.channel(self.mt) as channel:
            return pairs_pb2_grpc.TargetPairsStub(channel).GetPairStatus(
                pairs_pb2.GetPairStatusRequest(pair_id=pair_id), timeout=30
            )

    def source_status(self, pair_id: str) -> pairs_pb2.SourcePairStatus:
        with self.channel(self.ps) as channel:
            return pairs_pb2_grpc.SourcePairsStub(channel).GetPairStatus(
                pairs_pb2.GetPairStatusRequest(pair_id=pair_id), timeout=30
            )

    def points(self, channel: grpc.Channel) -> points_pb2_grpc.RecoveryPointsStub:
        return points_pb2_grpc.RecoveryPointsStub(channel)

    def target_pair(
        self,
        pair_id: str,
        target: Path,
        size: int,
        *,
        generation: int = 1,
        sender: str | None = None,
        crash_interval: float = 0.0,
        group: str = "",
    ) -> pairs_pb2.TargetPair:
        retention = self.directory / "retention"
        retention.mkdir(exist_ok=True)
        return pairs_pb2.TargetPair(
            pair_id=pair_id,
            generation=generation,
            path=str(target),
            disk_size=size,
            sender=sender or self.ps.name,
            retention_dir=str(retention),
            policy=pairs_pb2.RetentionPolicy(crash_interval_seconds=crash_interval),
            group=group,
        )

    def source_pair(
        self,
        pair_id: str,
        source: Path,
        *,
        generation: int = 1,
        change_log: Path | None = None,
        address: str | None = None,
        bandwidth: int = 0,
    ) -> pairs_pb2.SourcePair:
        return pairs_pb2.SourcePair(
            pair_id=pair_id,
            generation=generation,
            source_path=str(source),
            kind=pairs_pb2.SOURCE_KIND_SCAN if change_log is None else pairs_pb2.SOURCE_KIND_SCAN_THEN_CHANGE_LOG,
            change_log_dir=str(change_log) if change_log else "",
            master_target_address=address or str(self.mt.address),
            master_target_name=self.mt.name,
            bandwidth_bytes_per_second=bandwidth,
        )

    def wait_synced(self, pair_id: str, timeout: float = 120.0) -> pairs_pb2.SourcePairStatus:
        def synced() -> pairs_pb2.SourcePairStatus | None:
            status = self.source_status(pair_id)
            assert status.state != pairs_pb2.PAIR_STATE_FAILED, status.reason
            return status if status.state == pairs_pb2.PAIR_STATE_SYNCED else None

        return wait_for(synced, f"pair {pair_id} to finish its resync pass", timeout)

    def wait_acknowledged(
        self, pair_id: str, position_check: Callable[[pairs_pb2.SourcePairStatus], bool], timeout: float = 120.0
    ) -> pairs_pb2.SourcePairStatus:
        def done() -> pairs_pb2.SourcePairStatus | None:
            status = self.source_status(pair_id)
            assert status.state != pairs_pb2.PAIR_STATE_FAILED, status.reason
            return status if position_check(status) else None

        return wait_for(done, f"pair {pair_id} to catch up", timeout)

    def process_server_tls(self, name: str) -> TlsIdentity:
        """Another registered process server's identity (the test then acts as that sender)."""
        state = register_agent(self.controller, self.directory / "senders", name, Role.PROCESS_SERVER)
        return load_tls_identity(state / "tls", remedy="")

    def replication(self, channel: grpc.Channel) -> replication_pb2_grpc.ReplicationStub:
        return replication_pb2_grpc.ReplicationStub(channel)


def start_lab(controller: ControllerProcess, directory: Path, *, mt: str = "mt-1", ps: str = "ps-1") -> Lab:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "senders").mkdir(exist_ok=True)
    master = start_agent(controller, directory, mt, Role.MASTER_TARGET, extra=LAB)
    process = start_agent(controller, directory, ps, Role.PROCESS_SERVER, extra=LAB)
    return Lab(controller, master, process, directory)


def same_content(a: Path, b: Path, size: int) -> bool:
    return disk_digest(str(a), size) == disk_digest(str(b), size)


def log_lines(agent: AgentProcess) -> str:
    return agent.service.log()
