"""T10: network faults between two real agents, through a TCP proxy on the process server's path: latency, cuts
after N bytes, resets, a short blackhole and bit flips. The pair resumes from the master target's cursor every time;
a flipped bit ends the TLS session (it never reaches the block decoder: no batch is refused), and at the end the
target equals the source and its points equal the source at their bookmarks."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.api.v1 import pairs_pb2, points_pb2
from agent.dataplane import Tracker, disk_digest
from tests.faults.proxy import Proxy
from tests.faults.workload import Workload
from tests.replication.support import Lab, make_disk, wait_for

SIZE = 8 << 20


@pytest.fixture
def proxied(lab: Lab, tmp_path: Path) -> Iterator[tuple[Proxy, Workload, Path, Path]]:
    proxy = Proxy((lab.mt.address.host, lab.mt.address.port))
    source = make_disk(tmp_path / "source.img", SIZE, seed=21, fill=0.5)
    target = make_disk(tmp_path / "target.img", SIZE)
    tracker = Tracker(source, tmp_path / "log", segment_bytes=1 << 20)
    workload = Workload(tracker, source, SIZE)
    try:
        lab.put_target(lab.target_pair("t10", target, SIZE, crash_interval=0.5))
        lab.put_source(lab.source_pair("t10", source, change_log=tmp_path / "log", address=proxy.address))
        wait_for(lambda: lab.source_status("t10").state == pairs_pb2.PAIR_STATE_REPLICATING or None, "the resync")
        workload.start()
        yield proxy, workload, source, target
    finally:
        workload.halt()
        tracker.close()
        proxy.close()


def reconnected(lab: Lab, before: int) -> Callable[[], int | None]:
    def probe() -> int | None:
        status = lab.source_status("t10")
        assert status.state != pairs_pb2.PAIR_STATE_FAILED, status.reason
        return status.connects if status.connects > before and status.connected else None

    return probe


def test_t10_the_pair_rides_out_cuts_resets_latency_and_bit_flips(lab: Lab, proxied):
    proxy, workload, source, target = proxied
    rng = random.Random(10)

    def disrupt(fault: Callable[[], None], happened: Callable[[], bool], clear: Callable[[], None], what: str) -> None:
        before = lab.source_status("t10").connects
        fault()
        wait_for(lambda: happened() or None, f"{what} to happen", timeout=30)
        clear()
        wait_for(reconnected(lab, before), f"the pair to reconnect after {what}", timeout=60)

    def no_fault() -> None:
        proxy.faults.cut_after = proxy.faults.flip_at = None

    proxy.faults.latency = 0.02
    time.sleep(1.0)
    proxy.faults.latency = 0.0
    for _ in range(3):
        cuts = proxy.cuts

        def cut() -> None:
            proxy.faults.cut_after = rng.randint(20_000, 400_000)

        disrupt(cut, lambda: proxy.cuts > cuts, no_fault, "a cut")  # noqa: B023 - used before the next loop
    for _ in range(3):
        time.sleep(rng.uniform(0.1, 0.5))
        disrupt(proxy.reset_all, lambda: True, no_fault, "a reset")
    flips = proxy.flips
    for _ in range(3):
        flipped = proxy.flips

        def flip() -> None:
            proxy.faults.flip_at = rng.randint(50_000, 200_000)  # past the handshake: inside TLS application data

        disrupt(flip, lambda: proxy.flips > flipped, no_fault, "a flipped bit")  # noqa: B023
    assert proxy.flips >= flips + 3
    proxy.faults.blackhole = True
    time.sleep(2.0)  # shorter than keepalive: the stream stalls and then carries on
    proxy.faults.blackhole = False

    workload.stop()
    workload.bookmark("final")
    with lab.channel(lab.mt) as channel:
        points = lab.points(channel)
        request = points_pb2.ListPointsRequest(target=points_pb2.PointTarget(pair_id="t10"))
        listed = wait_for(
            lambda: (
                [p.id for p in points.ListPoints(request, timeout=30).points]
                if "final" in [p.id for p in points.ListPoints(request, timeout=30).points]
                else None
            ),
            "the pair to catch up",
        )
        for point_id in [*random.Random(1).sample([p for p in listed if p in workload.points], 3), "final"]:
            points.BringToPoint(
                points_pb2.BringToPointRequest(
                    target=points_pb2.PointTarget(pair_id="t10"),
                    selector=points_pb2.PointSelector(point_id=point_id),
                ),
                timeout=60,
            )
            held = points.GetDigest(points_pb2.PointTarget(pair_id="t10"), timeout=60).members[0]
            assert held.digest == workload.points[point_id], point_id
            points.CancelPoint(points_pb2.PointTarget(pair_id="t10"), timeout=60)
    assert disk_digest(str(target), SIZE) == disk_digest(str(source), SIZE)
    status = lab.target_status("t10")
    assert status.batches_rejected == 0, "a damaged batch reached the decoder: TLS let a flipped bit through"
    assert lab.source_status("t10").connects >= 10
