"""Fault translation: every vSphere fault and transport failure becomes one of the adapter's errors."""

from __future__ import annotations

import http.client
import ssl

import pytest
from pyVmomi import vim, vmodl

from controller.vsphere._faults import guard, translate
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
from failback.errors import PermanentError, TemporaryError


@pytest.mark.parametrize(
    ("fault", "expected", "temporary"),
    [
        (vim.fault.InvalidLogin(), AuthenticationFailed, False),
        (vim.fault.NotAuthenticated(), SessionLost, True),  # a NoPermission subclass: must not be PermissionDenied
        (vim.fault.NoPermission(privilegeId="Datastore.Browse"), PermissionDenied, False),
        (vim.fault.RestrictedVersion(), NotSupported, False),  # a SecurityError subclass: the free-ESXi case
        (vmodl.fault.ManagedObjectNotFound(), ObjectNotFound, False),
        (vim.fault.FileNotFound(file="[ds] x.vmdk"), ObjectNotFound, False),
        (vim.fault.InvalidDatastorePath(), ObjectNotFound, False),
        (vim.fault.DuplicateName(name="web01"), AlreadyExists, False),
        (vim.fault.FileAlreadyExists(), AlreadyExists, False),
        (vim.fault.InvalidPowerState(), WrongState, False),
        (vim.fault.ToolsUnavailable(), WrongState, False),
        (vim.fault.TaskInProgress(), VSphereBusy, True),
        (vim.fault.ConcurrentAccess(), VSphereBusy, True),
        (vmodl.fault.HostNotConnected(), VSphereUnavailable, True),
        (vim.fault.NoDiskSpace(), InsufficientResources, False),
        (vmodl.fault.NotSupported(), NotSupported, False),
        (vim.fault.InvalidDeviceSpec(), InvalidRequest, False),
        (vmodl.fault.InvalidArgument(invalidProperty="spec.name"), InvalidRequest, False),
        (vim.fault.CannotCreateFile(), OperationFailed, False),
    ],
)
def test_faults_map_to_the_error_tree(fault: BaseException, expected: type[VSphereError], temporary: bool) -> None:
    error = translate(fault, what="doing x")
    assert type(error) is expected
    assert isinstance(error, TemporaryError) is temporary
    assert isinstance(error, PermanentError) is not temporary
    assert error.fault == type(fault).__name__
    assert str(error).startswith("doing x failed: " + type(fault).__name__)


def test_the_fault_fields_that_name_the_object_reach_the_message() -> None:
    error = translate(vim.fault.NoPermission(privilegeId="Datastore.Browse", msg="denied"), what="reading ds")
    assert "privilegeId=Datastore.Browse" in str(error)
    assert "denied" in str(error)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionRefusedError("refused"), VSphereUnavailable),
        (TimeoutError("timed out"), VSphereUnavailable),
        (http.client.RemoteDisconnected("closed"), VSphereUnavailable),
        (ssl.SSLCertVerificationError("self-signed"), CertificateRejected),
    ],
)
def test_transport_failures_map_to_the_error_tree(exc: BaseException, expected: type[VSphereError]) -> None:
    assert type(translate(exc, what="x")) is expected


def test_guard_chains_the_original_exception() -> None:
    original = vim.fault.DuplicateName(name="a")
    with pytest.raises(AlreadyExists) as caught, guard("creating a"):
        raise original
    assert caught.value.__cause__ is original


def test_guard_lets_programming_errors_through_untranslated() -> None:
    with pytest.raises(KeyError), guard("x"):
        raise KeyError("bug")
