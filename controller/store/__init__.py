"""The controller's state: SQL through SQLAlchemy 2, schema through Alembic migrations.

SQLite (WAL, foreign keys on, every transaction ``BEGIN IMMEDIATE``) is the default, one file under the controller's
state directory; PostgreSQL (psycopg 3) by URL for several controller replicas. Every state transition is a
conditional update (``UPDATE ... WHERE state = expected``) so two concurrent operations on one row cannot both
succeed: the loser fails at the database, before any work. Secrets are never stored in the clear: tokens are kept as
hashes, credentials sealed by ``controller.secrets``.
"""

from controller.store._agent_status import AgentStatusStore, HeartbeatRow
from controller.store._database import Database
from controller.store._enrollment import AgentRow, Enrollment, IssuedToken, RedeemedToken
from controller.store._inventory import InventoryItem, InventoryStore, SnapshotRow, SourcedItem
from controller.store._job_records import JobRecord, JobState, Lease, StepRecord, StepSpec, StepState
from controller.store._jobs import JobStore
from controller.store._protection import GroupRow, ItemClaim, ItemRow, PlanRow, ProtectionStore
from controller.store._sources import Sources, VaultRow, VCenterRow
from controller.store.errors import (
    AgentExists,
    AgentNotFound,
    CancelRefused,
    DatabaseUnavailable,
    JobNotFound,
    LeaseLost,
    NotFound,
    RestoreRefused,
    SourceExists,
    SourceNotFound,
    StoreError,
    SubjectBusy,
    TokenExpired,
    TokenInvalid,
    TokenLocked,
    TokenUsed,
    TransitionRefused,
)

__all__ = [
    "AgentExists",
    "AgentNotFound",
    "AgentRow",
    "AgentStatusStore",
    "CancelRefused",
    "Database",
    "DatabaseUnavailable",
    "Enrollment",
    "GroupRow",
    "HeartbeatRow",
    "InventoryItem",
    "InventoryStore",
    "IssuedToken",
    "ItemClaim",
    "ItemRow",
    "JobNotFound",
    "JobRecord",
    "JobState",
    "JobStore",
    "Lease",
    "LeaseLost",
    "NotFound",
    "PlanRow",
    "ProtectionStore",
    "RedeemedToken",
    "RestoreRefused",
    "SnapshotRow",
    "SourceExists",
    "SourceNotFound",
    "SourcedItem",
    "Sources",
    "StepRecord",
    "StepSpec",
    "StepState",
    "StoreError",
    "SubjectBusy",
    "TokenExpired",
    "TokenInvalid",
    "TokenLocked",
    "TokenUsed",
    "TransitionRefused",
    "VCenterRow",
    "VaultRow",
]
