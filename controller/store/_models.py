"""Table definitions. Changing them needs a new Alembic revision in ``migrations/versions``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every engine (SQLite drops the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(datetime.UTC)")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    used_by: Mapped[str | None] = mapped_column(String(63), nullable=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)


class Agent(Base):
    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(64))
    hostname: Mapped[str] = mapped_column(String(255))
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Certificate(Base):
    __tablename__ = "certificates"

    # Serial numbers are up to 159 bits: wider than any SQL integer, so they are stored as hex.
    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    agent_name: Mapped[str] = mapped_column(ForeignKey("agents.name"), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    not_after: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class AgentStatus(Base):
    """The latest heartbeat of each agent: what it says about itself (one row per agent, overwritten)."""

    __tablename__ = "agent_status"

    agent_name: Mapped[str] = mapped_column(ForeignKey("agents.name", ondelete="CASCADE"), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    # The agent's own clock at sending, and its process start: a restart shows as a new started_at.
    sent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    version: Mapped[str] = mapped_column(String(64))
    problems: Mapped[list[str]] = mapped_column(JSON)
    capacity: Mapped[dict[str, Any]] = mapped_column(JSON)
    heartbeats: Mapped[int] = mapped_column(BigInteger)


class VCenter(Base):
    """A vCenter (or ESXi) endpoint. The password is sealed by ``controller.secrets``; never stored in the clear."""

    __tablename__ = "vcenters"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    address: Mapped[str] = mapped_column(String(255))
    username: Mapped[str] = mapped_column(String(255))
    password_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # How vCenter's certificate is verified: the CA that signed it (PEM), or its pinned SHA-256 fingerprint.
    ca_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    thumbprint_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class AzureVault(Base):
    """A Recovery Services vault and the service principal that reads it. The client secret is sealed."""

    __tablename__ = "azure_vaults"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(64))
    resource_group: Mapped[str] = mapped_column(String(90))
    vault: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    client_secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # Overrides for sovereign clouds, Azure Stack and local test endpoints; None means public Azure.
    base_url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    authority: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ca_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Job(Base):
    """A long operation. ``finished_at IS NULL`` means unfinished; at most one unfinished job per ``subject``."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    cancel_requested_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    cancel_requested_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Set when a step that cannot be cancelled starts: from then on the job runs to its end.
    irrevocable: Mapped[bool] = mapped_column(Boolean)
    # Which replica runs the job, until when, and a fencing counter bumped by every claim.
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    lease_epoch: Mapped[int] = mapped_column(Integer)
    # Nothing to do before this time (a step waits to be retried).
    not_before: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    remedy: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index(
            "uq_jobs_unfinished_subject",
            "subject",
            unique=True,
            sqlite_where=finished_at.is_(None),
            postgresql_where=finished_at.is_(None),
        ),
    )


class JobStep(Base):
    """One named step of a job, in order. ``output`` is what the step returned, for the steps after it."""

    __tablename__ = "job_steps"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    # The step's share of the job's progress (declared with the step; kept here so any reader can compute it).
    weight: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    first_started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    retry_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    fraction: Mapped[float] = mapped_column(Float)
    bytes_done: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    bytes_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The last temporary error while the step is being retried; cleared when it completes.
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    remedy: Mapped[str | None] = mapped_column(Text, nullable=True)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class InventorySnapshot(Base):
    """Everything one refresh of one source saw, written in one transaction (never half a snapshot)."""

    __tablename__ = "inventory_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # "vcenter" or "azure", and the name the operator gave the source.
    source_kind: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str] = mapped_column(String(63))
    # The refresh job that took it: a re-run of the same step finds it instead of writing a second one.
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True, unique=True)
    taken_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    counts: Mapped[dict[str, int]] = mapped_column(JSON)

    __table_args__ = (Index("ix_inventory_snapshots_source", "source_kind", "source_name", "id"),)


class InventoryObject(Base):
    """One object of a snapshot, keyed by its stable id (VM instance UUID, disk backing UUID, ARM id...)."""

    __tablename__ = "inventory_objects"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("inventory_snapshots.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    parent_key: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_inventory_objects_kind_key", "kind", "key"),)


class FailbackGroup(Base):
    """A failback group (``PG1_Failback``), made for each protection group of an imported vault: one consistency
    group on the agents, whose members fail back through one master target."""

    __tablename__ = "failback_groups"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    vault: Mapped[str] = mapped_column(String(63))
    protection_group: Mapped[str] = mapped_column(String(1024))
    protection_group_name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class FailbackPlan(Base):
    """A failback plan: imported from an ASR recovery plan (``source="vault"``) or applied from a file."""

    __tablename__ = "failback_plans"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    vault: Mapped[str] = mapped_column(String(63))
    # The ASR plan's boot groups (item ids per group, in order) for imported plans; the parsed plan file otherwise.
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class ProtectedItemRow(Base):
    """A VM or physical server failback manages, with its workflow state.

    ``state`` changes only by conditional updates; ``job_id`` names the job holding it while a workflow runs.
    ``asr`` is what the last vault import said about the item; ``record`` is what the workflows decided and did
    (location, disks, placements, pairs, recorded addresses...), written only by the job holding the item.
    """

    __tablename__ = "protected_items"

    key: Mapped[str] = mapped_column(String(1100), primary_key=True)  # "<vault>:<ARM id, lower case>"
    vault: Mapped[str] = mapped_column(String(63), index=True)
    name: Mapped[str] = mapped_column(String(255))
    group_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    state: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    asr: Mapped[dict[str, Any]] = mapped_column(JSON)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    rollback_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
