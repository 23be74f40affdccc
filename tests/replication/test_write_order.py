"""T2, end to end: random overlapping writes and bookmarks through the change tracker, the process server agent and
the master target agent. Every recovery point holds exactly the source as it was at its bookmark: never a later
write without the earlier ones, never an earlier write missing."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.api.v1 import pairs_pb2, pairs_pb2_grpc, points_pb2
from agent.dataplane import BLOCK_SIZE, BookmarkKind, Tracker, disk_digest
from tests.replication.support import Lab, make_disk, wait_for

BLOCKS = 64
SIZE = BLOCKS * BLOCK_SIZE
_examples = itertools.count()

write = st.tuples(st.integers(0, BLOCKS - 1), st.integers(1, 8), st.integers(1, 255)).map(
    lambda w: ("write", min(w[0], BLOCKS - w[1]), w[1], w[2])
)
operations = st.lists(st.one_of(write, write, st.just(("bookmark",))), min_size=1, max_size=40)


def check_points(lab: Lab, pair_id: str, expected: dict[str, bytes], work: Path) -> None:
    with lab.channel(lab.mt) as channel:
        points = lab.points(channel)
        target = points_pb2.PointTarget(pair_id=pair_id)
        request = points_pb2.ListPointsRequest(target=target)

        def listed() -> list[str] | None:
            ids = [p.id for p in points.ListPoints(request, timeout=30).points]
            return ids if "final" in ids else None

        ids = wait_for(listed, "the final bookmark")
        assert set(expected) <= set(ids)
        snapshot = work / "expected.img"
        for point_id, content in expected.items():
            points.BringToPoint(
                points_pb2.BringToPointRequest(target=target, selector=points_pb2.PointSelector(point_id=point_id)),
                timeout=60,
            )
            snapshot.write_bytes(content)
            held = points.GetDigest(target, timeout=60).members[0]
            assert held.digest == disk_digest(str(snapshot), SIZE), f"point {point_id} is not the source there"
            points.CancelPoint(target, timeout=60)
        lab_pairs = pairs_pb2_grpc.TargetPairsStub(channel)
        lab_pairs.DeletePair(pairs_pb2.DeletePairRequest(pair_id=pair_id), timeout=30)
    with lab.channel(lab.ps) as channel:
        pairs_pb2_grpc.SourcePairsStub(channel).DeletePair(pairs_pb2.DeletePairRequest(pair_id=pair_id), timeout=30)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(operations)
def test_t2_every_point_holds_exactly_the_writes_before_its_bookmark(lab: Lab, tmp_path_factory, ops):
    number = next(_examples)
    work = tmp_path_factory.mktemp(f"t2-{number}")
    pair_id = f"t2-{number}"
    source = make_disk(work / "source.img", SIZE, seed=number, fill=0.5)
    target = make_disk(work / "target.img", SIZE)
    with Tracker(source, work / "log") as tracker:
        lab.put_target(lab.target_pair(pair_id, target, SIZE))
        lab.put_source(lab.source_pair(pair_id, source, change_log=work / "log"))
        wait_for(lambda: lab.source_status(pair_id).state == pairs_pb2.PAIR_STATE_REPLICATING or None, "the resync")
        expected: dict[str, bytes] = {}
        content = bytearray(source.read_bytes())
        for index, op in enumerate(ops):
            if op[0] == "write":
                _, block, blocks, value = op
                data = bytes([value]) * (blocks * BLOCK_SIZE)
                tracker.write(block * BLOCK_SIZE, data)
                content[block * BLOCK_SIZE : block * BLOCK_SIZE + len(data)] = data
            else:
                tracker.bookmark(BookmarkKind.APP, "t2", bookmark_id=f"p{index}")
                expected[f"p{index}"] = bytes(content)
        tracker.bookmark(BookmarkKind.APP, "t2", bookmark_id="final")
        expected["final"] = bytes(content)
        assert source.read_bytes() == bytes(content)
        check_points(lab, pair_id, expected, work)
