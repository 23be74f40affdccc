"""Errors of the vSphere adapter: vmodl/vim faults and transport failures, translated at the edge.

::

    VSphereError                     every error below; ``fault`` names the vSphere fault behind it, if any
    ├── TemporaryError               the loop may repeat the step later
    │   ├── VSphereUnavailable       cannot reach vCenter/ESXi: refused, reset, timed out, HTTP 5xx, HostCommunication
    │   ├── VSphereBusy              the object is busy: TaskInProgress, ConcurrentAccess, ResourceInUse
    │   ├── SessionLost              the session expired or was closed (NotAuthenticated); reconnect
    │   └── TaskTimeout              (also DeadlineExceeded) a task or wait outlived its deadline; it may still finish
    └── PermanentError               an operator or a different input must change something
        ├── CertificateRejected      the server's certificate is not the pinned one, or not signed by the CA file
        ├── AuthenticationFailed     user name or password refused (InvalidLogin)
        ├── PermissionDenied         NoPermission: names the privilege and the object
        ├── ObjectNotFound           no such VM, datastore, file, snapshot or device (ManagedObjectNotFound,
        │                            FileNotFound, InvalidDatastore, NotFound)
        ├── AlreadyExists            DuplicateName, FileAlreadyExists, AlreadyExists
        ├── InvalidRequest           the request is wrong for this object: InvalidArgument, InvalidDeviceSpec,
        │                            InvalidVmConfig, no free SCSI slot, a bad name or size (checked before any call)
        ├── WrongState               the object is in the wrong state: InvalidPowerState, InvalidState
        ├── InsufficientResources    InsufficientResourcesFault, NoDiskSpace, OutOfBounds
        ├── NotSupported             NotSupported, NotImplemented, RestrictedVersion (a free ESXi's read-only API)
        └── OperationFailed          any other fault; the message carries its name and text
"""

from __future__ import annotations

from typing import Any

from failback.errors import DeadlineExceeded, FailbackError, PermanentError, TemporaryError

__all__ = [
    "AlreadyExists",
    "AuthenticationFailed",
    "CertificateRejected",
    "InsufficientResources",
    "InvalidRequest",
    "NotSupported",
    "ObjectNotFound",
    "OperationFailed",
    "PermissionDenied",
    "SessionLost",
    "TaskTimeout",
    "VSphereBusy",
    "VSphereError",
    "VSphereUnavailable",
    "WrongState",
]


class VSphereError(FailbackError):
    """Base of the adapter's errors; ``fault`` is the vSphere fault type name (``vim.fault.DuplicateName``) or None."""

    def __init__(self, message: str, *, remedy: str | None = None, fault: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, remedy=remedy, **kwargs)
        self.fault = fault


class VSphereUnavailable(VSphereError, TemporaryError):
    """vCenter or the host cannot be reached or did not answer in time."""


class VSphereBusy(VSphereError, TemporaryError):
    """Another operation holds the object; the same call may succeed later."""


class SessionLost(VSphereError, TemporaryError):
    """The session is no longer authenticated; connect again."""


class TaskTimeout(VSphereError, DeadlineExceeded):
    """A task or state change did not complete before its deadline; it may still complete on the server."""


class CertificateRejected(VSphereError, PermanentError):
    """TLS verification failed: the certificate is not the pinned one or is not trusted by the CA file."""


class AuthenticationFailed(VSphereError, PermanentError):
    """The user name or password was refused."""


class PermissionDenied(VSphereError, PermanentError):
    """The connected user lacks a privilege on an object."""


class ObjectNotFound(VSphereError, PermanentError):
    """The VM, datastore, file, snapshot or device does not exist."""


class AlreadyExists(VSphereError, PermanentError):
    """An object or file with that name already exists."""


class InvalidRequest(VSphereError, PermanentError):
    """The request does not fit the object (bad argument, device spec, name or size)."""


class WrongState(VSphereError, PermanentError):
    """The object is in a state that does not allow the operation (e.g. powered on)."""


class InsufficientResources(VSphereError, PermanentError):
    """Not enough space, memory or CPU for the operation."""


class NotSupported(VSphereError, PermanentError):
    """The server does not support the operation (or its licence forbids it)."""


class OperationFailed(VSphereError, PermanentError):
    """A fault we do not map more precisely."""
