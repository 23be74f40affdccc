"""The root of every failback error tree.

::

    FailbackError                 every error we raise on purpose carries a message that says what to fix
    ├── TemporaryError            the same call may succeed later; the caller's loop decides when to retry
    │   └── DeadlineExceeded      a declared wait ran out of time
    └── PermanentError            retrying cannot help; an operator (or a different input) must change something
        └── ConfigError           a configuration file or flag is invalid; names the file and the key

Each component keeps its own tree in its ``errors.py`` with classes derived from these two, so a job loop can decide
between "requeue" and "report" without knowing the component (kopf's TemporaryError/PermanentError).
Third-party exceptions are translated at the adapter edge with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DeadlineExceeded", "FailbackError", "PermanentError", "TemporaryError"]


class FailbackError(Exception):
    """An error with an operator-facing message; ``remedy`` says what to do about it, when we know."""

    def __init__(self, message: str, *, remedy: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy

    def __str__(self) -> str:
        if self.remedy:
            return f"{self.message} ({self.remedy})"
        return self.message


class TemporaryError(FailbackError):
    """The operation may succeed if repeated later; ``retry_after`` is a hint in seconds, if the cause gave one."""

    def __init__(self, message: str, *, remedy: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, remedy=remedy)
        self.retry_after = retry_after


class PermanentError(FailbackError):
    """Repeating the operation unchanged will fail the same way."""


class DeadlineExceeded(TemporaryError):
    """A bounded wait ended before its condition held."""


class ConfigError(PermanentError):
    """Invalid configuration. The message names the source (file or flag) and the offending key."""
