"""Registering vCenters and vaults: checks every field, seals the credential, stores the rest.

The credential is sealed here, before anything is written, and only :meth:`SourceCatalog.vcenter_password` /
:meth:`SourceCatalog.vault_secret` open it again, for the adapter that is about to connect.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from cryptography import x509

from controller.inventory.errors import SourceInvalid
from controller.secrets import Secret, SecretBox
from controller.store import Sources, VaultRow, VCenterRow

__all__ = ["SourceCatalog", "parse_vcenter_address"]

_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HOST = re.compile(r"^[A-Za-z0-9.\-]+$|^\[[0-9A-Fa-f:.]+\]$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ARM_NAME = re.compile(r"^[^/\s]{1,90}$")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_vcenter_address(address: str) -> tuple[str, int]:
    """``vc.example.com``, ``vc.example.com:8443`` or ``[fd00::5]:443`` → host and port (443 by default)."""
    host, port = address.strip(), 443
    match = re.match(r"^(?P<host>\[[^\]]+\]|[^:\[\]]+)(?::(?P<port>\d+))?$", host)
    if match is None or not _HOST.match(match["host"]):
        raise SourceInvalid(
            f"vCenter address {address!r} is not HOST or HOST:PORT", remedy="give the name or address only, no https://"
        )
    if match["port"] is not None:
        port = int(match["port"])
        if not 0 < port < 65536:
            raise SourceInvalid(f"vCenter port {port} is out of range", remedy="use 1-65535 (usually 443)")
    return match["host"].strip("[]"), port


def _name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise SourceInvalid(
            f"{what} name {name!r} is not valid",
            remedy="use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit",
        )
    return name


def _ca(ca_pem: str | None) -> str | None:
    if not ca_pem:
        return None
    try:
        x509.load_pem_x509_certificates(ca_pem.encode())
    except ValueError as exc:
        raise SourceInvalid("the CA file does not hold a PEM certificate", remedy="pass the CA's .pem file") from exc
    return ca_pem


def _https(url: str | None, what: str) -> str | None:
    if not url:
        return None
    if not url.startswith("https://"):
        raise SourceInvalid(f"{what} {url!r} is not an https:// URL", remedy="Azure refuses tokens over plain http")
    return url.rstrip("/")


class SourceCatalog:
    def __init__(self, sources: Sources, box: SecretBox, *, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self._sources = sources
        self._box = box
        self._clock = clock

    def add_vcenter(
        self,
        *,
        name: str,
        address: str,
        username: str,
        password: Secret,
        ca_pem: str | None = None,
        thumbprint_sha256: str | None = None,
    ) -> VCenterRow:
        _name(name, "vCenter")
        parse_vcenter_address(address)
        if not username.strip():
            raise SourceInvalid("the vCenter user name is empty", remedy="give the failback service account")
        thumbprint = (thumbprint_sha256 or "").replace(":", "").strip().lower() or None
        if thumbprint is not None and not _HEX64.match(thumbprint):
            raise SourceInvalid(
                "the thumbprint is not a SHA-256 fingerprint (64 hex digits, colons allowed)",
                remedy="read it with: openssl x509 -noout -fingerprint -sha256",
            )
        ca = _ca(ca_pem)
        if (ca is None) == (thumbprint is None):
            raise SourceInvalid(
                "give exactly one of --ca-file and --thumbprint to verify vCenter's certificate",
                remedy="use the vCenter's CA certificate (preferred) or pin its SHA-256 fingerprint",
            )
        sealed = self._box.seal(password, context=_vcenter_context(name))
        return self._sources.add_vcenter(
            name=name,
            address=address.strip(),
            username=username.strip(),
            password_sealed=sealed,
            ca_pem=ca,
            thumbprint_sha256=thumbprint,
            now=self._clock(),
        )

    def vcenters(self) -> list[VCenterRow]:
        return self._sources.vcenters()

    def vcenter(self, name: str) -> VCenterRow:
        return self._sources.vcenter(name)

    def vcenter_password(self, name: str) -> Secret:
        return self._box.open(self._sources.vcenter_password(name), context=_vcenter_context(name))

    def add_vault(
        self,
        *,
        name: str,
        subscription_id: str,
        resource_group: str,
        vault: str,
        tenant_id: str,
        client_id: str,
        client_secret: Secret,
        base_url: str | None = None,
        authority: str | None = None,
        ca_pem: str | None = None,
    ) -> VaultRow:
        _name(name, "vault")
        for what, value in (
            ("subscription id", subscription_id),
            ("resource group", resource_group),
            ("vault name", vault),
            ("tenant id", tenant_id),
            ("client id", client_id),
        ):
            if not _ARM_NAME.match(value.strip()):
                raise SourceInvalid(f"the {what} {value!r} is not valid", remedy=f"give the {what} as Azure shows it")
        sealed = self._box.seal(client_secret, context=_vault_context(name))
        return self._sources.add_vault(
            name=name,
            subscription_id=subscription_id.strip(),
            resource_group=resource_group.strip(),
            vault=vault.strip(),
            tenant_id=tenant_id.strip(),
            client_id=client_id.strip(),
            client_secret_sealed=sealed,
            base_url=_https(base_url, "the endpoint"),
            authority=_https(authority, "the authority"),
            ca_pem=_ca(ca_pem),
            now=self._clock(),
        )

    def vaults(self) -> list[VaultRow]:
        return self._sources.vaults()

    def vault(self, name: str) -> VaultRow:
        return self._sources.vault(name)

    def vault_secret(self, name: str) -> Secret:
        return self._box.open(self._sources.vault_secret(name), context=_vault_context(name))


def _vcenter_context(name: str) -> str:
    return f"vcenter:{name}:password"


def _vault_context(name: str) -> str:
    return f"azure:{name}:client-secret"
