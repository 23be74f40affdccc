"""TLS identity files and the credentials gRPC builds from them.

A TLS identity is a directory with ``identity.pem`` (mode 0600: the private key, then the certificate) and
``ca.pem``. Key and certificate share one file so a renewal replaces both in one atomic rename and a reader can
never pair a new certificate with an old key.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from failback.identity import Identity
from failback.pki import CertificateError, certificate_identity, write_private, write_public

__all__ = ["TlsIdentity", "load_tls_identity"]

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----\r?\n.*?-----END \1-----\r?\n?", re.DOTALL)


@dataclass(frozen=True)
class TlsIdentity:
    """A loaded identity: PEM bytes for gRPC plus the parsed facts we check."""

    directory: Path
    key_pem: bytes
    certificate_pem: bytes
    ca_pem: bytes
    certificate: x509.Certificate
    identity: Identity

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc

    @property
    def serial(self) -> int:
        return self.certificate.serial_number

    def server_credentials(self) -> grpc.ServerCredentials:
        """Credentials that re-read the directory when its files change, so renewal needs no restart."""
        return _ReloadingServerCredentials(self).credentials()

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(self.ca_pem, self.key_pem, self.certificate_pem)

    @staticmethod
    def save(directory: Path, key_pem: bytes, certificate_pem: bytes, ca_pem: bytes) -> None:
        """Write an identity; the CA first, so a crash in between leaves the old pair next to a valid CA."""
        write_public(directory / "ca.pem", ca_pem)
        write_private(directory / "identity.pem", key_pem + certificate_pem)


def load_tls_identity(directory: Path, *, remedy: str) -> TlsIdentity:
    """Load and check an identity; every problem names the file and ends with ``remedy`` (how to get one)."""
    identity_path, ca_path = directory / "identity.pem", directory / "ca.pem"
    for path in (identity_path, ca_path):
        if not path.exists():
            raise CertificateError(f"{path} is missing", remedy=remedy)
        if not os.access(path, os.R_OK):
            raise CertificateError(f"{path} is not readable by this user (uid {os.getuid()})", remedy=remedy)
    mode = identity_path.stat().st_mode & 0o777
    if mode & 0o077:
        raise CertificateError(
            f"{identity_path} is readable by others (mode {mode:o})", remedy=f"chmod 600 {identity_path}"
        )
    pems = [match.group(0) for match in _PEM_BLOCK.finditer(identity_path.read_bytes())]
    key_pems = [pem for pem in pems if b"PRIVATE KEY" in pem.split(b"\n", 1)[0]]
    cert_pems = [pem for pem in pems if pem.startswith(b"-----BEGIN CERTIFICATE-----")]
    if len(key_pems) != 1 or not cert_pems:
        raise CertificateError(f"{identity_path} must hold one private key and its certificate", remedy=remedy)
    try:
        certificate = x509.load_pem_x509_certificate(cert_pems[0])
        key = serialization.load_pem_private_key(key_pems[0], password=None)
        ca_pem = ca_path.read_bytes()
        ca_certificates = x509.load_pem_x509_certificates(ca_pem)
    except ValueError as exc:
        raise CertificateError(f"{identity_path} or {ca_path} is not valid PEM: {exc}", remedy=remedy) from exc
    if key.public_key() != certificate.public_key():
        raise CertificateError(f"{identity_path}: the key does not match the certificate", remedy=remedy)
    if not any(_issued_by(certificate, ca) for ca in ca_certificates):
        raise CertificateError(f"{identity_path} was not issued by the CA in {ca_path}", remedy=remedy)
    now = dt.datetime.now(dt.UTC)
    if certificate.not_valid_after_utc <= now:
        raise CertificateError(
            f"{identity_path}: the certificate expired at {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
            remedy=remedy,
        )
    return TlsIdentity(
        directory=directory,
        key_pem=key_pems[0],
        certificate_pem=b"".join(cert_pems),
        ca_pem=ca_pem,
        certificate=certificate,
        identity=certificate_identity(certificate),
    )


def _issued_by(certificate: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


class _ReloadingServerCredentials:
    """gRPC asks the fetcher on every new handshake; answer None (keep) unless the files changed on disk."""

    def __init__(self, initial: TlsIdentity) -> None:
        self._identity = initial
        self._stamp = self._read_stamp()
        self._lock = threading.Lock()

    def _read_stamp(self) -> tuple[int, int]:
        directory = self._identity.directory
        return ((directory / "identity.pem").stat().st_mtime_ns, (directory / "ca.pem").stat().st_mtime_ns)

    def _configuration(self, identity: TlsIdentity) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(identity.key_pem, identity.certificate_pem)], root_certificates=identity.ca_pem
        )

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        with self._lock:
            try:
                stamp = self._read_stamp()
                if stamp == self._stamp:
                    return None
                fresh = load_tls_identity(self._identity.directory, remedy="")
            except (OSError, CertificateError):
                # Mid-renewal or damaged: keep serving with what we have; the renewal loop reports the problem.
                return None
            self._identity, self._stamp = fresh, stamp
            return self._configuration(fresh)

    def credentials(self) -> grpc.ServerCredentials:
        # gRPC's fetcher contract allows None ("no change"); the type stubs do not say so.
        fetcher = cast(Callable[[], grpc.ServerCertificateConfiguration], self._fetch)
        return grpc.dynamic_ssl_server_credentials(
            self._configuration(self._identity), fetcher, require_client_authentication=True
        )
