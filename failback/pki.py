"""Keys, certificate requests and certificate facts shared by both roles.

Issuing certificates is the controller's job (``controller.ca``); this module only makes keys and requests, writes
them safely, and reads identities and fingerprints back. Private keys are written with mode 0600 from the first
byte (the file is created with that mode, never chmod-ed after the fact).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from failback.errors import PermanentError
from failback.identity import Identity, IdentityError

__all__ = [
    "CertificateError",
    "PrivateKey",
    "build_csr",
    "certificate_identity",
    "fingerprint",
    "generate_key",
    "key_pem",
    "load_certificate",
    "load_certificates",
    "normalise_fingerprint",
    "parse_sans",
    "write_private",
    "write_public",
]

PrivateKey = ec.EllipticCurvePrivateKey


class CertificateError(PermanentError):
    """A certificate, key or request that is missing, unreadable or not what it should be."""


def generate_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def parse_sans(values: Iterable[str]) -> list[x509.GeneralName]:
    """Turn ``host.example`` / ``10.0.0.5`` strings into SAN entries (IP addresses are recognised)."""
    names: list[x509.GeneralName] = []
    for value in values:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(value)))
        except ValueError:
            names.append(x509.DNSName(value))
    return names


def build_csr(key: PrivateKey, name: str, extra_sans: Iterable[str] = ()) -> x509.CertificateSigningRequest:
    """A request from agent ``name`` asking for ``extra_sans`` (its real DNS names and addresses).

    The request claims no identity: the CA writes the role and the synthetic names itself, from the token or
    from the caller's current certificate."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    )
    sans = parse_sans(extra_sans)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256())


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, as ``sha256:<hex>`` — what operators compare and paste."""
    return "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def normalise_fingerprint(value: str) -> str:
    """Accept ``sha256:AB:CD...``, ``AB CD ...`` or bare hex, as tools print them; return :func:`fingerprint`'s form."""
    text = value.strip().lower()
    text = text.removeprefix("sha256:").removeprefix("sha256 fingerprint=")
    digits = "".join(ch for ch in text if ch not in ": ")
    if len(digits) != 64 or any(ch not in "0123456789abcdef" for ch in digits):
        raise CertificateError(
            f"{value!r} is not a SHA-256 fingerprint",
            remedy="paste the 64 hex digits printed by 'failbackctl token create'",
        )
    return "sha256:" + digits


def certificate_identity(cert: x509.Certificate) -> Identity:
    """The failback identity in the certificate's URI SAN; exactly one must be present."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise CertificateError("certificate has no subject alternative names") from exc
    uris = [uri for uri in sans.get_values_for_type(x509.UniformResourceIdentifier) if uri.startswith("spiffe://")]
    if len(uris) != 1:
        raise CertificateError(f"certificate must carry exactly one failback identity URI, found {len(uris)}")
    try:
        return Identity.from_uri(uris[0])
    except IdentityError as exc:
        raise CertificateError(str(exc)) from exc


def load_certificate(path: Path) -> x509.Certificate:
    return load_certificates(path)[0]


def load_certificates(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CertificateError(f"{path} does not exist") from exc
    except OSError as exc:
        raise CertificateError(f"{path} cannot be read: {exc.strerror}") from exc
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CertificateError(f"{path} does not hold a PEM certificate") from exc
    return certs


def write_private(path: Path, data: bytes) -> None:
    """Write a secret atomically with mode 0600 from creation; the directory gets 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an old temp file left by a crash may have been created with other bits
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
