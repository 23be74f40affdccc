"""Errors of joining and staying trusted.

::

    TrustError (PermanentError)
    ├── FingerprintMismatch   the controller's CA is not the one the operator pinned: stop, possible interception
    └── RegistrationError     the controller refused the registration (bad token, name taken, ...)
    ControllerUnreachable (TemporaryError)
"""

from __future__ import annotations

from failback.errors import PermanentError, TemporaryError

__all__ = ["ControllerUnreachable", "FingerprintMismatch", "RegistrationError", "TrustError"]


class TrustError(PermanentError):
    pass


class FingerprintMismatch(TrustError):
    pass


class RegistrationError(TrustError):
    pass


class ControllerUnreachable(TemporaryError):
    pass
