"""The controller's state: SQL through SQLAlchemy 2, schema through Alembic migrations.

SQLite (WAL, foreign keys on) is the default, one file under the controller's state directory; PostgreSQL (psycopg 3)
by URL for several controller replicas. Every state transition is a conditional update (``UPDATE ... WHERE state =
expected``) so two concurrent operations on one row cannot both succeed: the loser fails at the database, before any
work. Secrets are never stored: tokens are kept as hashes.
"""

from controller.store._database import Database
from controller.store._enrollment import AgentRow, Enrollment, IssuedToken, RedeemedToken
from controller.store.errors import (
    AgentExists,
    AgentNotFound,
    StoreError,
    TokenExpired,
    TokenInvalid,
    TokenLocked,
    TokenUsed,
)

__all__ = [
    "AgentExists",
    "AgentNotFound",
    "AgentRow",
    "Database",
    "Enrollment",
    "IssuedToken",
    "RedeemedToken",
    "StoreError",
    "TokenExpired",
    "TokenInvalid",
    "TokenLocked",
    "TokenUsed",
]
