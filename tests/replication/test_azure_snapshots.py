"""Issue 8 end to end: a process server given only a VM's resource id replicates the VM's managed disks to a master
target through Azure's APIs (lab.azure over HTTPS, reached with a service principal from agent.toml), cycle after
cycle while the guest writes; every point on the master target is the snapshot's content, incremental cycles read
only what changed, and a process server killed between a snapshot and its acknowledgement leaves nothing behind."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from agent.api.v1 import pairs_pb2, pairs_pb2_grpc
from failback.identity import Role
from lab.azure import Fault, LocalAzure
from tests.harness import AgentProcess, ControllerProcess, start_agent
from tests.replication.azure_support import (
    SECRET,
    Guest,
    Vm,
    azure_section,
    differing_bytes,
    image_digest,
    image_file,
    local_azure,
    point_digests,
    reads_by_image,
    restart,
)
from tests.replication.support import LAB, Lab, make_disk, wait_for

MIB = 1 << 20
INTERVAL = 4.0  # Azure takes at most 7 snapshots of a disk in 5 minutes (the endpoint enforces it): a test takes ~5
MAX_POINTS = 4  # SnapshotPolicy's default: snapshots kept per disk at most


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAzure]:
    with local_azure(tmp_path_factory.mktemp("azure")) as running:
        yield running


@pytest.fixture(scope="module")
def lab(controller: ControllerProcess, endpoint: LocalAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("agents")
    mt = start_agent(controller, directory, "mt-azure", Role.MASTER_TARGET, extra=LAB)
    ps = start_agent(
        controller, directory, "ps-azure", Role.PROCESS_SERVER, extra=LAB + azure_section(endpoint, directory / "s")
    )
    running = Lab(controller, mt, ps, directory)
    yield running
    assert ps.stop() == 0, ps.service.log()
    assert mt.stop() == 0, mt.service.log()
    assert SECRET not in ps.service.log()


def put_vm(
    lab: Lab,
    vm: Vm,
    work: Path,
    *,
    sender: AgentProcess | None = None,
    consistency: pairs_pb2.PointConsistency = pairs_pb2.POINT_CONSISTENCY_INCREMENTAL_SNAPSHOTS,
    interval: float = INTERVAL,
) -> dict[str, Path]:
    """A target pair per disk (files of the disk's size, zeros) and a source pair naming the VM; returns targets."""
    targets = {}
    for index, disk in enumerate(vm.disks):
        pair_id = f"{vm.name}-{index}"
        targets[pair_id] = make_disk(work / f"{pair_id}.img", disk.size)
        lab.put_target(
            lab.target_pair(pair_id, targets[pair_id], disk.size, crash_interval=0.001, sender=(sender or lab.ps).name)
        )
    for index, disk in enumerate(vm.disks):
        status = lab.put_source(vm.source(lab, f"{vm.name}-{index}", disk, interval, consistency))
        assert status.phase == pairs_pb2.SOURCE_PHASE_SNAPSHOT_CYCLES
    return targets


def acknowledged(lab: Lab, pair_id: str) -> str:
    status = lab.source_status(pair_id)
    assert status.state != pairs_pb2.PAIR_STATE_FAILED, status.reason
    return status.acknowledged_point


def wait_for_new_points(lab: Lab, pairs: list[str], seen: dict[str, list[str]], vm: Vm) -> None:
    """Until every pair's master target acknowledged a point newer than the last one seen (``seen`` grows); the VM's
    snapshots stay bounded meanwhile."""

    def moved() -> bool | None:
        for disk in vm.disks:
            assert len(vm.endpoint.disks.snapshots_of(disk)) <= MAX_POINTS
        for pair_id in pairs:
            point = acknowledged(lab, pair_id)
            if not point or (seen[pair_id] and point == seen[pair_id][-1]):
                return None
        for pair_id in pairs:
            point = acknowledged(lab, pair_id)
            if not seen[pair_id] or point != seen[pair_id][-1]:
                seen[pair_id].append(point)
        return True

    wait_for(moved, "every pair to acknowledge a new point", timeout=120)


@pytest.mark.slow
def test_a_vm_is_replicated_cycle_after_cycle_through_azure_apis_only(lab: Lab, endpoint: LocalAzure, tmp_path: Path):
    vm = Vm.create(endpoint, "snapvm1", [8 * MIB, 4 * MIB])
    guest = Guest(vm.disks, seed=11)
    guest.scribble(120)
    pairs = [f"{vm.name}-0", f"{vm.name}-1"]
    put_vm(lab, vm, tmp_path)
    seen: dict[str, list[str]] = {p: [] for p in pairs}
    guest.start()
    try:
        for _ in range(4):
            wait_for_new_points(lab, pairs, seen, vm)
    finally:
        guest.stop()
    assert guest.writes > 0
    status = lab.source_status(pairs[0])
    assert status.state == pairs_pb2.PAIR_STATE_REPLICATING
    assert status.HasField("point_age_seconds")

    # Incremental cycles: each image after a disk's first was listed against an older image of the same disk and
    # read exactly where the two differ; the first was resynced by reading its allocated pages only.
    reads = reads_by_image(endpoint)
    for disk in vm.disks:
        images = sorted((r for r in reads.values() if r.image.disk is disk), key=lambda r: r.image.order)
        assert len(images) >= 4, [r.image.name for r in images]
        first, later = images[0], images[1:]
        assert not first.bases
        assert 0 < first.data_bytes <= first.image.allocated.total
        for current in later:
            (base,) = current.bases
            base_image = next(r.image for r in images if r.image.name == base)
            assert base_image.order < current.image.order
            changed = differing_bytes(
                image_file(endpoint, base.rsplit("-", 1)[0], disk),
                image_file(endpoint, current.image.name.rsplit("-", 1)[0], disk),
                disk.size,
            )
            assert current.data_bytes == changed, current.image.name

    # Deleting the VM's pairs retires its group: no snapshot is left in Azure.
    with lab.channel(lab.ps) as channel:
        stub = pairs_pb2_grpc.SourcePairsStub(channel)
        for pair_id in pairs:
            stub.DeletePair(pairs_pb2.DeletePairRequest(pair_id=pair_id), timeout=120)
    assert vm.snapshots() == []

    # The oracle: the master target's disk brought to each of its points equals the snapshot of that point.
    for index, disk in enumerate(vm.disks):
        digests = point_digests(lab, pairs[index])
        assert set(seen[pairs[index]]) <= set(digests)
        for point, digest in digests.items():
            assert digest == image_digest(image_file(endpoint, point, disk), disk.size), point


@pytest.mark.slow
def test_a_process_server_killed_between_snapshot_and_acknowledgement_leaves_no_orphan(
    lab: Lab, endpoint: LocalAzure, controller: ControllerProcess, tmp_path: Path
):
    vm = Vm.create(endpoint, "snapvm2", [4 * MIB, 4 * MIB])
    guest = Guest(vm.disks, seed=12)
    guest.scribble(40)
    ps = start_agent(
        controller, tmp_path, "ps-azure-kill", Role.PROCESS_SERVER, extra=LAB + azure_section(endpoint, tmp_path / "s")
    )
    mine = dataclasses.replace(lab, ps=ps)
    pairs = [f"{vm.name}-0", f"{vm.name}-1"]
    put_vm(mine, vm, tmp_path, sender=ps)
    seen: dict[str, list[str]] = {p: [] for p in pairs}
    wait_for_new_points(mine, pairs, seen, vm)
    guest.scribble(20)

    # Azure creates the next snapshot, but its answer never arrives (the process server keeps asking): kill it there.
    puts = len([r for r in endpoint.requests if r.method == "PUT" and "/snapshots/" in r.path])
    endpoint.inject(Fault(path=r"/snapshots/[^/]+$", method="PUT", status=500, times=None, drop=True))

    def created() -> str | None:
        found = [r for r in endpoint.requests if r.method == "PUT" and "/snapshots/" in r.path][puts:]
        return found[0].path.rsplit("/", 1)[-1] if found else None

    orphan = wait_for(created, "the next snapshot to be created", timeout=60)
    ps.service.process.kill()
    ps.service.process.wait(10)
    ps.service.notify.close()
    endpoint.clear_faults()
    assert orphan.lower() in {s.name.lower() for s in vm.snapshots()}

    ps = restart(ps, tmp_path)
    mine = dataclasses.replace(lab, ps=ps)
    wait_for_new_points(mine, pairs, seen, vm)
    assert orphan.lower() not in {s.name.lower() for s in vm.snapshots()}
    deletes = [r for r in endpoint.requests if r.method == "DELETE" and r.path.lower().endswith(f"/{orphan.lower()}")]
    assert deletes
    assert ps.stop() == 0, ps.service.log()
    assert SECRET not in ps.service.log()
    # Every snapshot in Azure is one the process server's state records: none is unaccounted for.
    (state_file,) = (ps.state_dir / "snapshots").glob(f"snapshots-{vm.name}-*.json")
    state = json.loads(state_file.read_text())
    recorded = {i["name"].lower() for p in state["points"].values() for i in p["images"].values()}
    assert {s.name.lower() for s in vm.snapshots()} == recorded
    assert state["doomed"] == []
    for index, disk in enumerate(vm.disks):
        point = seen[pairs[index]][-1]
        digest = point_digests(mine, pairs[index])[point]
        assert digest == image_digest(image_file(endpoint, point, disk), disk.size)


def test_the_pairs_of_one_vm_share_one_schedule(lab: Lab, endpoint: LocalAzure):
    vm = Vm.create(endpoint, "snapvm3", [1 * MIB, 1 * MIB])
    first = vm.source(lab, f"{vm.name}-0", vm.disks[0], INTERVAL)
    lab.put_source(first)
    other = vm.source(lab, f"{vm.name}-1", vm.disks[1], INTERVAL * 2)
    with pytest.raises(grpc.RpcError) as refused:
        lab.put_source(other)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"the pairs of VM {vm.name} ({vm.name}-0) take a point every {INTERVAL:g} s" in refused.value.details()
    other.azure.interval_seconds = INTERVAL
    assert lab.put_source(other).pair.azure.interval_seconds == INTERVAL
    # A VM's pairs cannot both read one disk.
    twin = vm.source(lab, f"{vm.name}-2", vm.disks[0], INTERVAL)
    with pytest.raises(grpc.RpcError) as same_disk:
        lab.put_source(twin)
    assert same_disk.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"pair {vm.name}-0 already reads disk" in same_disk.value.details()
    with lab.channel(lab.ps) as channel:
        stub = pairs_pb2_grpc.SourcePairsStub(channel)
        for pair_id in (f"{vm.name}-0", f"{vm.name}-1"):
            stub.DeletePair(pairs_pb2.DeletePairRequest(pair_id=pair_id), timeout=60)
        listed = stub.ListPairs(pairs_pb2.ListPairsRequest(), timeout=10)
    assert not [p for p in listed.pairs if p.pair.pair_id.startswith(vm.name)]


@pytest.mark.slow
def test_a_vm_restore_point_brings_every_disk_of_the_vm_to_one_instant(lab: Lab, endpoint: LocalAzure, tmp_path: Path):
    """Crash-consistent restore points (Azure allows one an hour: this is the first cycle only): both pairs reach the
    same point, and each disk on the master target is that restore point's image of it."""
    vm = Vm.create(endpoint, "snapvm4", [4 * MIB, 2 * MIB])
    Guest(vm.disks, seed=14).scribble(60)
    pairs = [f"{vm.name}-0", f"{vm.name}-1"]
    put_vm(lab, vm, tmp_path, consistency=pairs_pb2.POINT_CONSISTENCY_CRASH_RESTORE_POINTS, interval=3600)
    seen: dict[str, list[str]] = {p: [] for p in pairs}
    wait_for_new_points(lab, pairs, seen, vm)
    assert seen[pairs[0]] == seen[pairs[1]]
    (point,) = seen[pairs[0]]
    assert vm.snapshots() == []  # no per-disk snapshot: one restore point holds both disks
    for index, disk in enumerate(vm.disks):
        digest = point_digests(lab, pairs[index])[point]
        assert digest == image_digest(image_file(endpoint, point, disk), disk.size)
    with lab.channel(lab.ps) as channel:
        stub = pairs_pb2_grpc.SourcePairsStub(channel)
        for pair_id in pairs:
            stub.DeletePair(pairs_pb2.DeletePairRequest(pair_id=pair_id), timeout=120)
    assert not [c for c in endpoint.disks.collections.values() if c.source_vm.lower().endswith(f"/{vm.name}")]
