"""Conditional updates: the one way state changes in this store.

Every transition is ``UPDATE ... WHERE <the state we expect>``; the row count says whether we won. On SQLite the
writer lock serialises them; on PostgreSQL (READ COMMITTED) the second UPDATE waits for the first's row lock and then
re-evaluates its WHERE clause against the committed row, so of two racing transitions exactly one matches.
"""

from __future__ import annotations

from sqlalchemy import CursorResult, Delete, Update
from sqlalchemy.orm import Session

__all__ = ["changed"]


def changed(session: Session, statement: Update | Delete) -> int:
    """Execute a conditional UPDATE/DELETE and return how many rows it changed."""
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount
