"""Azure credentials from configuration: a service principal with a secret, a managed identity, or any
``TokenCredential`` handed in. The secret is wrapped so that no repr, str or log line can show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.identity import ClientSecretCredential, ManagedIdentityCredential

from controller.azure.errors import InvalidRequest
from failback.secret import Secret

__all__ = ["ManagedIdentity", "Secret", "ServicePrincipal", "make_credential"]


@dataclass(frozen=True)
class ServicePrincipal:
    """An Entra ID application: tenant, client id and client secret. ``authority`` overrides the login host."""

    tenant_id: str
    client_id: str
    client_secret: Secret
    authority: str | None = None

    def __post_init__(self) -> None:
        if not self.tenant_id or not self.client_id:
            raise InvalidRequest("a service principal needs tenant_id and client_id")
        if not isinstance(self.client_secret, Secret):
            raise InvalidRequest("client_secret must be wrapped in Secret so it never reaches a log")


@dataclass(frozen=True)
class ManagedIdentity:
    """The VM's or app's managed identity; ``client_id`` picks a user-assigned one."""

    client_id: str | None = None


def make_credential(
    spec: ServicePrincipal | ManagedIdentity | TokenCredential, *, connection_verify: str | bool = True
) -> TokenCredential:
    """A credential for the Azure clients. ``connection_verify`` also applies to the token endpoint."""
    if isinstance(spec, ServicePrincipal):
        kwargs: dict[str, Any] = {"connection_verify": connection_verify}
        if spec.authority is not None:
            # A private authority (Azure Stack, a test endpoint) cannot be validated through public discovery.
            kwargs |= {"authority": spec.authority, "disable_instance_discovery": True}
        return ClientSecretCredential(spec.tenant_id, spec.client_id, spec.client_secret.reveal(), **kwargs)
    if isinstance(spec, ManagedIdentity):
        return ManagedIdentityCredential(client_id=spec.client_id, connection_verify=connection_verify)
    if not callable(getattr(spec, "get_token", None)):
        raise InvalidRequest(
            f"{type(spec).__name__} is not a credential",
            remedy="pass ServicePrincipal, ManagedIdentity or an azure.core TokenCredential",
        )
    return spec
