"""Reading a source through its adapter: the only place a credential is revealed, right before it is used.

CA certificates stored with a source are written to ``<trust_dir>/<kind>-<name>.pem`` because both SDKs take a
file path; they are public and rewritten before every connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from controller import azure, vsphere
from controller.secrets import Secret
from controller.store import VaultRow, VCenterRow
from failback.pki import write_public

__all__ = ["Readers"]


class Readers:
    def __init__(self, trust_dir: Path, *, vcenter_timeout: float = 60.0) -> None:
        self._trust_dir = trust_dir
        self._vcenter_timeout = vcenter_timeout

    def _ca_file(self, kind: str, name: str, ca_pem: str) -> Path:
        path = self._trust_dir / f"{kind}-{name}.pem"
        write_public(path, ca_pem.encode())
        return path

    @contextmanager
    def vcenter(self, row: VCenterRow, password: Secret) -> Iterator[vsphere.VSphere]:
        from controller.inventory._catalog import parse_vcenter_address

        host, port = parse_vcenter_address(row.address)
        credentials = vsphere.Credentials(
            host=host,
            port=port,
            user=row.username,
            password=password.reveal(),
            ca_file=self._ca_file("vcenter", row.name, row.ca_pem) if row.ca_pem else None,
            thumbprint_sha256=row.thumbprint_sha256,
        )
        with vsphere.connect(credentials, timeout=self._vcenter_timeout) as client:
            yield client

    @contextmanager
    def vault(self, row: VaultRow, secret: Secret) -> Iterator[azure.SiteRecovery]:
        verify: str | bool = str(self._ca_file("azure", row.name, row.ca_pem)) if row.ca_pem else True
        principal = azure.ServicePrincipal(
            row.tenant_id, row.client_id, azure.Secret(secret.reveal()), authority=row.authority
        )
        config = azure.AzureClientConfig(
            base_url=row.base_url or azure.AzureClientConfig.base_url, connection_verify=verify
        )
        credential = azure.make_credential(principal, connection_verify=verify)
        ref = azure.VaultRef(row.subscription_id, row.resource_group, row.vault)
        with azure.SiteRecovery(ref, credential, config=config) as client:
            yield client
