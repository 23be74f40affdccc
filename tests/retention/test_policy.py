"""Thinning follows the schedule under a simulated clock; the window prunes; the RPO warning fires and clears."""

from __future__ import annotations

import pytest

from agent.journal import BookmarkKind, HealthState, PointKind, RecoveryPoint
from agent.retention import RetentionPolicy, ThinningRule
from tests.journal.support import Clock, Source, open_journal

HOUR = 3600.0
NOW = 1_700_000_000.0 - 1_700_000_000.0 % HOUR  # on an hour boundary, so the buckets are easy to count


def points_every(seconds: float, span: float, kind: PointKind = PointKind.CRASH) -> list[RecoveryPoint]:
    count = int(span // seconds)
    return [RecoveryPoint(f"p{i}", kind, NOW - i * seconds, count - i) for i in range(count)]


def test_default_thinning_keeps_all_for_two_hours_then_one_per_hour_within_the_window() -> None:
    points = points_every(30, 24 * HOUR)
    kept = RetentionPolicy().keep(points, NOW)
    recent = [p for p in points if NOW - p.time < 2 * HOUR]
    older = [p for p in points if NOW - p.time >= 2 * HOUR and p.id in kept]
    assert {p.id for p in recent} <= kept
    hours = {int(p.time // HOUR) for p in points if NOW - p.time >= 2 * HOUR}
    assert len(hours) == 23  # 22 whole hours plus the boundary point aged exactly 2 h
    assert {int(p.time // HOUR) for p in older} == hours
    assert len(older) == len(hours)


def test_points_beyond_24_hours_keep_one_per_two_hours_and_none_beyond_the_window() -> None:
    policy = RetentionPolicy(window=72 * HOUR)
    points = points_every(600, 80 * HOUR)
    kept = policy.keep(points, NOW)
    beyond = [p for p in points if 24 * HOUR <= NOW - p.time <= 72 * HOUR and p.id in kept]
    assert 23 <= len(beyond) <= 25  # 48 hours at one per two hours, bucket edges included
    assert not [p for p in points if NOW - p.time > 72 * HOUR and p.id in kept]


def test_thinning_prefers_an_application_consistent_point_in_each_bucket() -> None:
    crash = points_every(600, 6 * HOUR)
    app = RecoveryPoint("app", PointKind.APP, NOW - 4 * HOUR - 1200, 0)
    kept = RetentionPolicy().keep([*crash, app], NOW)
    bucket = int(app.time // HOUR)
    assert "app" in kept
    assert not [p for p in crash if int(p.time // HOUR) == bucket and p.id in kept]


def test_thinning_is_stable_as_time_moves_on() -> None:
    policy = RetentionPolicy()
    points = points_every(300, 12 * HOUR)
    first = policy.keep(points, NOW)
    later = policy.keep([p for p in points if p.id in first], NOW + 1800)
    # A point chosen for its hour stays chosen as the hour ages; points leaving the 2 h span get thinned.
    chosen_for_their_hour = {p.id for p in points if p.id in first and NOW - p.time >= 2 * HOUR}
    assert chosen_for_their_hour
    assert chosen_for_their_hour <= later
    assert len(later) < len(first)


def test_a_custom_schedule_is_honoured() -> None:
    policy = RetentionPolicy(window=6 * HOUR, thinning=(ThinningRule(0, 0), ThinningRule(HOUR, 2 * HOUR)))
    kept = policy.keep(points_every(600, 6 * HOUR), NOW)
    assert len(kept) == 6 + 3  # the last hour whole, then one per two-hour bucket


def test_an_invalid_policy_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="threshold_pct"):
        RetentionPolicy(threshold_pct=120)
    with pytest.raises(ValueError, match="sorted"):
        RetentionPolicy(thinning=(ThinningRule(HOUR, 0), ThinningRule(0, HOUR)))


def test_pruning_under_a_simulated_clock_follows_the_schedule_and_keeps_the_newest_point(tmp_path) -> None:
    clock = Clock(NOW)
    source = Source(16 * 4096)
    journal = open_journal(str(tmp_path), 16 * 4096, clock=clock)
    journal.append(source.initial_sync())
    for i in range(6 * 12):  # six hours, a point every five minutes
        clock.advance(300)
        journal.append(source.batch([source.random_write(2), source.bookmark(f"p{i}", BookmarkKind.CRASH)]))
    journal.apply_pending()
    journal.prune()
    times = [p.time for p in journal.points()]
    assert len([t for t in times if clock.now - t < 2 * HOUR]) == 24
    assert len([t for t in times if clock.now - t >= 2 * HOUR]) == 5  # four whole hours and the 2 h boundary
    clock.advance(48 * HOUR)
    journal.prune()
    assert [p.id for p in journal.points()] == ["p71"]  # out of the window, but the newest point stays
    journal.close()


def test_the_rpo_warning_fires_when_no_point_is_recent_and_clears_with_the_next_point(tmp_path) -> None:
    clock = Clock(NOW)
    source = Source(16 * 4096)
    policy = RetentionPolicy(rpo_threshold=900)
    journal = open_journal(str(tmp_path), 16 * 4096, clock=clock, policy=policy)
    journal.append(source.initial_sync())
    assert journal.health().state is HealthState.OK
    clock.advance(901)
    health = journal.health()
    assert health.state is HealthState.WARNING
    assert "RPO 901 s exceeds the threshold of 900 s" in health.reasons
    journal.append(source.batch([source.random_write(1)]))  # the engine adds a crash point: interval passed
    assert journal.health().state is HealthState.OK
    journal.close()
