"""Translate pyVmomi faults and transport failures into the adapter's errors (errors.py), at the edge.

Every call into pyVmomi goes through :func:`guard`, so nothing above this module sees a vmodl fault, an ``ssl``
error or an ``http.client`` exception. Messages say what was being done and, when we know, what to fix.
"""

from __future__ import annotations

import contextlib
import http.client
import ssl
from collections.abc import Iterator

from pyVmomi import vim, vmodl

from controller.vsphere.errors import (
    AlreadyExists,
    AuthenticationFailed,
    CertificateRejected,
    InsufficientResources,
    InvalidRequest,
    NotSupported,
    ObjectNotFound,
    OperationFailed,
    PermissionDenied,
    SessionLost,
    VSphereBusy,
    VSphereError,
    VSphereUnavailable,
    WrongState,
)

__all__ = ["fault_name", "guard", "translate"]

# Ordered: the first matching class wins, so subclasses come before their bases (NotAuthenticated is a NoPermission,
# RestrictedVersion a SecurityError, InvalidPowerState an InvalidState).
_TABLE: tuple[tuple[type[BaseException], type[VSphereError], str | None], ...] = (
    (vim.fault.InvalidLogin, AuthenticationFailed, "check the user name and password stored for this vCenter"),
    (vim.fault.NotAuthenticated, SessionLost, "the session expired; connect again"),
    (
        vim.fault.RestrictedVersion,
        NotSupported,
        "a free ESXi licence makes the API read-only; assign a vSphere licence to the host",
    ),
    (vim.fault.NoPermission, PermissionDenied, "grant the privilege to the failback user on that object"),
    (vmodl.fault.SecurityError, PermissionDenied, "grant the failback user the privileges it needs"),
    (vmodl.fault.ManagedObjectNotFound, ObjectNotFound, "refresh the inventory; the object was removed"),
    (vim.fault.FileNotFound, ObjectNotFound, None),
    (vim.fault.InvalidDatastore, ObjectNotFound, "check the datastore name in the path"),
    (vim.fault.NotFound, ObjectNotFound, None),
    (vim.fault.DuplicateName, AlreadyExists, "choose another name or remove the existing object"),
    (vim.fault.FileAlreadyExists, AlreadyExists, "choose another file name or remove the existing file"),
    (vim.fault.AlreadyExists, AlreadyExists, None),
    (vim.fault.InvalidPowerState, WrongState, None),
    (vim.fault.InvalidState, WrongState, None),
    (vim.fault.ToolsUnavailable, WrongState, "VMware Tools are not running in the guest"),
    (vim.fault.TaskInProgress, VSphereBusy, None),
    (vim.fault.ConcurrentAccess, VSphereBusy, None),
    (vim.fault.ResourceInUse, VSphereBusy, None),
    (vim.fault.Timedout, VSphereUnavailable, None),
    (vmodl.fault.HostCommunication, VSphereUnavailable, "check that the host is connected to vCenter"),
    (vmodl.fault.RequestCanceled, VSphereUnavailable, None),
    (vim.fault.NoDiskSpace, InsufficientResources, "free space on the datastore or choose another one"),
    (vim.fault.InsufficientResourcesFault, InsufficientResources, None),
    (vim.fault.OutOfBounds, InsufficientResources, None),
    (vmodl.fault.NotSupported, NotSupported, None),
    (vmodl.fault.NotImplemented, NotSupported, None),
    (vim.fault.InvalidDeviceSpec, InvalidRequest, None),
    (vim.fault.InvalidVmConfig, InvalidRequest, None),
    (vim.fault.CustomizationFault, InvalidRequest, None),
    (vim.fault.InvalidName, InvalidRequest, None),
    (vmodl.fault.InvalidArgument, InvalidRequest, None),
    (vmodl.fault.InvalidRequest, InvalidRequest, None),
)


def fault_name(fault: BaseException) -> str:
    """``vim.fault.DuplicateName`` for a pyVmomi fault; the Python class name otherwise."""
    return type(fault).__name__  # pyVmomi names its classes by their vmodl name


def _details(fault: vmodl.MethodFault) -> str:
    """The fault's own message plus the fields that say which object or privilege it is about."""
    parts: list[str] = []
    message = getattr(fault, "msg", None) or ""
    if message:
        parts.append(str(message))
    for field in ("privilegeId", "name", "file", "invalidProperty", "existingState", "datastore"):
        value = getattr(fault, field, None)
        if value:
            parts.append(f"{field}={value}")
    obj = getattr(fault, "object", None) or getattr(fault, "obj", None)
    if obj is not None:
        parts.append(f"object={getattr(obj, '_moId', obj)}")
    return "; ".join(parts)


def translate(exc: BaseException, *, what: str) -> VSphereError:
    """The adapter error for ``exc``, raised while doing ``what`` (a phrase: "powering on VM 4210...")."""
    if isinstance(exc, VSphereError):
        return exc
    if isinstance(exc, vmodl.MethodFault):
        name = fault_name(exc)
        detail = _details(exc)
        message = f"{what} failed: {name}" + (f" ({detail})" if detail else "")
        for fault_type, error_type, remedy in _TABLE:
            if isinstance(exc, fault_type):
                return error_type(message, remedy=remedy, fault=name)
        return OperationFailed(message, fault=name)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return CertificateRejected(
            f"{what} failed: the server's certificate is not trusted ({getattr(exc, 'verify_message', None) or exc})",
            remedy="give the vCenter's CA certificate, or pin its SHA-256 thumbprint after checking it",
        )
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return VSphereUnavailable(f"{what} failed: cannot talk to the server ({type(exc).__name__}: {exc})")
    return OperationFailed(f"{what} failed: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def guard(what: str) -> Iterator[None]:
    """Translate anything raised in the block into a :class:`VSphereError`, chained to the original."""
    try:
        yield
    except VSphereError:
        raise
    except (vmodl.MethodFault, OSError, http.client.HTTPException) as exc:
        raise translate(exc, what=what) from exc
