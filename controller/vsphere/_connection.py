"""Open an authenticated, verified SOAP session to vCenter or ESXi, and count its round-trips.

TLS is always verified: either against a CA file, or against a pinned SHA-256 certificate fingerprint checked on
every new connection. (pyVmomi's own thumbprint option falls back to an unverified context that it then shares with
later connections, so we check the pin ourselves.) The password travels only in the Login call: never in a repr,
a log line or argv.

Every SOAP call goes through :class:`CountingStub`, so callers can assert how many round-trips an operation costs.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import hmac
import http.client
import re
import ssl
import threading
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyVmomi import vim
from pyVmomi.SoapAdapter import SoapStubAdapter
from pyVmomi.VmomiSupport import GetServiceVersions, versionIdMap

from controller.vsphere._faults import guard
from controller.vsphere.errors import CertificateRejected, InvalidRequest, NotSupported, VSphereUnavailable

__all__ = ["CountingStub", "Credentials", "Session", "open_session"]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HOSTNAME = re.compile(r"[A-Za-z0-9.\-:\[\]]+")


@dataclass(frozen=True)
class Credentials:
    """Where and how to log in. Exactly one of ``ca_file`` and ``thumbprint_sha256`` says how to trust the server.

    ``thumbprint_sha256`` is the certificate's SHA-256 fingerprint, in hex with or without colons.
    """

    host: str
    user: str
    password: str = field(repr=False)
    port: int = 443
    ca_file: Path | None = None
    thumbprint_sha256: str | None = None

    def __post_init__(self) -> None:
        if not self.host or not _HOSTNAME.fullmatch(self.host):
            raise InvalidRequest(
                f"vCenter host {self.host!r} is not a host name or address",
                remedy="give the name or address only, without https:// or a path",
            )
        if not 0 < self.port < 65536:
            raise InvalidRequest(f"vCenter port {self.port} is out of range", remedy="use 1-65535 (usually 443)")
        if not self.user:
            raise InvalidRequest("the vCenter user name is empty", remedy="give the failback service account")
        if not self.password:
            raise InvalidRequest("the vCenter password is empty", remedy="give the service account's password")
        if (self.ca_file is None) == (self.thumbprint_sha256 is None):
            raise InvalidRequest(
                "give exactly one of a CA file and a SHA-256 thumbprint to verify vCenter's certificate",
                remedy="use the vCenter's CA certificate (preferred) or pin its SHA-256 fingerprint",
            )
        if self.thumbprint_sha256 is not None:
            normalised = self.thumbprint_sha256.replace(":", "").strip().lower()
            if not _HEX64.fullmatch(normalised):
                raise InvalidRequest(
                    "the thumbprint is not a SHA-256 fingerprint (64 hex digits, colons allowed)",
                    remedy="read it with: openssl x509 -noout -fingerprint -sha256",
                )
            object.__setattr__(self, "thumbprint_sha256", normalised)


class CountingStub(SoapStubAdapter):
    """A SOAP stub that counts every call it sends (property reads included), in total and per method."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]  # pyVmomi's stub is untyped
        self._count_lock = threading.Lock()
        self.calls: collections.Counter[str] = collections.Counter()

    def InvokeMethod(self, mo: Any, info: Any, args: Any, outerStub: Any = None) -> Any:
        with self._count_lock:
            self.calls[info.wsdlName] += 1
        return super().InvokeMethod(mo, info, args, outerStub)  # type: ignore[no-untyped-call]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection that accepts only the certificate whose SHA-256 fingerprint is ``pin``."""

    def __init__(self, *args: Any, pin: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pin = pin

    def connect(self) -> None:
        super().connect()
        assert isinstance(self.sock, ssl.SSLSocket)
        der = self.sock.getpeercert(binary_form=True)
        seen = hashlib.sha256(der).hexdigest() if der else ""
        if not hmac.compare_digest(seen, self._pin):
            self.close()
            raise CertificateRejected(
                f"the certificate of {self.host}:{self.port} has SHA-256 fingerprint {seen or 'none'}, "
                "not the pinned one",
                remedy="check the vCenter certificate out of band, then update the pinned thumbprint",
            )


@dataclass
class Session:
    """What :func:`open_session` returns: the stub, the service content and who we are."""

    stub: CountingStub
    content: Any  # vim.ServiceContent
    api_version: str
    user_name: str
    session_key: str


def open_session(credentials: Credentials, *, timeout: float = 60.0, pool_size: int = 4) -> Session:
    """Verify the server, negotiate the newest API version both sides know, and log in."""
    context, connection = _tls(credentials)
    where = f"{credentials.host}:{credentials.port}"
    version = _negotiate_version(credentials, connection, context, timeout)
    stub = CountingStub(
        host=credentials.host,
        port=credentials.port,
        version=version,
        sslContext=context,
        httpConnectionTimeout=timeout,
        poolSize=pool_size,
    )
    stub.scheme = connection  # pyVmomi builds each new connection with this callable
    try:
        with guard(f"logging in to {where} as {credentials.user}"):
            instance = vim.ServiceInstance("ServiceInstance", stub)
            content: Any = instance.RetrieveContent()
            user_session = content.sessionManager.Login(credentials.user, credentials.password, None)
    except BaseException:
        stub.DropConnections()  # type: ignore[no-untyped-call]  # close the pooled socket of the failed login
        raise
    return Session(
        stub=stub,
        content=content,
        api_version=versionIdMap[version],
        user_name=str(user_session.userName),
        session_key=str(user_session.key),
    )


def _tls(credentials: Credentials) -> tuple[ssl.SSLContext, Any]:
    """The TLS context and the connection class that enforce the credentials' trust rule."""
    if credentials.ca_file is not None:
        try:
            context = ssl.create_default_context(cafile=str(credentials.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise InvalidRequest(
                f"cannot load the CA file {credentials.ca_file}: {exc}",
                remedy="give a readable PEM file with the vCenter's CA certificate",
            ) from exc
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context, http.client.HTTPSConnection
    assert credentials.thumbprint_sha256 is not None
    # The pin replaces chain and name checks; _PinnedHTTPSConnection compares the fingerprint on every connect.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context, functools.partial(_PinnedHTTPSConnection, pin=credentials.thumbprint_sha256)


def _negotiate_version(credentials: Credentials, connection: Any, context: ssl.SSLContext, timeout: float) -> str:
    """The first of pyVmomi's vim25 versions (newest first) that the server lists in vimServiceVersions.xml."""
    where = f"{credentials.host}:{credentials.port}"
    with guard(f"reading the API versions of {where}"):
        conn = connection(credentials.host, port=credentials.port, context=context, timeout=timeout)
        try:
            conn.request("GET", "/sdk/vimServiceVersions.xml")
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
    if response.status != 200:
        raise VSphereUnavailable(
            f"{where} answered HTTP {response.status} for /sdk/vimServiceVersions.xml",
            remedy="check that this is a vCenter or ESXi address",
        )
    try:
        # The body comes from a server whose certificate we just verified; expat does not fetch external entities.
        root = ElementTree.fromstring(body)  # noqa: S314
    except ElementTree.ParseError as exc:
        raise NotSupported(f"{where} did not return a vSphere API version list: {exc}") from exc
    offered: set[str] = set()
    for namespace in root.iter("namespace"):
        if namespace.findtext("name") == "urn:vim25":
            offered.update(v.text or "" for v in namespace.iter("version"))
    for version in GetServiceVersions("vim25"):
        if versionIdMap[version] in offered:
            return str(version)
    raise NotSupported(
        f"{where} offers vim25 API versions {sorted(offered)}, none of which this pyVmomi knows",
        remedy="upgrade pyVmomi or the server",
    )
