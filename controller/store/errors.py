"""Errors of the state store.

::

    StoreError (PermanentError)
    ├── TokenInvalid        unknown token or wrong secret (deliberately not told apart to the caller)
    ├── TokenExpired
    ├── TokenUsed           single use: already redeemed
    ├── TokenLocked         too many wrong secrets for this token id
    ├── AgentExists         an active agent already has this name
    └── AgentNotFound
    DatabaseUnavailable (TemporaryError)
"""

from __future__ import annotations

from failback.errors import PermanentError, TemporaryError

__all__ = [
    "AgentExists",
    "AgentNotFound",
    "DatabaseUnavailable",
    "StoreError",
    "TokenExpired",
    "TokenInvalid",
    "TokenLocked",
    "TokenUsed",
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


class AgentNotFound(StoreError):
    pass


class DatabaseUnavailable(TemporaryError):
    pass
