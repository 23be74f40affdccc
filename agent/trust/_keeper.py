"""Keeping the agent's certificate fresh and its revocation list current, while it serves.

Renewal happens when less than a third of the certificate's lifetime remains (a 7-day certificate renews after
~4.7 days), with a new key each time. The new identity is written atomically; the server's credentials re-read it
on the next handshake, so no restart is needed. The revocation list is fetched on the same schedule, checked
against the CA's signature, and kept on disk so a restarted agent refuses revoked peers from its first call.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from agent.trust._registration import Registration
from agent.trust.errors import ControllerUnreachable, TrustError
from controller.api.v1 import controller_pb2, controller_pb2_grpc
from failback.pki import build_csr, generate_key, key_pem, write_public
from failback.serving import TlsIdentity, load_tls_identity, secure_channel

__all__ = ["CertificateKeeper"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_RPC_TIMEOUT = 30.0
NOT_REGISTERED = (
    "register this agent: failback-agent register --controller HOST:9441 --token-file FILE "
    "--ca-fingerprint SHA256 --name NAME"
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CertificateKeeper:
    def __init__(
        self,
        state_dir: Path,
        registration: Registration,
        *,
        check_interval: float = 300.0,
        renew_fraction: float = 1 / 3,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self._state_dir = state_dir
        self._registration = registration
        self._check_interval = check_interval
        self._renew_fraction = renew_fraction
        self._clock = clock
        self._lock = threading.Lock()
        self._tls = load_tls_identity(self.tls_dir, remedy=NOT_REGISTERED)
        self._revoked: frozenset[int] = self._load_crl()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    @property
    def tls_dir(self) -> Path:
        return self._state_dir / "tls"

    @property
    def tls(self) -> TlsIdentity:
        with self._lock:
            return self._tls

    def is_revoked(self, serial: int) -> bool:
        return serial in self._revoked

    def certificate_valid(self) -> bool:
        return self.tls.not_after > self._clock()

    def renewal_due(self) -> bool:
        tls = self.tls
        lifetime = tls.not_after - tls.certificate.not_valid_before_utc
        return tls.not_after - self._clock() < lifetime * self._renew_fraction

    def refresh(self) -> None:
        """One round: renew if due, then fetch the revocation list. Raises on failure; the loop retries."""
        if self.renewal_due():
            self.renew()
        self.fetch_revocation_list()

    def renew(self) -> None:
        key = generate_key()
        csr = build_csr(key, self._registration.name, self._registration.extra_names)
        response = self._call(
            lambda stub: stub.Renew(
                controller_pb2.RenewRequest(csr_pem=csr.public_bytes(Encoding.PEM)), timeout=_RPC_TIMEOUT
            )
        )
        TlsIdentity.save(self.tls_dir, key_pem(key), response.certificate_pem, response.ca_pem)
        fresh = load_tls_identity(self.tls_dir, remedy=NOT_REGISTERED)
        with self._lock:
            self._tls = fresh
        log.info("renewed the certificate of %s, valid until %s", fresh.identity, fresh.not_after)

    def fetch_revocation_list(self) -> None:
        response = self._call(
            lambda stub: stub.GetRevocationList(controller_pb2.GetRevocationListRequest(), timeout=_RPC_TIMEOUT)
        )
        revoked = self._parse_crl(response.crl_pem)
        write_public(self.tls_dir / "crl.pem", response.crl_pem)
        self._revoked = revoked

    def _call(self, rpc: Callable[[controller_pb2_grpc.CertificatesStub], T]) -> T:
        registration = self._registration
        with secure_channel(registration.controller_address, self.tls, registration.controller) as channel:
            try:
                return rpc(controller_pb2_grpc.CertificatesStub(channel))
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.PERMISSION_DENIED:
                    raise TrustError(f"the controller refused this agent: {exc.details()}") from exc
                raise ControllerUnreachable(
                    f"the controller at {registration.controller_address} did not answer: {exc.details()}"
                ) from exc

    def _load_crl(self) -> frozenset[int]:
        path = self.tls_dir / "crl.pem"
        if not path.exists():
            return frozenset()
        try:
            return self._parse_crl(path.read_bytes())
        except TrustError as exc:
            log.error("ignoring %s: %s", path, exc)
            return frozenset()

    def _parse_crl(self, pem: bytes) -> frozenset[int]:
        try:
            crl = x509.load_pem_x509_crl(pem)
        except ValueError as exc:
            raise TrustError("the revocation list is not a PEM CRL") from exc
        ca = x509.load_pem_x509_certificate(self.tls.ca_pem)
        if not crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
            raise TrustError("the revocation list is not signed by our CA")
        return frozenset(entry.serial_number for entry in crl)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="certificate-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        interval = 0.0  # refresh once at start: a restarted agent may have slept through its renewal window
        while not self._stop.wait(interval):
            try:
                self.refresh()
                self.last_error = None
                interval = self._check_interval
            except (TrustError, ControllerUnreachable) as exc:
                self.last_error = str(exc)
                log.warning("certificate upkeep failed, retrying: %s", exc)
                interval = min(self._check_interval, 30.0)
