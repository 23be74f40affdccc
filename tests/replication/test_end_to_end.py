"""T1 and T13 with two real agents over mutual TLS: a disk replicated byte for byte, recovery points equal to the
source at their bookmarks, a resync that sends only what differs, several pairs at once, limits and metrics."""

from __future__ import annotations

import os
import random
import time
import urllib.request
from pathlib import Path

from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from agent.api.v1 import pairs_pb2, pairs_pb2_grpc, points_pb2
from agent.dataplane import BLOCK_SIZE, BookmarkKind, Tracker, disk_digest
from agent.server import pair_health_name
from tests.replication.support import Lab, make_disk, wait_for

MIB = 1 << 20


def digest_of_bytes(data: bytes, directory: Path) -> bytes:
    path = directory / "snapshot.img"
    path.write_bytes(data)
    return disk_digest(str(path), len(data))


def test_two_agents_replicate_a_disk_byte_for_byte(lab: Lab, work: Path):
    size = 24 * MIB
    source = make_disk(work / "source.img", size, seed=3, fill=0.7)
    target = make_disk(work / "target.img", size)
    lab.put_target(lab.target_pair("e2e-scan", target, size))
    lab.put_source(lab.source_pair("e2e-scan", source))
    status = lab.wait_synced("e2e-scan")
    assert target.read_bytes() == source.read_bytes()
    assert status.resync_percent == 100.0
    with lab.channel(lab.mt) as channel:
        report = lab.points(channel).GetDigest(points_pb2.PointTarget(pair_id="e2e-scan"), timeout=60)
        points = lab.points(channel).ListPoints(
            points_pb2.ListPointsRequest(target=points_pb2.PointTarget(pair_id="e2e-scan")), timeout=30
        )
    assert report.members[0].digest == disk_digest(str(source), size)
    assert [p.kind for p in points.points] == [points_pb2.POINT_KIND_RESYNC_COMPLETE]


def test_recovery_points_hold_exactly_the_source_at_their_bookmarks(lab: Lab, work: Path):
    """Reprotect with a live workload: every point after the resync equals the source when its bookmark was taken,
    bringing the disk to a point and back to latest works, and the history of writes made during the scan never
    shows as a point."""
    size = 8 * MIB
    source = make_disk(work / "source.img", size, seed=4, fill=0.5)
    target = make_disk(work / "target.img", size, seed=5, fill=0.5)  # an old, different copy
    rng = random.Random(6)
    with Tracker(source, work / "log") as tracker:
        lab.put_target(lab.target_pair("e2e-points", target, size, crash_interval=0.001))
        lab.put_source(lab.source_pair("e2e-points", source, change_log=work / "log"))
        tracker.bookmark(BookmarkKind.APP, "during-scan", bookmark_id="not-a-point")
        wait_for(
            lambda: lab.source_status("e2e-points").state == pairs_pb2.PAIR_STATE_REPLICATING or None,
            "the resync to complete",
        )
        expected: dict[str, bytes] = {}
        for round_ in range(4):
            for _ in range(20):
                blocks = rng.randint(1, 16)
                offset = rng.randrange(size // BLOCK_SIZE - blocks) * BLOCK_SIZE
                tracker.write(offset, rng.randbytes(blocks * BLOCK_SIZE))
            tracker.bookmark(BookmarkKind.APP, "test-writer", bookmark_id=f"app-{round_}")
            expected[f"app-{round_}"] = source.read_bytes()
        with lab.channel(lab.mt) as channel:
            points = lab.points(channel)

            def listed() -> list[str] | None:
                request = points_pb2.ListPointsRequest(target=points_pb2.PointTarget(pair_id="e2e-points"))
                ids = [p.id for p in points.ListPoints(request, timeout=30).points]
                return ids if "app-3" in ids else None

            ids = wait_for(listed, "the last bookmark to become a point")
            assert "not-a-point" not in ids
            assert {f"app-{i}" for i in range(4)} <= set(ids)
            for point_id, content in expected.items():
                points.BringToPoint(
                    points_pb2.BringToPointRequest(
                        target=points_pb2.PointTarget(pair_id="e2e-points", generation=1),
                        selector=points_pb2.PointSelector(point_id=point_id),
                    ),
                    timeout=60,
                )
                digest = points.GetDigest(points_pb2.PointTarget(pair_id="e2e-points"), timeout=60).members[0]
                assert (digest.point_id, digest.digest) == (point_id, digest_of_bytes(content, work)), point_id
                points.CancelPoint(points_pb2.PointTarget(pair_id="e2e-points"), timeout=60)
            latest = points.GetDigest(points_pb2.PointTarget(pair_id="e2e-points"), timeout=60).members[0]
            assert latest.digest == disk_digest(str(source), size)


def test_a_resync_onto_a_mostly_identical_disk_sends_only_the_differing_blocks(lab: Lab, work: Path):
    size = 32 * MIB
    source = make_disk(work / "source.img", size, seed=7, fill=0.9)
    image = bytearray(source.read_bytes())
    rng = random.Random(8)
    changed = rng.sample(range(size // BLOCK_SIZE), 40)
    for block in changed:
        image[block * BLOCK_SIZE : (block + 1) * BLOCK_SIZE] = rng.randbytes(BLOCK_SIZE)
    target = work / "target.img"
    target.write_bytes(bytes(image))
    lab.put_target(lab.target_pair("e2e-delta", target, size))
    lab.put_source(lab.source_pair("e2e-delta", source))
    status = lab.wait_synced("e2e-delta")
    assert target.read_bytes() == source.read_bytes()
    assert status.plain_bytes_sent == len(changed) * BLOCK_SIZE
    assert status.wire_bytes_sent <= len(changed) * BLOCK_SIZE


def test_several_pairs_replicate_at_once(lab: Lab, work: Path):
    size = 8 * MIB
    pairs = [f"e2e-many-{i}" for i in range(4)]
    disks = {}
    for index, pair_id in enumerate(pairs):
        source = make_disk(work / f"{pair_id}.src", size, seed=20 + index, fill=0.6)
        target = make_disk(work / f"{pair_id}.tgt", size)
        lab.put_target(lab.target_pair(pair_id, target, size))
        disks[pair_id] = (source, target)
    for pair_id in pairs:
        lab.put_source(lab.source_pair(pair_id, disks[pair_id][0]))
    for pair_id in pairs:
        lab.wait_synced(pair_id)
        source, target = disks[pair_id]
        assert target.read_bytes() == source.read_bytes(), pair_id


def test_the_bandwidth_limit_holds_and_changes_at_run_time(lab: Lab, work: Path):
    size = 6 * MIB
    source = work / "source.img"
    source.write_bytes(os.urandom(size))  # incompressible: the wire carries every byte
    target = make_disk(work / "target.img", size)
    rate = 2_000_000
    with lab.channel(lab.ps) as channel:
        stub = pairs_pb2_grpc.SourcePairsStub(channel)
        stub.SetBandwidth(pairs_pb2.SetBandwidthRequest(bytes_per_second=rate), timeout=10)
        try:
            lab.put_target(lab.target_pair("e2e-slow", target, size))
            started = time.monotonic()
            lab.put_source(lab.source_pair("e2e-slow", source))
            lab.wait_synced("e2e-slow")
            elapsed = time.monotonic() - started
        finally:
            stub.SetBandwidth(pairs_pb2.SetBandwidthRequest(bytes_per_second=0), timeout=10)
    burst = 1 << 20
    assert elapsed >= (size - burst) / rate * 0.9, f"{size} bytes at {rate} B/s took only {elapsed:.1f} s"
    assert target.read_bytes() == source.read_bytes()


def test_pairs_are_exported_as_metrics_and_health_entries(lab: Lab, work: Path):
    size = 4 * MIB
    source = make_disk(work / "source.img", size, seed=9, fill=0.5)
    target = make_disk(work / "target.img", size)
    lab.put_target(lab.target_pair("e2e-metrics", target, size))
    lab.put_source(lab.source_pair("e2e-metrics", source))
    status = lab.wait_synced("e2e-metrics")

    def scrape(metrics) -> dict[str, float]:
        with urllib.request.urlopen(f"http://{metrics.host}:{metrics.port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        return {
            sample.name: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.labels.get("pair") == "e2e-metrics"
        }

    ps_metrics = scrape(lab.ps.metrics)
    assert ps_metrics["failback_pair_sent_bytes_total"] == status.plain_bytes_sent > 0
    assert ps_metrics["failback_pair_acknowledged_bytes_total"] == status.plain_bytes_sent
    assert ps_metrics["failback_pair_backlog_bytes"] == 0
    target_status = lab.target_status("e2e-metrics")
    mt_metrics = scrape(lab.mt.metrics)
    assert mt_metrics["failback_pair_received_bytes_total"] == target_status.bytes_received == status.plain_bytes_sent
    assert mt_metrics["failback_pair_serving"] == 1.0
    with lab.channel(lab.mt) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=pair_health_name("e2e-metrics")), timeout=10
        )
    assert health.status == health_pb2.HealthCheckResponse.SERVING
