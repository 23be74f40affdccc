"""What Azure does to a running source: snapshots deleted under a cycle, read grants that run out or are refused,
throttling (429 and 503 ServerBusy with Retry-After) and lost answers, leftovers of a crash found by tag, and the
bound on the points kept while a pair lags."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.dataplane import BLOCK_SIZE, BandwidthLimiter, DiskHasher
from agent.snapshots import AzureImages, SnapshotGroup, SnapshotPolicy, SnapshotSource
from agent.snapshots.errors import AzureRejected
from lab.azure import Fault, LocalAzure
from lab.azure._disks import ManagedDisk

from ._helpers import Guest, Replica, SimClock, StaticToken, azure_config, blocks_of, expected_blocks
from .conftest import GroupFactory, disk_id

INTERVAL = 300.0


class Tripwire(BandwidthLimiter):
    """An unlimited limiter that runs ``action`` just before the ``at``-th ranged read of the data phase: the
    source asks it before every GET, so the action happens in the middle of a cycle's reads."""

    def __init__(self) -> None:
        super().__init__(None)
        self.calls = 0
        self.at: int | None = None
        self.action: Callable[[], None] = lambda: None

    def arm(self, at: int, action: Callable[[], None]) -> None:
        self.calls, self.at, self.action = 0, at, action

    def acquire(self, pair: str, nbytes: int, *, timeout: float | None = None) -> None:
        self.calls += 1
        if self.calls == self.at:
            self.action()
        super().acquire(pair, nbytes, timeout=timeout)


def setup(
    tmp_path: Path,
    lab: LocalAzure,
    disk: ManagedDisk,
    make_group: GroupFactory,
    *,
    policy: SnapshotPolicy | None = None,
    remote: bool = False,
    limiter: BandwidthLimiter | None = None,
) -> tuple[Guest, SnapshotSource, Replica]:
    """A pair whose first cycle is done and acknowledged, with the guest's next changes written."""
    guest = Guest(disk, seed=11)
    guest.scribble(30, align=BLOCK_SIZE)
    group = make_group({"p1": disk}, policy=policy or SnapshotPolicy(read_threads=1))
    target = tmp_path / "target-p1"
    with open(target, "wb") as handle:
        handle.truncate(disk.size)
    source = SnapshotSource(
        group, "p1", target_empty=True, remote=DiskHasher(target) if remote else None, limiter=limiter
    )
    rep = Replica(
        tmp_path,
        source,
        pair="p1",
        size=disk.size,
        lab=lab,
        disk=disk,
        on_acknowledged=source.acknowledged,
        target=target,
    )
    rep.pump()
    guest.mark()
    guest.scribble(60, align=BLOCK_SIZE, trims=0.1)
    return guest, source, rep


def current_image(lab: LocalAzure, source: SnapshotSource) -> str:
    return source.group.points()[-1].images["p1"].name


def grants_of(lab: LocalAzure, name: str) -> int:
    return len([r for r in lab.requests if r.method == "POST" and r.path.endswith(f"/snapshots/{name}/beginGetAccess")])


def test_a_snapshot_deleted_during_its_cycle_is_replaced_and_the_target_converges(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    tripwire = Tripwire()
    _guest, source, rep = setup(tmp_path, lab, os_disk, make_group, limiter=tripwire)
    deleted: list[str] = []

    def delete_current() -> None:
        deleted.append(current_image(lab, source))
        assert lab.disks.delete_snapshot("rg-dr", deleted[0])

    tripwire.arm(5, delete_current)
    clock.advance(INTERVAL)
    rep.pump()
    assert deleted, "the cycle ended before the snapshot could be deleted under it"
    assert len(rep.verified) == 2  # the replacement point's bookmark, with the target equal to its snapshot
    assert rep.verified[1].id != deleted[0].rsplit("-", 1)[0]
    source.group.tidy()
    assert {s.name for s in lab.disks.snapshots.values()} == {current_image(lab, source)}


def test_a_deleted_base_turns_the_next_cycle_into_a_hash_resync(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    guest, source, rep = setup(tmp_path, lab, os_disk, make_group, remote=True)
    read, zero = expected_blocks(guest.mark())
    assert lab.disks.delete_snapshot("rg-dr", current_image(lab, source))
    clock.advance(INTERVAL)
    rep.pump()
    assert len(rep.verified) == 2
    stats = source.last_cycle
    assert stats is not None
    assert stats.mode == "scan"
    assert blocks_of(rep.blocks[1]) <= read | zero  # only blocks that differ from the target crossed the wire
    image = lab.disks.snapshot("rg-dr", current_image(lab, source))
    assert image is not None
    assert stats.read.data_bytes == image.allocated.total


def test_a_sas_refused_mid_read_is_renewed_and_the_cycle_completes(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    tripwire = Tripwire()
    _guest, source, rep = setup(tmp_path, lab, os_disk, make_group, limiter=tripwire)
    expired: list[str] = []

    def expire() -> None:
        expired.append(current_image(lab, source))
        image = lab.disks.snapshot("rg-dr", expired[0])
        assert image is not None
        lab.disks.expire(image)

    tripwire.arm(5, expire)
    clock.advance(INTERVAL)
    rep.pump()
    assert expired
    assert len(rep.verified) == 2
    stats = source.last_cycle
    assert stats is not None
    assert stats.read.renewals >= 1
    assert grants_of(lab, expired[0]) == 2


def test_a_grant_about_to_run_out_is_renewed_before_it_is_used(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    policy = SnapshotPolicy(read_threads=1, sas_seconds=300)
    tripwire = Tripwire()
    _guest, source, rep = setup(tmp_path, lab, os_disk, make_group, policy=policy, limiter=tripwire)
    moved: list[bool] = []

    def later() -> None:
        moved.append(True)
        clock.advance(400)  # past the grant's 300 s: the endpoint would refuse the old SAS now

    tripwire.arm(5, later)
    clock.advance(INTERVAL)
    rep.pump()
    assert moved
    assert len(rep.verified) == 2
    stats = source.last_cycle
    assert stats is not None
    assert stats.read.renewals == 0
    assert grants_of(lab, current_image(lab, source)) == 2


@pytest.mark.parametrize(("status", "code"), [(429, "TooManyRequests"), (503, "ServerBusy")])
def test_throttled_blob_requests_wait_out_retry_after_then_succeed(
    tmp_path: Path,
    lab: LocalAzure,
    clock: SimClock,
    os_disk: ManagedDisk,
    make_group: GroupFactory,
    status: int,
    code: str,
) -> None:
    tripwire = Tripwire()
    guest, _source, rep = setup(tmp_path, lab, os_disk, make_group, limiter=tripwire)
    read, zero = expected_blocks(guest.mark())
    lab.inject(Fault(path=r"/abcd$", method="GET", status=status, code=code, retry_after=7, times=2))
    tripwire.arm(
        3, lambda: lab.inject(Fault(path=r"/abcd$", method="GET", status=status, code=code, retry_after=9, times=1))
    )
    clock.advance(INTERVAL)
    rep.pump()
    assert len(rep.verified) == 2
    assert blocks_of(rep.blocks[1]) == read | zero
    assert clock.sleeps.count(7.0) == 2  # the page list, throttled twice
    assert clock.sleeps.count(9.0) == 1  # a ranged read


def test_the_sdk_retry_policy_honours_retry_after_on_ranged_reads(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    guest = Guest(os_disk, seed=12)
    guest.scribble(10, align=BLOCK_SIZE)
    with AzureImages(
        StaticToken(), lab.estate.subscription_id, config=azure_config(lab, clock, retry_total=2)
    ) as retrying:
        group = SnapshotGroup(
            "vm1",
            vm_resource_group="rg-dr",
            vm_name="web01",
            pairs={"p1": disk_id(lab, os_disk)},
            azure=retrying,
            state_dir=tmp_path / "state",
            clock=clock,
        )
        tripwire = Tripwire()
        tripwire.arm(1, lambda: lab.inject(Fault(path=r"/abcd$", method="GET", status=429, retry_after=1)))
        source = SnapshotSource(group, "p1", target_empty=True, limiter=tripwire)
        rep = Replica(
            tmp_path, source, pair="p1", size=os_disk.size, lab=lab, disk=os_disk, on_acknowledged=source.acknowledged
        )
        rep.pump()
        group.close()
    assert len(rep.verified) == 1
    assert clock.sleeps == []  # azure-core's RetryPolicy waited out the Retry-After (in real time), not our policy
    ranges = [r.headers.get("x-ms-range") for r in lab.requests if r.path.endswith("/abcd") and "comp" not in r.query]
    assert len(ranges) == len(set(ranges)) + 1  # the throttled read was sent again


@pytest.mark.parametrize("fault", ["throttled", "answer lost"])
def test_a_snapshot_create_that_fails_in_flight_is_retried_without_a_second_snapshot(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory, fault: str
) -> None:
    Guest(os_disk, seed=13).scribble(5, align=BLOCK_SIZE)
    if fault == "throttled":
        lab.inject(Fault(path=r"/snapshots/[^/]+$", method="PUT", status=429, retry_after=5))
    else:
        lab.inject(Fault(path=r"/snapshots/[^/]+$", method="PUT", status=0, drop=True))
    group = make_group({"p1": os_disk})
    source = SnapshotSource(group, "p1", target_empty=True)
    rep = Replica(
        tmp_path, source, pair="p1", size=os_disk.size, lab=lab, disk=os_disk, on_acknowledged=source.acknowledged
    )
    rep.pump()
    assert len(rep.verified) == 1
    assert len([r for r in lab.requests if r.method == "PUT" and "/snapshots/" in r.path]) == 2
    assert len(lab.disks.snapshots) == 1
    if fault == "throttled":
        assert 5.0 in clock.sleeps


def test_start_deletes_this_groups_leftovers_by_tag_and_nothing_else(
    lab: LocalAzure, azure: AzureImages, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    vm = azure.vm("rg-dr", "web01")
    disk = vm.disk(disk_id(lab, os_disk))
    azure.create_snapshot("rg-dr", "fb-vm1-00000007-aaaaaa", disk, vm.location, {"failback-group": "vm1"})
    azure.create_snapshot("rg-dr", "someone-elses", disk, vm.location, {"failback-group": "vm2"})
    azure.create_snapshot("rg-dr", "untagged", disk, vm.location, {})
    azure.grant(
        azure.create_snapshot("rg-dr", "fb-vm1-00000008-bbbbbb", disk, vm.location, {"failback-group": "vm1"})[0], 600
    )
    group = make_group({"p1": os_disk})
    cleanup = group.start()
    assert sorted(cleanup.deleted) == ["snapshot fb-vm1-00000007-aaaaaa", "snapshot fb-vm1-00000008-bbbbbb"]
    assert {s.name for s in lab.disks.snapshots.values()} == {"someone-elses", "untagged"}
    assert group.start().deleted == ()  # idempotent


def test_retire_deletes_every_point_of_the_group(
    tmp_path: Path, lab: LocalAzure, clock: SimClock, os_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    _guest, source, rep = setup(tmp_path, lab, os_disk, make_group)
    clock.advance(INTERVAL)
    rep.pump()
    assert lab.disks.snapshots
    source.group.retire()
    assert lab.disks.snapshots == {}
    assert source.group.points() == []


def test_a_lagging_pair_holds_points_back_within_the_bound(
    tmp_path: Path,
    lab: LocalAzure,
    clock: SimClock,
    os_disk: ManagedDisk,
    data_disk: ManagedDisk,
    make_group: GroupFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    group = make_group({"fast": os_disk, "slow": data_disk}, policy=SnapshotPolicy(max_points=3))
    fast = SnapshotSource(group, "fast", target_empty=True)
    slow = SnapshotSource(group, "slow", target_empty=True)
    fast_rep = Replica(
        tmp_path, fast, pair="fast", size=os_disk.size, lab=lab, disk=os_disk, on_acknowledged=fast.acknowledged
    )
    slow_rep = Replica(
        tmp_path,
        slow,
        pair="slow",
        size=data_disk.size,
        lab=lab,
        disk=data_disk,
        on_acknowledged=slow.acknowledged,
    )
    slow_guest = Guest(data_disk, seed=15)
    slow_rep.ack = True
    slow_rep.pump()  # the slow pair's first cycle is acknowledged...
    clock.advance(INTERVAL)
    slow_guest.scribble(5)
    slow_rep.ack = False
    slow_rep.pump()  # ...its second is not: it holds its base and its point
    guest = Guest(os_disk, seed=14)
    for _ in range(2):
        guest.scribble(5)
        fast_rep.pump()
        clock.advance(INTERVAL)
    caplog.set_level(logging.WARNING)
    guest.scribble(5)
    assert fast_rep.pump() == 0  # a fourth point would pass max_points: the fast pair waits
    assert len(group.points()) == 3
    assert "waits for lagging pairs" in caplog.text
    slow_rep.ack = True
    slow_rep.sender.acknowledge(slow_rep.receiver.watermark)
    assert fast_rep.pump() > 0
    assert len(group.points()) <= 3


def test_a_point_that_fails_half_way_leaves_no_snapshot_behind(
    tmp_path: Path, lab: LocalAzure, os_disk: ManagedDisk, data_disk: ManagedDisk, make_group: GroupFactory
) -> None:
    group = make_group({"a": os_disk, "b": data_disk})
    first, second = (f"fb-vm1-00000001-{hashlib.blake2s(p.encode(), digest_size=3).hexdigest()}" for p in "ab")
    lab.inject(Fault(path=f"/snapshots/{second}$", method="PUT", status=400, code="InvalidParameter"))
    lab.inject(Fault(path=f"/snapshots/{first}$", method="DELETE", status=409, times=None))  # Azure refuses for now
    source = SnapshotSource(group, "a", target_empty=True)
    rep = Replica(
        tmp_path, source, pair="a", size=os_disk.size, lab=lab, disk=os_disk, on_acknowledged=source.acknowledged
    )
    with pytest.raises(AzureRejected):
        rep.pump()
    assert {s.name for s in lab.disks.snapshots.values()} == {first}  # could not be deleted yet: recorded
    lab.clear_faults()
    rep.pump()  # the next cycle deletes the leftover first, then takes a new point
    assert len(rep.verified) == 1
    assert {s.name for s in lab.disks.snapshots.values()} == {i.name for i in group.points()[-1].images.values()}
    assert first not in {s.name for s in lab.disks.snapshots.values()}
