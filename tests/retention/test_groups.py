"""Consistency groups: a group point exists only when every member holds it; bringing a group moves every member,
or none."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.journal import (
    FaultPlan,
    JournalFailed,
    LatestGroup,
    PairJournal,
    PairSpec,
    PairState,
    PointId,
    RecordingIO,
)
from agent.retention import GroupError, GroupRegistry
from tests.journal.support import SMALL, Clock, Source, make_target, read

SIZE = 16 * 4096


def member(tmp_path, name: str, clock: Clock) -> tuple[Source, PairJournal]:
    source = Source(SIZE)
    target = make_target(str(tmp_path / f"{name}.disk"), SIZE)
    journal = PairJournal.open(str(tmp_path / name), PairSpec(name, 1, SIZE), target, clock=clock, options=SMALL)
    journal.append(source.initial_sync())
    return source, journal


@pytest.fixture
def group(tmp_path):
    clock = Clock()
    members = {name: member(tmp_path, name, clock) for name in ("disk-a", "disk-b")}
    registry = GroupRegistry()
    for _, journal in members.values():
        registry.add("vm1", journal)
    yield registry, members
    for _, journal in members.values():
        journal.close()


def test_a_group_point_is_not_exposed_until_every_member_holds_it(group) -> None:
    registry, members = group
    (src_a, a), (src_b, b) = members["disk-a"], members["disk-b"]
    a.append(src_a.batch([src_a.random_write(), src_a.bookmark("g1", group="vm1")]))
    assert registry.points("vm1") == []
    with pytest.raises(GroupError):
        registry.bring_to("vm1", PointId("g1"))
    b.append(src_b.batch([src_b.random_write(), src_b.bookmark("g1", group="vm1")]))
    assert [p.id for p in registry.points("vm1")] == ["g1"]


def test_a_point_of_the_same_id_for_another_group_does_not_count(group) -> None:
    registry, members = group
    (src_a, a), (src_b, b) = members["disk-a"], members["disk-b"]
    a.append(src_a.batch([src_a.bookmark("g1", group="vm1")]))
    b.append(src_b.batch([src_b.bookmark("g1", group="other")]))
    assert registry.points("vm1") == []


def test_bringing_a_group_to_its_latest_point_moves_every_member_there(group) -> None:
    registry, members = group
    for source, journal in members.values():
        journal.append(source.batch([source.random_write(), source.bookmark("g1", group="vm1")]))
        journal.append(source.batch([source.random_write(), source.bookmark("g2", group="vm1")]))
        journal.append(source.batch([source.random_write()]))
    assert set(registry.bring_to("vm1", LatestGroup("vm1"))) == {"disk-a", "disk-b"}
    for source, journal in members.values():
        assert read(journal.target.path) == source.at_point["g2"]
    registry.cancel("vm1")
    for source, journal in members.values():
        assert read(journal.target.path) == bytes(source.content)


def test_if_one_member_cannot_move_the_others_are_returned(tmp_path) -> None:
    clock = Clock()
    src_a, a = member(tmp_path, "disk-a", clock)
    src_b = Source(SIZE)
    io = RecordingIO(str(tmp_path))
    b = PairJournal.open(
        str(tmp_path / "disk-b"),
        PairSpec("disk-b", 1, SIZE),
        make_target(str(tmp_path / "disk-b.disk"), SIZE),
        io=io,
        clock=clock,
        options=SMALL,
    )
    b.append(src_b.initial_sync())
    registry = GroupRegistry()
    registry.add("vm1", a)
    registry.add("vm1", b)
    for source, journal in ((src_a, a), (src_b, b)):
        journal.append(source.batch([source.random_write(), source.bookmark("g1", group="vm1")]))
        journal.append(source.batch([source.random_write()]))
    io.faults = FaultPlan(fail_fsync_at=io.fsyncs + 1)  # disk-b's retention volume fails mid-failover
    with pytest.raises(JournalFailed):
        registry.bring_to("vm1", PointId("g1"))
    assert a.pair_state is PairState.REPLICATING
    assert read(a.target.path) == bytes(src_a.content)
    a.close()
    b.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(["disk-a", "disk-b"]), st.booleans()), min_size=1, max_size=16))
def test_the_group_lists_exactly_the_points_every_member_holds_and_each_is_exact(tmp_path_factory, steps) -> None:
    root = tmp_path_factory.mktemp("group")
    clock = Clock()
    members = {name: member(root, name, clock) for name in ("disk-a", "disk-b")}
    registry = GroupRegistry()
    marks = dict.fromkeys(members, 0)
    try:
        for name, mark in steps:
            source, journal = members[name]
            entries = [source.random_write()]
            if mark:
                marks[name] += 1
                entries.append(source.bookmark(f"g{marks[name]}", group="vm1"))
            journal.append(source.batch(entries))
            registry.add("vm1", journal)
            if len(registry.members("vm1")) < 2:
                continue
            held = [{p.id for p in j.points() if p.group == "vm1"} for _, j in members.values()]
            assert {p.id for p in registry.points("vm1")} == held[0] & held[1]
        if len(registry.members("vm1")) == 2 and registry.points("vm1"):
            newest = registry.points("vm1")[-1].id
            registry.bring_to("vm1", LatestGroup("vm1"))
            for source, journal in members.values():
                assert read(journal.target.path) == source.at_point[newest]
            registry.cancel("vm1")
    finally:
        for _, journal in members.values():
            journal.close()
