"""Heartbeats in the store: the newest report per agent, only for active agents."""

import datetime as dt

import pytest

from controller.store import AgentNotFound, AgentStatusStore, Database, Enrollment

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def register(database: Database, name: str = "mt1") -> None:
    Enrollment(database).register_agent(
        name=name,
        role="master-target",
        version="0.1.0",
        hostname="h",
        serial=1,
        not_after=NOW + dt.timedelta(days=7),
        now=NOW,
    )


def beat(store: AgentStatusStore, sent_at: dt.datetime, version: str = "0.1.0", problems: list[str] | None = None):
    store.record(
        "mt1",
        version=version,
        sent_at=sent_at,
        started_at=NOW,
        problems=problems or [],
        capacity={"master_target": {"attached_disks": 3}},
        now=sent_at,
    )


def test_the_newest_heartbeat_is_kept_and_counted(database: Database):
    register(database)
    store = AgentStatusStore(database)
    beat(store, NOW)
    beat(store, NOW + dt.timedelta(seconds=30), problems=["retention volume missing"])
    row = store.latest()["mt1"]
    assert (row.heartbeats, row.sent_at, row.problems) == (
        2,
        NOW + dt.timedelta(seconds=30),
        ("retention volume missing",),
    )
    assert row.capacity == {"master_target": {"attached_disks": 3}}


def test_a_late_older_heartbeat_does_not_overwrite_a_newer_one(database: Database):
    register(database)
    store = AgentStatusStore(database)
    beat(store, NOW + dt.timedelta(seconds=30))
    beat(store, NOW, problems=["old news"])
    assert store.latest()["mt1"].problems == ()


def test_a_reported_upgrade_updates_the_agent_version(database: Database):
    register(database)
    beat(AgentStatusStore(database), NOW, version="0.2.0")
    assert Enrollment(database).agent("mt1").version == "0.2.0"


def test_a_revoked_agent_cannot_report(database: Database):
    register(database)
    Enrollment(database).revoke_agent("mt1", NOW)
    with pytest.raises(AgentNotFound):
        beat(AgentStatusStore(database), NOW)
