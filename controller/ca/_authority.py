from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from failback.identity import SYNTHETIC_DNS_SUFFIX, Identity
from failback.pki import (
    CertificateError,
    PrivateKey,
    fingerprint,
    generate_key,
    key_pem,
    load_certificate,
    parse_sans,
    write_private,
    write_public,
)

__all__ = ["CertificateAuthority", "IssuedCertificate"]

_CA_LIFETIME = dt.timedelta(days=3650)
# Clocks on a failed-over estate are rarely in sync; certificates start a little in the past.
_BACKDATE = dt.timedelta(minutes=5)
_MAX_EXTRA_SANS = 16


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: x509.Certificate
    identity: Identity

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def serial(self) -> int:
        return self.certificate.serial_number

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc


class CertificateAuthority:
    """A CA kept in ``directory`` as ``ca.pem`` and ``ca.key``."""

    def __init__(
        self, key: PrivateKey, certificate: x509.Certificate, clock: Callable[[], dt.datetime] = _utcnow
    ) -> None:
        self._key = key
        self.certificate = certificate
        self._clock = clock

    @classmethod
    def load_or_create(
        cls, directory: Path, *, name: str = "failback", clock: Callable[[], dt.datetime] = _utcnow
    ) -> CertificateAuthority:
        """Load the CA, or create it on first start. A half-present CA (key without certificate) is an error."""
        key_path, cert_path = directory / "ca.key", directory / "ca.pem"
        if key_path.exists() != cert_path.exists():
            missing = cert_path if key_path.exists() else key_path
            raise CertificateError(
                f"the CA in {directory} is incomplete: {missing} is missing",
                remedy="restore both files from the controller backup; a new CA would orphan every agent",
            )
        if key_path.exists():
            return cls._load(key_path, cert_path, clock)
        ca = cls.create(name=name, clock=clock)
        write_private(key_path, key_pem(ca._key))
        write_public(cert_path, ca.certificate_pem)
        return ca

    @classmethod
    def _load(cls, key_path: Path, cert_path: Path, clock: Callable[[], dt.datetime]) -> CertificateAuthority:
        mode = key_path.stat().st_mode & 0o777
        if mode & 0o077:
            raise CertificateError(f"{key_path} is readable by others (mode {mode:o})", remedy=f"chmod 600 {key_path}")
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, PrivateKey):
            raise CertificateError(f"{key_path} is not an ECDSA key")
        certificate = load_certificate(cert_path)
        if certificate.public_key() != key.public_key():
            raise CertificateError(f"{cert_path} does not belong to {key_path}")
        return cls(key, certificate, clock)

    @classmethod
    def create(cls, *, name: str = "failback", clock: Callable[[], dt.datetime] = _utcnow) -> CertificateAuthority:
        key = generate_key()
        now = clock()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} failback CA")])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate, clock)

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)

    def issue(
        self,
        identity: Identity,
        public_key: object,
        *,
        lifetime: dt.timedelta,
        extra_sans: Iterable[str] = (),
        not_before: dt.datetime | None = None,
    ) -> IssuedCertificate:
        """Sign a certificate for ``identity``. Every certificate is good for both serving and calling (mTLS)."""
        extra = list(extra_sans)
        if len(extra) > _MAX_EXTRA_SANS:
            raise CertificateError(f"too many subject alternative names requested ({len(extra)} > {_MAX_EXTRA_SANS})")
        if not isinstance(public_key, type(self._key.public_key())):
            raise CertificateError("only ECDSA P-256 keys are accepted", remedy="generate the key with failback-agent")
        start = not_before or self._clock() - _BACKDATE
        sans = [x509.UniformResourceIdentifier(identity.uri), x509.DNSName(identity.dns_name), *parse_sans(extra)]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity.name)]))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + _BACKDATE + lifetime)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return IssuedCertificate(certificate, identity)

    @staticmethod
    def load_request(csr_pem: bytes) -> x509.CertificateSigningRequest:
        """Parse a CSR and check its self-signature (proof the requester holds the key)."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as exc:
            raise CertificateError("the certificate request is not a PEM CSR") from exc
        if not csr.is_signature_valid:
            raise CertificateError("the certificate request's signature does not verify")
        return csr

    def issue_from_csr(
        self, identity: Identity, csr: x509.CertificateSigningRequest, *, lifetime: dt.timedelta
    ) -> IssuedCertificate:
        """Issue for ``identity`` (decided by the caller) with the request's key and its extra names."""
        return self.issue(identity, csr.public_key(), lifetime=lifetime, extra_sans=_requested_names(csr, identity))

    def revocation_list(self, serials: Iterable[int], *, lifetime: dt.timedelta) -> bytes:
        """A signed CRL (PEM) naming ``serials``; agents refresh it well before ``lifetime`` passes."""
        now = self._clock()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now - _BACKDATE)
            .next_update(now + lifetime)
        )
        for serial in sorted(set(serials)):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
            )
        return builder.sign(self._key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _requested_names(csr: x509.CertificateSigningRequest, identity: Identity) -> list[str]:
    try:
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = []
    for name in sans.get_values_for_type(x509.DNSName):
        if name == identity.dns_name:
            continue
        # Synthetic names are how peers verify each other; only the CA may assign them.
        if name.lower().rstrip(".").endswith(SYNTHETIC_DNS_SUFFIX):
            raise CertificateError(f"the request asks for the reserved name {name!r}")
        names.append(name)
    names += [str(address) for address in sans.get_values_for_type(x509.IPAddress)]
    return names
