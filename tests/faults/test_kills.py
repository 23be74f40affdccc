"""T3 and T4: hundreds of SIGKILLs of the master target, then of the process server, in the middle of the stream and
the apply, while a workload keeps writing through the change tracker.

Both agents are real processes over mutual TLS, started by fork from a zygote (tests/faults/zygote.py) so a kill and
restart cycle takes a fraction of a second. The oracle: the pair never fails, the change log phase never goes back
to a resync (exactly one RESYNC_COMPLETE point), after each process-server restart the stream resumes at the master
target's durable watermark (no batch is sent twice, none is refused), and at the end the target equals the source
and sampled recovery points equal the source at their bookmarks.
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from agent.api.v1 import pairs_pb2, pairs_pb2_grpc, points_pb2, points_pb2_grpc
from agent.dataplane import Tracker, disk_digest
from failback.identity import Identity, Role
from failback.serving import secure_channel
from tests.faults.workload import Workload
from tests.faults.zygote import Child, Zygote
from tests.harness import ControllerProcess, register_agent
from tests.replication.support import LAB, make_disk, wait_for

SIZE = 8 << 20
KILLS = int(os.environ.get("FAILBACK_TEST_KILLS", "200"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Agent:
    """An agent whose process the test kills and restarts; its address never changes."""

    name: str
    role: Role
    config: Path
    directory: Path
    port: int
    zygote: Zygote
    child: Child | None = None
    starts: int = 0

    @property
    def identity(self) -> Identity:
        return Identity(self.role, self.name)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        self.child = self.zygote.start(self.config, self.directory / "runs", f"{self.name}-{self.starts}")
        try:
            self.child.notify.wait_for("READY", 30)
        except TimeoutError:
            log = (self.directory / "runs" / f"{self.name}-{self.starts}.log").read_text()
            raise AssertionError(f"{self.name} did not start:\n{log}") from None

    def kill(self) -> None:
        assert self.child is not None
        self.child.kill()
        wait_for(lambda: (not self.child.alive()) or None, f"{self.name} to die", 10)

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            wait_for(lambda: (not self.child.alive()) or None, f"{self.name} to stop", 30)


def make_agent(controller: ControllerProcess, zygote: Zygote, directory: Path, name: str, role: Role) -> Agent:
    state = register_agent(controller, directory, name, role)
    port = free_port()
    config = directory / f"{name}.toml"
    config.write_text(
        f'[agent]\nstate_dir = "{state}"\n\n[server]\nlisten = "127.0.0.1:{port}"\ndrain_seconds = 1\n\n'
        f'[metrics]\nlisten = "127.0.0.1:0"\n\n{LAB}'
    )
    return Agent(name, role, config, directory, port, zygote)


@dataclass
class Pair:
    controller: ControllerProcess
    mt: Agent
    ps: Agent
    source: Path
    target: Path
    workload: Workload

    @contextmanager
    def channel(self, agent: Agent) -> Iterator[grpc.Channel]:
        with secure_channel(agent.address, self.controller.own_tls(), agent.identity) as channel:
            yield channel

    def source_status(self) -> pairs_pb2.SourcePairStatus:
        with self.channel(self.ps) as channel:
            return pairs_pb2_grpc.SourcePairsStub(channel).GetPairStatus(
                pairs_pb2.GetPairStatusRequest(pair_id="kills"), timeout=30
            )

    def target_status(self) -> pairs_pb2.TargetPairStatus:
        with self.channel(self.mt) as channel:
            return pairs_pb2_grpc.TargetPairsStub(channel).GetPairStatus(
                pairs_pb2.GetPairStatusRequest(pair_id="kills"), timeout=30
            )

    def check_healthy(self) -> None:
        status = self.source_status()
        assert status.state != pairs_pb2.PAIR_STATE_FAILED, status.reason
        assert status.phase == pairs_pb2.SOURCE_PHASE_CHANGE_LOG, "the pair went back to a resync"


@pytest.fixture
def pair(controller: ControllerProcess, tmp_path: Path) -> Iterator[Pair]:
    zygote = Zygote()
    suffix = uuid.uuid4().hex[:8]
    mt = make_agent(controller, zygote, tmp_path, f"mt-kill-{suffix}", Role.MASTER_TARGET)
    ps = make_agent(controller, zygote, tmp_path, f"ps-kill-{suffix}", Role.PROCESS_SERVER)
    source = make_disk(tmp_path / "source.img", SIZE, seed=12, fill=0.5)
    target = make_disk(tmp_path / "target.img", SIZE)
    (tmp_path / "retention").mkdir()
    tracker = Tracker(source, tmp_path / "log", segment_bytes=1 << 20)
    pair = Pair(controller, mt, ps, source, target, Workload(tracker, source, SIZE))
    try:
        mt.start()
        ps.start()
        with pair.channel(mt) as channel:
            pairs_pb2_grpc.TargetPairsStub(channel).PutPair(
                pairs_pb2.TargetPair(
                    pair_id="kills",
                    generation=1,
                    path=str(target),
                    disk_size=SIZE,
                    sender=ps.name,
                    retention_dir=str(tmp_path / "retention"),
                    policy=pairs_pb2.RetentionPolicy(crash_interval_seconds=0.5),
                ),
                timeout=30,
            )
        with pair.channel(ps) as channel:
            pairs_pb2_grpc.SourcePairsStub(channel).PutPair(
                pairs_pb2.SourcePair(
                    pair_id="kills",
                    generation=1,
                    source_path=str(source),
                    kind=pairs_pb2.SOURCE_KIND_SCAN_THEN_CHANGE_LOG,
                    change_log_dir=str(tmp_path / "log"),
                    master_target_address=mt.address,
                    master_target_name=mt.name,
                ),
                timeout=30,
            )
        wait_for(
            lambda: pair.source_status().state == pairs_pb2.PAIR_STATE_REPLICATING or None, "the resync", timeout=120
        )
        pair.workload.start()
        yield pair
    finally:
        pair.workload.halt()
        for agent in (ps, mt):
            if agent.child is not None and agent.child.alive():
                agent.stop()
        tracker.close()
        zygote.close()


def finish_and_check(pair: Pair) -> None:
    """Stop the workload, let the pair catch up, and hold the oracle against the target and its points."""
    pair.workload.stop()
    pair.workload.bookmark("final")
    digest = disk_digest(str(pair.source), SIZE)
    with pair.channel(pair.mt) as channel:
        points = points_pb2_grpc.RecoveryPointsStub(channel)
        request = points_pb2.ListPointsRequest(target=points_pb2.PointTarget(pair_id="kills"))

        def caught_up() -> list[points_pb2.RecoveryPoint] | None:
            listed = list(points.ListPoints(request, timeout=30).points)
            return listed if any(p.id == "final" for p in listed) else None

        listed = wait_for(caught_up, "the final bookmark to arrive", timeout=120)
        assert [p.kind for p in listed].count(points_pb2.POINT_KIND_RESYNC_COMPLETE) == 1, "a second resync ran"
        latest = points.GetDigest(points_pb2.PointTarget(pair_id="kills"), timeout=60).members[0]
        assert latest.digest == digest, "the target differs from the source"
        app = [p.id for p in listed if p.id in pair.workload.points and p.id != "final"]
        assert len(app) >= 20
        for point_id in [*random.Random(3).sample(app, 5), "final"]:
            points.BringToPoint(
                points_pb2.BringToPointRequest(
                    target=points_pb2.PointTarget(pair_id="kills"),
                    selector=points_pb2.PointSelector(point_id=point_id),
                ),
                timeout=60,
            )
            held = points.GetDigest(points_pb2.PointTarget(pair_id="kills"), timeout=60).members[0]
            assert held.digest == pair.workload.points[point_id], f"point {point_id} is not the source's state"
            points.CancelPoint(points_pb2.PointTarget(pair_id="kills"), timeout=60)
    assert pair.target.read_bytes() == pair.source.read_bytes()


@pytest.mark.slow
def test_t3_sigkill_of_the_master_target_loses_no_acknowledged_write(pair: Pair):
    rng = random.Random(31)
    for kill in range(KILLS):
        time.sleep(rng.uniform(0.0, 0.12))
        pair.mt.kill()
        pair.mt.start()
        if kill % 25 == 0:
            pair.check_healthy()
    pair.check_healthy()
    finish_and_check(pair)
    assert pair.mt.starts == KILLS + 1


@pytest.mark.slow
def test_t4_sigkill_of_the_process_server_resumes_from_the_durable_watermark(pair: Pair):
    rng = random.Random(41)
    for kill in range(KILLS):
        time.sleep(rng.uniform(0.0, 0.12))
        pair.ps.kill()
        pair.ps.start()
        if kill % 25 == 0:
            pair.check_healthy()
    pair.check_healthy()
    finish_and_check(pair)
    status = pair.target_status()
    assert status.batches_replayed == 0, "a batch the master target had made durable was sent again"
    assert status.batches_rejected == 0
    assert pair.ps.starts == KILLS + 1
