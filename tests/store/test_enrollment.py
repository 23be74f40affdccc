"""Tokens and agents in the state store, on SQLite and PostgreSQL."""

import datetime as dt
import threading

import pytest
from sqlalchemy import text

from controller.store import AgentExists, Database, Enrollment, TokenExpired, TokenInvalid, TokenLocked, TokenUsed

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def test_a_token_is_spent_once(database: Database):
    enrollment = Enrollment(database)
    issued = enrollment.create_token("master-target", dt.timedelta(hours=1), NOW)
    assert enrollment.redeem_token(issued.token, "mt1", NOW).role == "master-target"
    with pytest.raises(TokenUsed, match="already used by 'mt1'"):
        enrollment.redeem_token(issued.token, "mt2", NOW)


def test_two_concurrent_redemptions_of_one_token_cannot_both_win(database: Database):
    enrollment = Enrollment(database)
    issued = enrollment.create_token("process-server", dt.timedelta(hours=1), NOW)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            enrollment.redeem_token(issued.token, f"ps{n}", NOW)
            results.append("won")
        except TokenUsed:
            results.append("lost")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["lost"] * 7 + ["won"]


def test_an_expired_token_is_refused(database: Database):
    enrollment = Enrollment(database)
    issued = enrollment.create_token("master-target", dt.timedelta(minutes=5), NOW)
    with pytest.raises(TokenExpired):
        enrollment.redeem_token(issued.token, "mt1", NOW + dt.timedelta(minutes=5))


def test_wrong_secrets_lock_the_token_even_for_the_right_secret(database: Database):
    enrollment = Enrollment(database)
    issued = enrollment.create_token("master-target", dt.timedelta(hours=1), NOW)
    prefix = issued.token.rsplit(".", 1)[0]
    for _ in range(5):
        with pytest.raises(TokenInvalid):
            enrollment.redeem_token(prefix + ".guess", "mt1", NOW)
    with pytest.raises(TokenLocked):
        enrollment.redeem_token(issued.token, "mt1", NOW)


def test_only_a_hash_of_the_secret_is_stored(database: Database):
    issued = Enrollment(database).create_token("master-target", dt.timedelta(hours=1), NOW)
    secret = issued.token.rsplit(".", 1)[1]
    with database.engine.connect() as connection:
        rows = [str(row) for row in connection.execute(text("SELECT * FROM tokens"))]
    assert rows
    assert not any(secret in row for row in rows)


def test_an_active_name_cannot_be_registered_twice_but_a_revoked_one_can(database: Database):
    enrollment = Enrollment(database)
    enrollment.register_agent(
        name="mt1",
        role="master-target",
        version="1",
        hostname="h",
        serial=1,
        not_after=NOW + dt.timedelta(days=7),
        now=NOW,
    )
    with pytest.raises(AgentExists):
        enrollment.register_agent(
            name="mt1",
            role="master-target",
            version="1",
            hostname="h",
            serial=2,
            not_after=NOW + dt.timedelta(days=7),
            now=NOW,
        )
    row, count = enrollment.revoke_agent("mt1", NOW)
    assert (row.state, count) == ("revoked", 1)
    assert enrollment.revoked_serials(NOW) == {1}
    enrollment.register_agent(
        name="mt1",
        role="master-target",
        version="2",
        hostname="h",
        serial=3,
        not_after=NOW + dt.timedelta(days=7),
        now=NOW,
    )
    assert enrollment.agent("mt1").state == "active"
    assert enrollment.is_revoked(1)
    assert not enrollment.is_revoked(3)


def test_serials_wider_than_any_sql_integer_round_trip(database: Database):
    enrollment = Enrollment(database)
    serial = (1 << 158) + 12345
    enrollment.register_agent(
        name="mt1",
        role="master-target",
        version="1",
        hostname="h",
        serial=serial,
        not_after=NOW + dt.timedelta(days=7),
        now=NOW,
    )
    enrollment.revoke_agent("mt1", NOW)
    assert enrollment.revoked_serials(NOW) == {serial}
