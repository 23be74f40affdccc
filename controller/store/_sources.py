"""vCenters and Azure vaults: where the inventory comes from. Credentials arrive here already sealed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from controller.store._database import Database
from controller.store._models import AzureVault, VCenter
from controller.store.errors import SourceExists, SourceNotFound

__all__ = ["Sources", "VCenterRow", "VaultRow"]


@dataclass(frozen=True)
class VCenterRow:
    name: str
    address: str
    username: str
    ca_pem: str | None
    thumbprint_sha256: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class VaultRow:
    name: str
    subscription_id: str
    resource_group: str
    vault: str
    tenant_id: str
    client_id: str
    base_url: str | None
    authority: str | None
    ca_pem: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class Sources:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add_vcenter(
        self,
        *,
        name: str,
        address: str,
        username: str,
        password_sealed: bytes,
        ca_pem: str | None,
        thumbprint_sha256: str | None,
        now: dt.datetime,
    ) -> VCenterRow:
        row = VCenter(
            name=name,
            address=address,
            username=username,
            password_sealed=password_sealed,
            ca_pem=ca_pem,
            thumbprint_sha256=thumbprint_sha256,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._db.session() as session:
                session.add(row)
        except IntegrityError as exc:
            raise SourceExists(f"a vCenter named {name!r} is already registered", remedy="pick another name") from exc
        return self.vcenter(name)

    def vcenters(self) -> list[VCenterRow]:
        with self._db.session() as session:
            return [_vcenter(row) for row in session.scalars(select(VCenter).order_by(VCenter.name))]

    def vcenter(self, name: str) -> VCenterRow:
        with self._db.session() as session:
            return _vcenter(_get_vcenter(session.get(VCenter, name), name))

    def vcenter_password(self, name: str) -> bytes:
        with self._db.session() as session:
            return _get_vcenter(session.get(VCenter, name), name).password_sealed

    def add_vault(
        self,
        *,
        name: str,
        subscription_id: str,
        resource_group: str,
        vault: str,
        tenant_id: str,
        client_id: str,
        client_secret_sealed: bytes,
        base_url: str | None,
        authority: str | None,
        ca_pem: str | None,
        now: dt.datetime,
    ) -> VaultRow:
        row = AzureVault(
            name=name,
            subscription_id=subscription_id,
            resource_group=resource_group,
            vault=vault,
            tenant_id=tenant_id,
            client_id=client_id,
            client_secret_sealed=client_secret_sealed,
            base_url=base_url,
            authority=authority,
            ca_pem=ca_pem,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._db.session() as session:
                session.add(row)
        except IntegrityError as exc:
            raise SourceExists(
                f"an Azure vault named {name!r} is already registered", remedy="pick another name"
            ) from exc
        return self.vault(name)

    def vaults(self) -> list[VaultRow]:
        with self._db.session() as session:
            return [_vault(row) for row in session.scalars(select(AzureVault).order_by(AzureVault.name))]

    def vault(self, name: str) -> VaultRow:
        with self._db.session() as session:
            return _vault(_get_vault(session.get(AzureVault, name), name))

    def vault_secret(self, name: str) -> bytes:
        with self._db.session() as session:
            return _get_vault(session.get(AzureVault, name), name).client_secret_sealed


def _get_vcenter(row: VCenter | None, name: str) -> VCenter:
    if row is None:
        raise SourceNotFound(f"no vCenter named {name!r}", remedy="see 'failbackctl vcenter list'")
    return row


def _get_vault(row: AzureVault | None, name: str) -> AzureVault:
    if row is None:
        raise SourceNotFound(f"no Azure vault named {name!r}", remedy="see 'failbackctl azure list'")
    return row


def _vcenter(row: VCenter) -> VCenterRow:
    return VCenterRow(
        row.name, row.address, row.username, row.ca_pem, row.thumbprint_sha256, row.created_at, row.updated_at
    )


def _vault(row: AzureVault) -> VaultRow:
    return VaultRow(
        name=row.name,
        subscription_id=row.subscription_id,
        resource_group=row.resource_group,
        vault=row.vault,
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        base_url=row.base_url,
        authority=row.authority,
        ca_pem=row.ca_pem,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
