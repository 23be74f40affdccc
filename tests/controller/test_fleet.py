"""The version rule (master target <= process server <= controller) and health from heartbeats."""

import datetime as dt

import pytest

from controller.fleet import (
    Health,
    MasterTargetCapacity,
    Part,
    ProcessServerCapacity,
    RetentionVolume,
    VersionMismatch,
    assess,
    capacity_from_json,
    check_versions,
    release,
    version_problems,
)

CONTROLLER = Part("controller", "", "1.4.0")


@pytest.mark.parametrize(
    ("text", "numbers"), [("1.4.2", (1, 4, 2)), ("1.4", (1, 4)), ("1.4.0", (1, 4)), ("v2.0.1rc1+g3f", (2, 0, 1))]
)
def test_versions_compare_by_release_numbers(text: str, numbers: tuple[int, ...]):
    assert release(text) == numbers


def test_an_unreadable_version_is_refused_with_a_remedy():
    with pytest.raises(VersionMismatch, match="cannot read the version 'unknown'"):
        release("unknown")


def test_equal_and_ascending_versions_pass():
    check_versions(CONTROLLER, Part("process server", "ps1", "1.4"), Part("master target", "mt1", "1.3.9"))


def test_a_process_server_newer_than_the_controller_says_to_upgrade_the_controller():
    with pytest.raises(VersionMismatch) as refused:
        check_versions(CONTROLLER, Part("process server", "ps1", "1.5.0"))
    assert str(refused.value.message) == (
        "process server ps1 (1.5.0) is newer than controller (1.4.0): "
        "failback needs master target <= process server <= controller"
    )
    assert refused.value.remedy.startswith("upgrade the controller to 1.5.0 or later")


def test_a_master_target_newer_than_its_process_server_says_to_upgrade_the_process_server():
    with pytest.raises(VersionMismatch) as refused:
        check_versions(CONTROLLER, Part("process server", "ps1", "1.3.0"), Part("master target", "mt1", "1.4.0"))
    assert refused.value.remedy.startswith("upgrade the process server ps1 to 1.4.0 or later")


def test_every_broken_pair_is_reported():
    problems = version_problems(
        CONTROLLER,
        [Part("process server", "ps1", "1.4"), Part("process server", "ps2", "1.2")],
        [Part("master target", "mt1", "1.3"), Part("master target", "mt2", "1.5")],
    )
    assert sorted(problem.message.split(" is newer")[0] for problem in problems) == [
        "master target mt1 (1.3)",
        "master target mt2 (1.5)",
        "master target mt2 (1.5)",
        "master target mt2 (1.5)",
    ]


NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
STALE = dt.timedelta(seconds=90)


def health(**changes):
    facts = {
        "state": "active",
        "last_heartbeat": NOW - dt.timedelta(seconds=10),
        "reported_problems": (),
        "capacity": None,
        "now": NOW,
        "stale_after": STALE,
    } | changes
    return assess(**facts)


def test_a_recent_heartbeat_without_problems_is_ok():
    assert health().health == Health.OK


def test_an_agent_never_heard_from_is_unknown():
    assert health(last_heartbeat=None).health == Health.UNKNOWN


def test_a_silent_agent_is_stale_and_told_what_to_check():
    verdict = health(last_heartbeat=NOW - dt.timedelta(seconds=91))
    assert verdict.health == Health.STALE
    assert "no heartbeat for 91 s" in verdict.problems[0]


def test_reported_problems_degrade_the_agent():
    verdict = health(reported_problems=("retention volume /mnt/r is not mounted",))
    assert (verdict.health, verdict.problems) == (Health.DEGRADED, ("retention volume /mnt/r is not mounted",))


def test_a_master_target_at_the_60_disk_limit_is_degraded():
    verdict = health(capacity=MasterTargetCapacity(attached_disks=60))
    assert verdict.health == Health.DEGRADED
    assert "at the limit of 60" in verdict.problems[0]
    assert health(capacity=MasterTargetCapacity(attached_disks=59)).health == Health.OK


def test_a_nearly_full_retention_volume_is_degraded():
    volume = RetentionVolume("/mnt/retention", capacity_bytes=100 << 30, free_bytes=10 << 30)
    verdict = health(capacity=MasterTargetCapacity(attached_disks=2, retention_volumes=(volume,)))
    assert verdict.problems == ("retention volume /mnt/retention is 90% full; grow it or shorten retention",)


def test_unmeasured_capacity_is_not_a_problem():
    assert health(capacity=MasterTargetCapacity()).health == Health.OK


def test_capacity_round_trips_through_its_stored_form():
    mt = MasterTargetCapacity(attached_disks=4, retention_volumes=(RetentionVolume("/r", 10, 5),))
    ps = ProcessServerCapacity(backlog_bytes=1 << 20, throughput_bytes_per_second=None)
    assert capacity_from_json(mt.to_json()) == mt
    assert capacity_from_json(ps.to_json()) == ps
    assert capacity_from_json({}) is None


def test_revoked_agents_are_not_judged_further():
    assert health(state="revoked", last_heartbeat=None).health == Health.REVOKED
