"""Registration tokens, agents and the certificates issued to them."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controller.store._conditional import changed as _changed
from controller.store._database import Database
from controller.store._models import Agent, Certificate, Token
from controller.store.errors import (
    AgentExists,
    AgentNotFound,
    TokenExpired,
    TokenInvalid,
    TokenLocked,
    TokenUsed,
)

__all__ = ["AgentRow", "Enrollment", "IssuedToken", "RedeemedToken"]

TOKEN_PREFIX = "fbt"  # noqa: S105 - a format marker, not a secret
# A token id is public (it is the lookup key); the secret is 128 bits from the OS CSPRNG.
_ID_BYTES = 8
_SECRET_BYTES = 16
MAX_FAILED_ATTEMPTS = 5


@dataclass(frozen=True)
class IssuedToken:
    token: str
    role: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class RedeemedToken:
    token_id: str
    role: str


@dataclass(frozen=True)
class AgentRow:
    name: str
    role: str
    state: str
    version: str
    hostname: str
    registered_at: dt.datetime
    certificate_not_after: dt.datetime | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str]:
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        raise TokenInvalid(
            "the token is malformed", remedy="paste the whole token printed by 'failbackctl token create'"
        )
    return parts[1], parts[2]


class Enrollment:
    def __init__(self, database: Database) -> None:
        self._db = database

    def create_token(self, role: str, ttl: dt.timedelta, now: dt.datetime) -> IssuedToken:
        token_id = secrets.token_hex(_ID_BYTES)
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        with self._db.session() as session:
            session.add(
                Token(
                    id=token_id,
                    secret_sha256=_hash(secret),
                    role=role,
                    created_at=now,
                    expires_at=now + ttl,
                    failed_attempts=0,
                )
            )
        return IssuedToken(f"{TOKEN_PREFIX}.{token_id}.{secret}", role, now + ttl)

    def redeem_token(self, token: str, agent_name: str, now: dt.datetime) -> RedeemedToken:
        """Spend a token. Single use is enforced by a conditional update, so two racing registrations with the
        same token cannot both win. A wrong secret counts against the token until it locks."""
        token_id, secret = split_token(token)
        invalid = TokenInvalid("unknown token", remedy="create a new one with 'failbackctl token create'")
        with self._db.session() as session:
            row = session.get(Token, token_id)
            if row is None:
                raise invalid
            guessed_wrong = not hmac.compare_digest(row.secret_sha256, _hash(secret))
            if guessed_wrong:
                # Counted in this transaction, which must commit: raising inside it would roll the count back.
                session.execute(
                    update(Token).where(Token.id == token_id).values(failed_attempts=Token.failed_attempts + 1)
                )
        if guessed_wrong:
            raise invalid
        with self._db.session() as session:
            row = session.get(Token, token_id)
            assert row is not None
            if row.failed_attempts >= MAX_FAILED_ATTEMPTS:
                raise TokenLocked("this token was locked after repeated wrong guesses", remedy="create a new token")
            if row.used_at is not None:
                raise TokenUsed(
                    f"this token was already used by {row.used_by!r}", remedy="tokens are single use; create a new one"
                )
            if row.expires_at <= now:
                raise TokenExpired(
                    f"this token expired at {row.expires_at:%Y-%m-%d %H:%M} UTC", remedy="create a new one"
                )
            spent = _changed(
                session,
                update(Token)
                .where(Token.id == token_id, Token.used_at.is_(None), Token.expires_at > now)
                .values(used_at=now, used_by=agent_name),
            )
            if spent != 1:
                raise TokenUsed("this token was used by a concurrent registration", remedy="create a new one")
            return RedeemedToken(token_id, row.role)

    def register_agent(
        self,
        *,
        name: str,
        role: str,
        version: str,
        hostname: str,
        serial: int,
        not_after: dt.datetime,
        now: dt.datetime,
    ) -> None:
        """Record a new agent (or re-admit a revoked name) with its first certificate."""
        with self._db.session() as session:
            existing = session.get(Agent, name, with_for_update=True)
            if existing is not None and existing.state == "active":
                raise AgentExists(
                    f"an active agent is already registered as {name!r}",
                    remedy=f"pick another name, or run 'failbackctl agents revoke {name}' if it was reinstalled",
                )
            if existing is None:
                session.add(
                    Agent(
                        name=name,
                        role=role,
                        state="active",
                        version=version,
                        hostname=hostname,
                        registered_at=now,
                        revoked_at=None,
                    )
                )
            else:
                readmitted = _changed(
                    session,
                    update(Agent)
                    .where(Agent.name == name, Agent.state == "revoked")
                    .values(
                        role=role,
                        state="active",
                        version=version,
                        hostname=hostname,
                        registered_at=now,
                        revoked_at=None,
                    ),
                )
                if readmitted != 1:
                    raise AgentExists(f"{name!r} was registered concurrently")
            session.flush()
            session.add(Certificate(serial=f"{serial:x}", agent_name=name, issued_at=now, not_after=not_after))

    def record_renewal(self, name: str, serial: int, not_after: dt.datetime, now: dt.datetime) -> None:
        with self._db.session() as session:
            agent = session.get(Agent, name)
            if agent is None or agent.state != "active":
                raise AgentNotFound(f"{name!r} is not an active agent", remedy="register it again with a new token")
            session.add(Certificate(serial=f"{serial:x}", agent_name=name, issued_at=now, not_after=not_after))

    def agent(self, name: str) -> AgentRow:
        with self._db.session() as session:
            agent = session.get(Agent, name)
            if agent is None:
                raise AgentNotFound(f"no agent named {name!r}", remedy="see 'failbackctl agents list'")
            return self._row(session, agent)

    def agents(self) -> list[AgentRow]:
        with self._db.session() as session:
            return [self._row(session, agent) for agent in session.scalars(select(Agent).order_by(Agent.name))]

    def revoke_agent(self, name: str, now: dt.datetime) -> tuple[AgentRow, int]:
        """Revoke the agent and every certificate it holds; returns the row and how many certificates."""
        with self._db.session() as session:
            agent = session.get(Agent, name, with_for_update=True)
            if agent is None:
                raise AgentNotFound(f"no agent named {name!r}", remedy="see 'failbackctl agents list'")
            session.execute(update(Agent).where(Agent.name == name).values(state="revoked", revoked_at=now))
            revoked = _changed(
                session,
                update(Certificate)
                .where(Certificate.agent_name == name, Certificate.revoked_at.is_(None))
                .values(revoked_at=now),
            )
            session.refresh(agent)
            return self._row(session, agent), revoked

    def revoked_serials(self, now: dt.datetime) -> set[int]:
        """Revoked certificates that have not expired yet (expired ones are refused by TLS anyway)."""
        with self._db.session() as session:
            rows = session.scalars(
                select(Certificate.serial).where(Certificate.revoked_at.is_not(None), Certificate.not_after > now)
            )
            return {int(serial, 16) for serial in rows}

    def is_revoked(self, serial: int) -> bool:
        with self._db.session() as session:
            row = session.get(Certificate, f"{serial:x}")
            return row is not None and row.revoked_at is not None

    @staticmethod
    def _row(session: Session, agent: Agent) -> AgentRow:
        not_after = session.scalar(
            select(Certificate.not_after)
            .where(Certificate.agent_name == agent.name, Certificate.revoked_at.is_(None))
            .order_by(Certificate.not_after.desc())
            .limit(1)
        )
        return AgentRow(
            name=agent.name,
            role=agent.role,
            state=agent.state,
            version=agent.version,
            hostname=agent.hostname,
            registered_at=agent.registered_at,
            certificate_not_after=not_after,
        )
