"""Credentials: azure-identity's real ClientSecretCredential against the endpoint's token route; secrets never in a
repr, a str, an error or a log line."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest
from azure.identity import ClientSecretCredential, ManagedIdentityCredential

from controller.azure import (
    AzureClientConfig,
    ManagedIdentity,
    Secret,
    ServicePrincipal,
    SiteRecovery,
    VaultRef,
    make_credential,
)
from controller.azure.errors import AzureAuthError, InvalidRequest
from lab.azure import LocalAzure
from tests.azure.conftest import TOKEN, StaticToken, client_config

SECRET = "Xq8~s3cr3t-value-that-must-never-leak"


@pytest.fixture
def identity_endpoint(tmp_path: Path) -> LocalAzure:
    endpoint = LocalAzure(tls_dir=tmp_path / "tls", token=TOKEN, principals={("tenant-a", "client-a"): SECRET})
    with endpoint:
        yield endpoint  # type: ignore[misc]


def principal(endpoint: LocalAzure, secret: str = SECRET) -> ServicePrincipal:
    return ServicePrincipal("tenant-a", "client-a", Secret(secret), authority=endpoint.base_url)


def vault(endpoint: LocalAzure) -> VaultRef:
    e = endpoint.estate
    return VaultRef(e.subscription_id, e.resource_group, e.vault)


def test_a_secret_never_shows_in_repr_or_str() -> None:
    sp = ServicePrincipal("tenant-a", "client-a", Secret(SECRET))
    assert SECRET not in repr(sp)
    assert SECRET not in str(sp.client_secret)
    assert sp.client_secret.reveal() == SECRET


def test_a_secret_cannot_be_pickled() -> None:
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(Secret(SECRET))


def test_a_service_principal_logs_in_and_its_secret_is_never_logged(
    identity_endpoint: LocalAzure, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    credential = make_credential(principal(identity_endpoint), connection_verify=identity_endpoint.ca_file)
    assert isinstance(credential, ClientSecretCredential)
    with SiteRecovery(vault(identity_endpoint), credential, config=client_config(identity_endpoint)) as asr:
        assert len(asr.list_fabrics()) == 2
    token_requests = [r for r in identity_endpoint.requests if r.path == "/tenant-a/oauth2/v2.0/token"]
    assert len(token_requests) == 1
    assert token_requests[0].body["client_secret"] == SECRET  # sent where it belongs, and only there
    arm = [r for r in identity_endpoint.requests if r.path.startswith("/subscriptions/")]
    assert arm[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert caplog.records  # the SDK did log at DEBUG
    assert SECRET not in caplog.text


def test_a_wrong_secret_is_an_auth_error_without_the_secret(identity_endpoint: LocalAzure) -> None:
    wrong = principal(identity_endpoint, "wrong-secret")
    credential = make_credential(wrong, connection_verify=identity_endpoint.ca_file)
    config = client_config(identity_endpoint)
    with (
        SiteRecovery(vault(identity_endpoint), credential, config=config) as asr,
        pytest.raises(AzureAuthError) as caught,
    ):
        asr.list_fabrics()
    assert "AADSTS7000215" in str(caught.value)
    assert "wrong-secret" not in str(caught.value)
    assert not [r for r in identity_endpoint.requests if r.path.startswith("/subscriptions/")]


def test_a_managed_identity_becomes_azure_identitys_credential() -> None:
    assert isinstance(
        make_credential(ManagedIdentity(client_id="00000000-0000-0000-0000-000000000001")), ManagedIdentityCredential
    )


def test_any_token_credential_is_used_as_it_is() -> None:
    static = StaticToken()
    assert make_credential(static) is static


def test_something_that_is_not_a_credential_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="not a credential"):
        make_credential("my-secret")  # type: ignore[arg-type]


def test_a_plain_string_secret_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="Secret"):
        ServicePrincipal("tenant-a", "client-a", SECRET)  # type: ignore[arg-type]


def test_plain_http_is_refused_before_any_client_is_made() -> None:
    with pytest.raises(InvalidRequest, match="https"):
        AzureClientConfig(base_url="http://127.0.0.1:8080")
