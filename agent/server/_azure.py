"""The process server's access to Azure from ``[azure]`` in agent.toml: the azure-identity credential (managed
identity, or a service principal whose secret is read from its file here, at the edge) and the SDK settings.
The secret never leaves the credential: not in argv, a log line, an error message or a state file."""

from __future__ import annotations

import logging

from agent.replication import AzureAccess
from agent.server._config import AzureSettings
from agent.snapshots import AzureConfig, ManagedIdentity, ServicePrincipal, make_credential

__all__ = ["azure_access"]


def azure_access(settings: AzureSettings) -> AzureAccess:
    # azure-core logs every request with its headers at INFO: a replicating process server makes several a second
    # (ranged reads), which would drown the agent's own log. Failures still reach it through our errors.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    verify: str | bool = str(settings.ca_bundle) if settings.ca_bundle is not None else True
    if settings.identity == "service-principal":
        assert settings.tenant
        assert settings.client_id
        assert settings.client_secret_file
        spec: ManagedIdentity | ServicePrincipal = ServicePrincipal(
            settings.tenant, settings.client_id, settings.client_secret_file, authority=settings.authority
        )
    else:
        spec = ManagedIdentity(settings.client_id)
    credential = make_credential(spec, connection_verify=verify)
    config = AzureConfig(base_url=settings.endpoint, connection_verify=verify)
    return AzureAccess(credential, config, min_interval=settings.lab_min_interval)
