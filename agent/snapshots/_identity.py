"""The process server's Azure identity through azure-identity: the VM's managed identity (the default on an Azure
VM: no secret to keep), or a service principal whose secret is read from a file only its owner can read. The secret
never reaches argv, a log line, an error message or the state file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from azure.identity import ClientSecretCredential, ManagedIdentityCredential

from agent.snapshots.errors import InvalidConfig

__all__ = ["ManagedIdentity", "ServicePrincipal", "make_credential"]


@dataclass(frozen=True)
class ManagedIdentity:
    """The VM's system-assigned identity, or the user-assigned one with ``client_id``."""

    client_id: str | None = None


@dataclass(frozen=True)
class ServicePrincipal:
    """An Entra ID application; its client secret is the first line of ``secret_file`` (mode 0600 or stricter).
    ``authority`` overrides the login host (sovereign clouds, Azure Stack, a test endpoint)."""

    tenant_id: str
    client_id: str
    secret_file: Path
    authority: str | None = None


def _read_secret(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as exc:
        raise InvalidConfig(f"cannot open the client secret file {path}: {exc.strerror}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InvalidConfig(
                f"the client secret file {path} is readable by others (mode {stat.S_IMODE(mode):o})",
                remedy=f"chmod 600 {path}",
            )
        with os.fdopen(fd, encoding="utf-8", closefd=False) as handle:
            secret = handle.readline().strip()
    finally:
        os.close(fd)
    if not secret:
        raise InvalidConfig(f"the client secret file {path} is empty")
    return secret


def make_credential(
    spec: ManagedIdentity | ServicePrincipal | TokenCredential, *, connection_verify: str | bool = True
) -> TokenCredential:
    """A credential for :class:`~agent.snapshots.AzureImages`. ``connection_verify`` also applies to the token
    endpoint."""
    if isinstance(spec, ServicePrincipal):
        if not spec.tenant_id or not spec.client_id:
            raise InvalidConfig("a service principal needs tenant_id and client_id")
        kwargs: dict[str, Any] = {"connection_verify": connection_verify}
        if spec.authority is not None:
            # A private authority cannot be validated through public instance discovery.
            kwargs |= {"authority": spec.authority, "disable_instance_discovery": True}
        return ClientSecretCredential(spec.tenant_id, spec.client_id, _read_secret(spec.secret_file), **kwargs)
    if isinstance(spec, ManagedIdentity):
        return ManagedIdentityCredential(client_id=spec.client_id, connection_verify=connection_verify)
    if not callable(getattr(spec, "get_token", None)):
        raise InvalidConfig(f"{type(spec).__name__} is not a credential")
    return spec
