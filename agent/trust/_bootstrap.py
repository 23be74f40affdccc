"""Fetching the controller's CA certificate and checking it against a pinned fingerprint.

The registration port presents its certificate chain including the CA. We read that chain without verification
(we have nothing to verify with yet), keep the certificate whose SHA-256 matches the pin, and check that it is a CA
and that it signed the leaf the server presented. Only then is a verified gRPC channel opened with it as the sole
root, so a man in the middle who replays the real CA certificate still fails the verified handshake.
"""

from __future__ import annotations

import _ssl
import socket
import ssl

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

from agent.trust.errors import ControllerUnreachable, FingerprintMismatch
from failback.config import Address
from failback.identity import Identity, Role
from failback.pki import certificate_identity, fingerprint

__all__ = ["fetch_pinned_ca"]

_TIMEOUT = 10.0


def _unverified_chain(address: Address) -> list[x509.Certificate]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection((address.host, address.port), timeout=_TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=None) as tls,
        ):
            ders = _chain_der(tls)
    except (OSError, ssl.SSLError) as exc:
        raise ControllerUnreachable(
            f"cannot open TLS to the controller's registration port {address}: {exc}",
            remedy="check the address (default port 9441) and that failback-controller is running",
        ) from exc
    return [x509.load_der_x509_certificate(der) for der in ders]


def fetch_pinned_ca(address: Address, pinned: str) -> tuple[bytes, Identity]:
    """Return the CA certificate (PEM) matching ``pinned`` and the controller identity its leaf carries."""
    chain = _unverified_chain(address)
    if not chain:
        raise ControllerUnreachable(f"{address} presented no certificate")
    leaf, rest = chain[0], chain[1:]
    matches = [cert for cert in rest if fingerprint(cert) == pinned]
    if not matches:
        seen = ", ".join(fingerprint(cert) for cert in rest) or "none"
        raise FingerprintMismatch(
            f"the controller at {address} does not present the CA you pinned ({pinned}); it presented: {seen}",
            remedy="re-check the fingerprint printed by 'failbackctl token create'; if it is right, "
            "something between you and the controller is impersonating it: do not continue",
        )
    ca = matches[0]
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        leaf.verify_directly_issued_by(ca)
    except (x509.ExtensionNotFound, ValueError, TypeError, InvalidSignature) as exc:
        raise FingerprintMismatch(f"the pinned certificate did not issue the controller's certificate: {exc}") from exc
    if not constraints.ca:
        raise FingerprintMismatch("the pinned certificate is not a CA certificate")
    identity = certificate_identity(leaf)
    if identity.role is not Role.CONTROLLER:
        raise FingerprintMismatch(f"{address} presents the identity {identity}, not a controller")
    return ca.public_bytes(Encoding.PEM), identity


def _chain_der(tls: ssl.SSLSocket) -> list[bytes]:
    """The peer's chain as sent. Public in Python 3.13 (``SSLSocket.get_unverified_chain``, DER bytes); on 3.11
    and 3.12 the same method exists on the C-level object and returns certificate objects."""
    public = getattr(tls, "get_unverified_chain", None)
    if public is not None:
        return list(public() or [])
    certificates = tls._sslobj.get_unverified_chain() or []  # type: ignore[attr-defined]
    return [certificate.public_bytes(_ssl.ENCODING_DER) for certificate in certificates]
