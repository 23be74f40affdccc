"""Errors of sealing and opening credentials.

::

    SecretsError (PermanentError)
    ├── KeyFileError     the key file is missing where it must exist, unreadable, damaged or readable by others
    └── CannotOpen       a sealed secret does not open with this key (another controller's key, or damaged)
"""

from __future__ import annotations

from failback.errors import PermanentError

__all__ = ["CannotOpen", "KeyFileError", "SecretsError"]


class SecretsError(PermanentError):
    pass


class KeyFileError(SecretsError):
    pass


class CannotOpen(SecretsError):
    pass
