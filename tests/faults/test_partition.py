"""T9: silent partitions between a process server and a master target in its own network namespace (veth, ``ip
link set down``: no RST, the stream just stalls). A short one is ridden out; a long one is detected by the keepalives
within 30 s, and after the heal the process server resends no more than what was written meanwhile plus its
in-flight window, resuming at the master target's durable watermark (nothing is resent twice)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.api.v1 import pairs_pb2, pairs_pb2_grpc, points_pb2, points_pb2_grpc
from agent.dataplane import Tracker, disk_digest
from failback.identity import Identity, Role
from failback.serving import secure_channel
from tests.faults.netns import Namespace
from tests.faults.workload import Workload
from tests.harness import AgentProcess, ControllerProcess, NotifySocket, Service, register_agent, start_agent
from tests.harness._processes import ROOT
from tests.replication.support import LAB, make_disk, wait_for

SIZE = 8 << 20
WINDOW = 2 << 20
PORT = 9443


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    space = Namespace()
    try:
        yield space
    finally:
        space.delete()


@pytest.fixture
def partitioned_pair(controller: ControllerProcess, namespace: Namespace, tmp_path: Path):
    state = register_agent(controller, tmp_path, "mt-netns", Role.MASTER_TARGET)
    config = tmp_path / "mt-netns.toml"
    config.write_text(
        f'[agent]\nstate_dir = "{state}"\n\n[server]\nlisten = "{namespace.address}:{PORT}"\ndrain_seconds = 1\n\n'
        f'[metrics]\nlisten = "127.0.0.1:0"\n\n{LAB}'
    )
    run = tmp_path / "mt-run"
    run.mkdir()
    notify = NotifySocket(run)
    log = run / "mt-netns.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            namespace.command(sys.executable, "-m", "agent", "serve", "--config", str(config)),
            env={"PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(notify.path), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    mt = Service("mt-netns", process, notify, log)
    ps = start_agent(controller, tmp_path, "ps-netns", Role.PROCESS_SERVER, extra=LAB + f"window_bytes = {WINDOW}\n")
    source = make_disk(tmp_path / "source.img", SIZE, seed=31, fill=0.5)
    target = make_disk(tmp_path / "target.img", SIZE)
    (tmp_path / "retention").mkdir()
    tracker = Tracker(source, tmp_path / "log", segment_bytes=1 << 20)
    workload = Workload(tracker, source, SIZE)
    try:
        mt.wait_ready()
        address = f"{namespace.address}:{PORT}"
        identity = Identity(Role.MASTER_TARGET, "mt-netns")
        with secure_channel(address, controller.own_tls(), identity) as channel:
            pairs_pb2_grpc.TargetPairsStub(channel).PutPair(
                pairs_pb2.TargetPair(
                    pair_id="t9",
                    generation=1,
                    path=str(target),
                    disk_size=SIZE,
                    sender=ps.name,
                    retention_dir=str(tmp_path / "retention"),
                    policy=pairs_pb2.RetentionPolicy(crash_interval_seconds=1),
                ),
                timeout=30,
            )
        with secure_channel(str(ps.address), controller.own_tls(), ps.identity) as channel:
            pairs_pb2_grpc.SourcePairsStub(channel).PutPair(
                pairs_pb2.SourcePair(
                    pair_id="t9",
                    generation=1,
                    source_path=str(source),
                    kind=pairs_pb2.SOURCE_KIND_SCAN_THEN_CHANGE_LOG,
                    change_log_dir=str(tmp_path / "log"),
                    master_target_address=address,
                    master_target_name="mt-netns",
                ),
                timeout=30,
            )
        yield _Pair(controller, namespace, address, identity, ps, workload, source, target)
    finally:
        workload.halt()
        tracker.close()
        namespace.heal()
        ps.stop()
        mt.stop()


class _Pair:
    def __init__(self, controller, namespace, address, identity, ps: AgentProcess, workload, source, target) -> None:
        self.controller, self.namespace, self.address, self.identity = controller, namespace, address, identity
        self.ps, self.workload, self.source, self.target = ps, workload, source, target

    def source_status(self) -> pairs_pb2.SourcePairStatus:
        with secure_channel(str(self.ps.address), self.controller.own_tls(), self.ps.identity) as channel:
            return pairs_pb2_grpc.SourcePairsStub(channel).GetPairStatus(
                pairs_pb2.GetPairStatusRequest(pair_id="t9"), timeout=30
            )

    def target_call(self, call):  # type: ignore[no-untyped-def]
        with secure_channel(self.address, self.controller.own_tls(), self.identity) as channel:
            return call(channel)

    def caught_up(self, point_id: str) -> None:
        """Stop the workload, bookmark ``point_id`` and wait until the master target holds it."""
        self.workload.stop()
        self.workload.bookmark(point_id)
        request = points_pb2.ListPointsRequest(target=points_pb2.PointTarget(pair_id="t9"))

        def final() -> bool | None:
            listed = self.target_call(lambda ch: points_pb2_grpc.RecoveryPointsStub(ch).ListPoints(request, timeout=30))
            return True if any(p.id == point_id for p in listed.points) else None

        wait_for(final, "the pair to catch up after the heal", timeout=120)


@pytest.mark.root
def test_t9_a_silent_partition_is_detected_and_the_heal_resends_only_the_dirty_set(partitioned_pair: _Pair):
    pair = partitioned_pair
    wait_for(lambda: pair.source_status().state == pairs_pb2.PAIR_STATE_REPLICATING or None, "the resync")
    pair.workload.start()
    time.sleep(1.0)

    # A short partition: the stream stalls and carries on, nothing to detect.
    pair.namespace.partition()
    time.sleep(5.0)
    pair.namespace.heal()

    # A long one, from a caught-up pair (so that what must be sent afterwards is exactly what is written from now
    # on): detected by the keepalives, then healed.
    pair.workload.halt()
    pair.caught_up("before-long")
    before = pair.source_status()
    written = pair.workload.written
    pair.workload.start()
    cut = time.monotonic()
    pair.namespace.partition()
    wait_for(lambda: (not pair.source_status().connected) or None, "the partition to be noticed", timeout=45)
    detected = time.monotonic() - cut
    pair.namespace.heal()
    pair.caught_up("final")
    after = pair.source_status()

    assert detected <= 30.0, f"a silent partition went unnoticed for {detected:.1f} s"
    dirty = pair.workload.written - written
    resent = after.plain_bytes_sent - before.plain_bytes_sent
    assert resent <= dirty + WINDOW + (1 << 20), f"sent {resent} bytes after the heal for {dirty} bytes written"
    assert after.connects > before.connects
    status = pair.target_call(
        lambda ch: pairs_pb2_grpc.TargetPairsStub(ch).GetPairStatus(
            pairs_pb2.GetPairStatusRequest(pair_id="t9"), timeout=30
        )
    )
    assert status.batches_replayed == 0
    assert disk_digest(str(pair.target), SIZE) == disk_digest(str(pair.source), SIZE)
