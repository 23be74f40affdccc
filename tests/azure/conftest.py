"""Fixtures for the Azure adapter: a fresh local HTTPS endpoint per test, driven by the real SDKs.

The endpoint (``lab.azure.LocalAzure``) runs the demo estate; the adapter gets its base URL, its CA file as
``connection_verify``, a static bearer token, no polling pause and no SDK retries, so every answer of the endpoint
reaches the adapter as it was sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken

from controller.azure import AzureClientConfig, AzureVms, SiteRecovery, VaultRef
from failback.retry import Policy
from lab.azure import LocalAzure

TOKEN = "static-test-token"


class StaticToken:
    """The smallest TokenCredential: one fixed token. Counts calls so tests can see it was used."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        del scopes, kwargs
        self.calls += 1
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[LocalAzure]:
    with LocalAzure(tls_dir=tmp_path / "tls", token=TOKEN) as local:
        yield local


@pytest.fixture
def credential() -> StaticToken:
    return StaticToken()


def client_config(endpoint: LocalAzure, *, deadline: float = 30.0, **overrides: object) -> AzureClientConfig:
    settings: dict[str, object] = {
        "base_url": endpoint.base_url,
        "connection_verify": endpoint.ca_file,
        "polling_interval": 0,
        "retry_total": 0,
        "operation_policy": Policy(deadline=deadline),
    }
    settings.update(overrides)
    return AzureClientConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def config(endpoint: LocalAzure) -> AzureClientConfig:
    return client_config(endpoint)


@pytest.fixture
def vault(endpoint: LocalAzure) -> VaultRef:
    e = endpoint.estate
    return VaultRef(e.subscription_id, e.resource_group, e.vault)


@pytest.fixture
def asr(vault: VaultRef, credential: StaticToken, config: AzureClientConfig) -> Iterator[SiteRecovery]:
    with SiteRecovery(vault, credential, config=config) as client:
        yield client


@pytest.fixture
def vms(credential: StaticToken, config: AzureClientConfig) -> Iterator[AzureVms]:
    with AzureVms(credential, config=config) as client:
        yield client
