"""Errors of the agent client, translated from gRPC status codes at its edge.

::

    AgentError
    ├── AgentUnavailable (TemporaryError)   UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED: try again
    └── AgentRefused (PermanentError)       the agent refused the call; ``code`` is the gRPC status name
        ├── AgentNotFound                    NOT_FOUND (no such disk or pair)
        └── AgentApiMissing                  UNIMPLEMENTED, or this client predates the API: upgrade
"""

from __future__ import annotations

from failback.errors import FailbackError, PermanentError, TemporaryError

__all__ = ["AgentApiMissing", "AgentError", "AgentNotFound", "AgentRefused", "AgentUnavailable"]


class AgentError(FailbackError):
    def __init__(self, message: str, *, remedy: str | None = None, code: str | None = None) -> None:
        super().__init__(message, remedy=remedy)
        self.code = code


class AgentUnavailable(AgentError, TemporaryError):
    pass


class AgentRefused(AgentError, PermanentError):
    pass


class AgentNotFound(AgentRefused):
    pass


class AgentApiMissing(AgentRefused):
    pass
