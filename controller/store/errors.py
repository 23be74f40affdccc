"""Errors of the state store.

::

    StoreError (PermanentError)
    ├── TokenInvalid        unknown token or wrong secret (deliberately not told apart to the caller)
    ├── TokenExpired
    ├── TokenUsed           single use: already redeemed
    ├── TokenLocked         too many wrong secrets for this token id
    ├── AgentExists         an active agent already has this name
    ├── NotFound
    │   ├── AgentNotFound
    │   ├── JobNotFound
    │   └── SourceNotFound  no vCenter / vault of that name
    ├── SourceExists        a vCenter / vault of that name is already registered
    ├── SubjectBusy         another unfinished job works on the same item: the second one is refused
    ├── TransitionRefused   the row is not in the state the operation expects: a concurrent operation won
    │   ├── CancelRefused   the job finished, or passed a step that cannot be cancelled
    │   └── LeaseLost       another replica claimed the job (its lease expired): stop working on it
    └── RestoreRefused      a backup cannot be restored here (target not empty, newer schema, ...)
    DatabaseUnavailable (TemporaryError)
"""

from __future__ import annotations

from failback.errors import PermanentError, TemporaryError

__all__ = [
    "AgentExists",
    "AgentNotFound",
    "CancelRefused",
    "DatabaseUnavailable",
    "JobNotFound",
    "LeaseLost",
    "NotFound",
    "RestoreRefused",
    "SourceExists",
    "SourceNotFound",
    "StoreError",
    "SubjectBusy",
    "TokenExpired",
    "TokenInvalid",
    "TokenLocked",
    "TokenUsed",
    "TransitionRefused",
]


class StoreError(PermanentError):
    pass


class TokenInvalid(StoreError):
    pass


class TokenExpired(StoreError):
    pass


class TokenUsed(StoreError):
    pass


class TokenLocked(StoreError):
    pass


class AgentExists(StoreError):
    pass


class NotFound(StoreError):
    pass


class AgentNotFound(NotFound):
    pass


class JobNotFound(NotFound):
    pass


class SourceNotFound(NotFound):
    pass


class SourceExists(StoreError):
    pass


class SubjectBusy(StoreError):
    def __init__(self, message: str, *, remedy: str | None = None, job_id: int | None = None) -> None:
        super().__init__(message, remedy=remedy)
        self.job_id = job_id


class TransitionRefused(StoreError):
    pass


class CancelRefused(TransitionRefused):
    pass


class LeaseLost(TransitionRefused):
    pass


class RestoreRefused(StoreError):
    pass


class DatabaseUnavailable(TemporaryError):
    pass
