"""Where the doctor's live facts come from, as small seams: the vCenter and vault clients it opens, how it reads
privileges, how it reads a server's certificate. The defaults are the real adapters with the doctor's deadlines.

The seams exist for what no simulator can show: a read-only vCenter user (:func:`principal_privileges` computes a
named principal's privileges from vCenter's own roles and permissions), or a guest without VMware Tools (a test
wraps the real adapter and changes the record it returns).
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from cryptography import x509

from controller import azure, vsphere
from controller.inventory import Readers, SourceCatalog, parse_vcenter_address
from controller.store import VaultRow, VCenterRow
from failback.pki import write_public

__all__ = [
    "CertificateReader",
    "PrivilegeProbe",
    "VCenterClient",
    "VCenterOpener",
    "VaultClient",
    "VaultOpener",
    "principal_privileges",
    "read_certificate_expiry",
    "session_privileges",
    "vault_opener",
    "vcenter_endpoint",
    "vcenter_opener",
]


class VCenterClient(Protocol):
    """What the doctor asks of vCenter (:class:`controller.vsphere.VSphere` is one)."""

    @property
    def user(self) -> str: ...

    @property
    def round_trips(self) -> int: ...

    def inventory(self) -> vsphere.Inventory: ...

    def check_privileges(self, targets: Sequence[vsphere.PrivilegeTarget]) -> vsphere.PrivilegeReport: ...

    def principal_privileges(
        self, principal: str, targets: Sequence[vsphere.PrivilegeTarget], *, groups: Sequence[str] = ()
    ) -> vsphere.PrivilegeReport: ...


class VaultClient(Protocol):
    """What the doctor asks of a vault (:class:`controller.azure.SiteRecovery` is one)."""

    def list_protected_items(self) -> tuple[azure.ProtectedItem, ...]: ...

    def list_fabrics(self) -> tuple[azure.Fabric, ...]: ...


VCenterOpener = Callable[[VCenterRow], AbstractContextManager[VCenterClient]]
VaultOpener = Callable[[VaultRow], AbstractContextManager[VaultClient]]
PrivilegeProbe = Callable[[VCenterClient, Sequence[vsphere.PrivilegeTarget]], vsphere.PrivilegeReport]
CertificateReader = Callable[[str, int], dt.datetime]


def session_privileges(client: VCenterClient, targets: Sequence[vsphere.PrivilegeTarget]) -> vsphere.PrivilegeReport:
    """What vCenter says our own session may do (HasPrivilegeOnEntities): the authority, one round trip."""
    return client.check_privileges(targets)


def principal_privileges(principal: str, *, groups: Sequence[str] = ()) -> PrivilegeProbe:
    """What ``principal`` (a member of ``groups``) may do, computed from vCenter's permissions and roles.

    Without the principal's groups this cannot see privileges granted through a group, so it is not the default;
    it explains a denial, and shows a read-only account on a simulator where every session is an administrator.
    """

    def probe(client: VCenterClient, targets: Sequence[vsphere.PrivilegeTarget]) -> vsphere.PrivilegeReport:
        return client.principal_privileges(principal, targets, groups=groups)

    return probe


def read_certificate_expiry(timeout: float) -> CertificateReader:
    """Read when the certificate a TLS server presents expires. Only the date is used (for a warning): the
    adapter verifies the certificate itself on every connection, so this handshake does not need to."""

    def read(host: str, port: int) -> dt.datetime:
        pem = ssl.get_server_certificate((host, port), timeout=timeout)
        return x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc

    return read


def vcenter_opener(catalog: SourceCatalog, trust_dir: Path, *, timeout: float) -> VCenterOpener:
    """Log in with the registered credential; ``timeout`` bounds every HTTP request of the session."""
    readers = Readers(trust_dir, vcenter_timeout=timeout)

    @contextmanager
    def open_vcenter(row: VCenterRow) -> Iterator[VCenterClient]:
        with readers.vcenter(row, catalog.vcenter_password(row.name)) as client:
            yield client

    return open_vcenter


def vault_opener(catalog: SourceCatalog, trust_dir: Path, *, timeout: float) -> VaultOpener:
    """Sign in with the registered service principal, with the doctor's timeouts and no SDK retries (a vault
    that does not answer in time is a finding, not something to wait for)."""

    @contextmanager
    def open_vault(row: VaultRow) -> Iterator[VaultClient]:
        verify: str | bool = True
        if row.ca_pem:
            path = trust_dir / f"azure-{row.name}.pem"
            write_public(path, row.ca_pem.encode())
            verify = str(path)
        principal = azure.ServicePrincipal(
            row.tenant_id, row.client_id, azure.Secret(catalog.vault_secret(row.name).reveal()), authority=row.authority
        )
        config = azure.AzureClientConfig(
            base_url=row.base_url or azure.AzureClientConfig.base_url,
            connection_verify=verify,
            retry_total=0,
            connection_timeout=timeout,
            read_timeout=timeout,
        )
        credential = azure.make_credential(principal, connection_verify=verify)
        reference = azure.VaultRef(row.subscription_id, row.resource_group, row.vault)
        with azure.SiteRecovery(reference, credential, config=config) as client:
            yield client

    return open_vault


def vcenter_endpoint(row: VCenterRow) -> tuple[str, int]:
    return parse_vcenter_address(row.address)
