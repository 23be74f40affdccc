"""Agents' heartbeats: the latest report of each agent, overwritten in place (one row per agent)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from controller.store._conditional import changed
from controller.store._database import Database
from controller.store._models import Agent, AgentStatus
from controller.store.errors import AgentNotFound

__all__ = ["AgentStatusStore", "HeartbeatRow"]


@dataclass(frozen=True)
class HeartbeatRow:
    agent_name: str
    received_at: dt.datetime
    sent_at: dt.datetime
    started_at: dt.datetime
    version: str
    problems: tuple[str, ...]
    capacity: dict[str, Any]
    heartbeats: int


class AgentStatusStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def record(
        self,
        name: str,
        *,
        version: str,
        sent_at: dt.datetime,
        started_at: dt.datetime,
        problems: list[str],
        capacity: dict[str, Any],
        now: dt.datetime,
    ) -> None:
        """Keep the newest heartbeat of an active agent; a late, older one (by the agent's clock) is ignored.
        The agent's recorded version follows what it reports, so an upgrade shows without re-registering."""
        values = {
            "received_at": now,
            "sent_at": sent_at,
            "started_at": started_at,
            "version": version,
            "problems": problems,
            "capacity": capacity,
        }
        for _attempt in range(2):
            try:
                with self._db.session() as session:
                    agent = session.get(Agent, name)
                    if agent is None or agent.state != "active":
                        raise AgentNotFound(f"{name!r} is not an active agent", remedy="register it again")
                    if agent.version != version:
                        session.execute(update(Agent).where(Agent.name == name).values(version=version))
                    newer = changed(
                        session,
                        update(AgentStatus)
                        .where(AgentStatus.agent_name == name, AgentStatus.sent_at <= sent_at)
                        .values(heartbeats=AgentStatus.heartbeats + 1, **values),
                    )
                    if not newer and session.get(AgentStatus, name) is None:
                        session.add(AgentStatus(agent_name=name, heartbeats=1, **values))
            except IntegrityError:
                continue  # two first heartbeats raced to insert: the second one updates instead
            return

    def latest(self) -> dict[str, HeartbeatRow]:
        with self._db.session() as session:
            return {row.agent_name: _row(row) for row in session.scalars(select(AgentStatus))}


def _row(row: AgentStatus) -> HeartbeatRow:
    return HeartbeatRow(
        agent_name=row.agent_name,
        received_at=row.received_at,
        sent_at=row.sent_at,
        started_at=row.started_at,
        version=row.version,
        problems=tuple(row.problems),
        capacity=dict(row.capacity),
        heartbeats=row.heartbeats,
    )
