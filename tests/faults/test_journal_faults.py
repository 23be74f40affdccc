"""T7 and T8 through the receive path.

T7: the master target's journal fails an fsync in the middle of a stream (the recording I/O layer injects EIO; the
servicer runs in this process behind a real mutual-TLS server): the stream ends, nothing is acknowledged after the
failure, the pair stays FAILED - also after the journal is reopened - and every batch acknowledged before it is
durable.

T8: the retention volume of a real master target agent fills up (a 64 MiB ext4 loop volume): acknowledgements stop,
the pair reports BACKPRESSURE and its health entry NOT_SERVING, the process server keeps the data; space comes back
and the pair resumes by itself, converging on the source.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agent.api.v1 import pairs_pb2, pairs_pb2_grpc, replication_pb2_grpc
from agent.dataplane import Tracker, disk_digest
from agent.journal import FaultPlan, RecordingIO
from agent.replication import PairStore, TargetPairSpec, TargetRegistry, TargetState, open_pair_journal
from agent.server import POLICY, pair_health_name
from agent.server._replication import ReplicationServicer
from failback.config import Address
from failback.identity import Role
from failback.serving import GrpcServer, ServiceBinding, load_tls_identity, secure_channel
from tests.faults.streams import batch, block, filled, opening
from tests.faults.workload import Workload
from tests.harness import ControllerProcess, register_agent
from tests.replication.support import Lab, make_disk, wait_for
from tests.retention.loopfs import loop_volume

SIZE = 4 << 20


class InProcessTarget:
    """The master target's receive side in this process, every journal on a recording, fault-injecting I/O layer."""

    def __init__(self, controller: ControllerProcess, directory: Path) -> None:
        mt_state = register_agent(controller, directory, "mt-faulty", Role.MASTER_TARGET)
        self.sender_tls = load_tls_identity(
            register_agent(controller, directory, "ps-faulty", Role.PROCESS_SERVER) / "tls", remedy=""
        )
        self.directory = directory
        self.recorders: dict[str, RecordingIO] = {}
        self.registry = self._registry()
        self.registry.start()
        self.server = GrpcServer(
            listen=Address("127.0.0.1", 0),
            tls=load_tls_identity(mt_state / "tls", remedy=""),
            services=[
                ServiceBinding(
                    "failback.agent.v1.Replication",
                    replication_pb2_grpc.add_ReplicationServicer_to_server,
                    ReplicationServicer(self.registry),
                )
            ],
            policy=POLICY,
        )
        self.server.start()
        self.identity = load_tls_identity(mt_state / "tls", remedy="").identity

    def _registry(self, *, recording: bool = True) -> TargetRegistry:
        def io_factory(journal_dir: str) -> RecordingIO:
            recorder = RecordingIO(os.path.dirname(journal_dir))
            self.recorders[os.path.basename(journal_dir)] = recorder
            return recorder

        return TargetRegistry(
            PairStore(self.directory / "pairs", Role.MASTER_TARGET.value),
            resolve_target=lambda spec: spec.path or "",
            open_journal=open_pair_journal(io_factory if recording else None),
        )

    def stream(self, requests: list) -> tuple[list[int], grpc.StatusCode, str]:
        acks: list[int] = []
        with secure_channel(str(self.server.address), self.sender_tls, self.identity) as channel:
            try:
                for response in replication_pb2_grpc.ReplicationStub(channel).Stream(iter(requests), timeout=60):
                    if response.WhichOneof("kind") == "ack":
                        acks.append(response.ack.durable_seq)
            except grpc.RpcError as exc:
                return acks, exc.code(), exc.details() or ""
        return acks, grpc.StatusCode.OK, ""

    def close(self) -> None:
        self.server.drain(1)
        self.registry.close()


@pytest.fixture
def in_process(controller: ControllerProcess, tmp_path: Path) -> Iterator[InProcessTarget]:
    target = InProcessTarget(controller, tmp_path)
    yield target
    target.close()


def test_t7_a_failed_fsync_stops_the_pair_and_nothing_is_acknowledged_after_it(in_process: InProcessTarget, tmp_path):
    disk = make_disk(tmp_path / "target.img", SIZE)
    (tmp_path / "retention").mkdir()
    spec = TargetPairSpec(
        pair_id="t7",
        generation=1,
        disk_size=SIZE,
        sender="ps-faulty",
        retention_dir=str(tmp_path / "retention"),
        path=str(disk),
    ).check()
    pair = in_process.registry.put(spec)
    recorder = in_process.recorders["t7"]
    recorder.faults = FaultPlan(fail_fsync_at=recorder.fsyncs + 7)  # a few batches in: each costs two flushes
    batches = [batch(seq, block((seq - 1) * 4096, filled(seq))) for seq in range(1, 11)]
    acks, code, details = in_process.stream([opening("t7", 1), *batches])
    assert code == grpc.StatusCode.FAILED_PRECONDITION, details
    assert "resync" in details
    assert acks, "the batches before the failure were acknowledged"
    acknowledged = acks[-1]
    assert acknowledged < 10
    assert pair.status().state is TargetState.FAILED
    more, code, _ = in_process.stream([opening("t7", 1), batch(acknowledged + 1, block(0, filled(99)))])
    assert (more, code) == ([], grpc.StatusCode.FAILED_PRECONDITION), "the pair acknowledged after a failure"

    in_process.registry.close()  # the agent restarts: the journal recovers with the real I/O layer
    reopened = in_process._registry(recording=False)
    reopened.start()
    try:
        status = reopened.get("t7").status()
        assert status.durable_seq >= acknowledged, "an acknowledged batch was lost"
        assert status.state is TargetState.FAILED, "a pair whose journal failed must be verified or resynced"
        assert "resync" in status.reason
        data = disk.read_bytes()
        for seq in range(1, acknowledged + 1):
            assert data[(seq - 1) * 4096 : seq * 4096] == filled(seq)
    finally:
        reopened.close()


@pytest.mark.root
def test_t8_a_full_retention_volume_pauses_acknowledgements_until_space_returns(lab: Lab, tmp_path: Path):
    size = 16 << 20
    with loop_volume(str(tmp_path), "ext4") as volume:
        retention = Path(volume.mountpoint) / "journals"
        retention.mkdir()
        filler = Path(volume.mountpoint) / "filler"
        with open(filler, "wb") as handle:  # other data on the volume: the pair gets ~10 MB before the threshold
            handle.write(os.urandom(38 << 20))
            os.fsync(handle.fileno())
        source = make_disk(tmp_path / "source.img", size, seed=51, fill=0.3)
        target = make_disk(tmp_path / "target.img", size)
        pair = lab.target_pair("t8", target, size, crash_interval=1)
        pair.retention_dir = str(retention)
        lab.put_target(pair)
        with Tracker(source, tmp_path / "log", segment_bytes=1 << 20) as tracker:
            lab.put_source(lab.source_pair("t8", source, change_log=tmp_path / "log"))
            wait_for(lambda: lab.source_status("t8").state == pairs_pb2.PAIR_STATE_REPLICATING or None, "the resync")
            workload = Workload(tracker, source, size)
            workload.start()
            try:
                wait_for(
                    lambda: lab.target_status("t8").state == pairs_pb2.PAIR_STATE_BACKPRESSURE or None,
                    "the retention volume to fill",
                    timeout=120,
                )
            finally:
                workload.stop()
            status = lab.target_status("t8")
            assert "retention volume" in status.reason
            with lab.channel(lab.mt) as channel:
                health = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=pair_health_name("t8")), timeout=10
                )
            assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
            paused = lab.target_status("t8").durable_seq
            assert lab.source_status("t8").backlog_batches > 0, "the process server holds what is not acknowledged"
            assert lab.target_status("t8").durable_seq == paused, "acknowledged while the volume was full"
            filler.unlink()  # the operator makes room; nobody tells the pair
            workload.bookmark("after-space")
            wait_for(
                lambda: lab.target_status("t8").state == pairs_pb2.PAIR_STATE_REPLICATING or None,
                "the pair to resume by itself",
                timeout=120,
            )

            def caught_up() -> bool | None:
                return disk_digest(str(target), size) == disk_digest(str(source), size) or None

            wait_for(caught_up, "the target to converge")
        with lab.channel(lab.mt) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=pair_health_name("t8")), timeout=10
            )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        with lab.channel(lab.mt) as channel:
            pairs_pb2_grpc.TargetPairsStub(channel).DeletePair(pairs_pb2.DeletePairRequest(pair_id="t8"), timeout=30)
