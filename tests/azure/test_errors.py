"""azure-core errors from real HTTP answers become the adapter's errors, temporary or permanent, with remedies."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from controller.azure import ItemRef, RecoveryPointChoice, SiteRecovery, VaultRef
from controller.azure.errors import (
    AzureAuthError,
    AzureConflict,
    AzureNotFound,
    AzureRequestRejected,
    AzureThrottled,
    AzureTlsError,
    AzureUnavailable,
    OperationStatusUnknown,
)
from failback.errors import PermanentError, TemporaryError
from lab._tlsca import TestCA
from lab.azure import Fault, LocalAzure
from tests.azure.conftest import StaticToken, client_config

FABRICS = r"/replicationFabrics$"


@pytest.mark.parametrize(
    ("status", "error_type", "kind"),
    [
        (400, AzureRequestRejected, PermanentError),
        (401, AzureAuthError, PermanentError),
        (403, AzureAuthError, PermanentError),
        (404, AzureNotFound, PermanentError),
        (409, AzureConflict, TemporaryError),
        (429, AzureThrottled, TemporaryError),
        (500, AzureUnavailable, TemporaryError),
        (503, AzureUnavailable, TemporaryError),
    ],
)
def test_http_errors_are_translated_by_status(
    asr: SiteRecovery, endpoint: LocalAzure, status: int, error_type: type[Exception], kind: type[Exception]
) -> None:
    endpoint.inject(Fault(path=FABRICS, status=status, code=f"Code{status}", message=f"answer {status}"))
    with pytest.raises(error_type) as caught:
        asr.list_fabrics()
    error = caught.value
    assert isinstance(error, kind)
    assert error.status == status  # type: ignore[attr-defined]
    assert error.code == f"Code{status}"  # type: ignore[attr-defined]
    assert f"answer {status}" in str(error)
    assert error.remedy  # type: ignore[attr-defined]
    assert isinstance(error.__cause__, Exception)


def test_throttling_carries_azures_retry_after(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    endpoint.inject(Fault(path=FABRICS, status=429, retry_after=17))
    with pytest.raises(AzureThrottled) as caught:
        asr.list_fabrics()
    assert caught.value.retry_after == 17


def test_sdk_retries_transient_answers_when_configured(
    vault: VaultRef, credential: StaticToken, endpoint: LocalAzure
) -> None:
    endpoint.inject(Fault(path=FABRICS, status=503, retry_after=0, times=2))
    config = client_config(endpoint, retry_total=2, retry_backoff_factor=0)
    with SiteRecovery(vault, credential, config=config) as asr:
        assert len(asr.list_fabrics()) == 2
    assert sum(1 for r in endpoint.requests if r.path.endswith("/replicationFabrics")) == 3


def test_missing_vault_is_not_found(credential: StaticToken, endpoint: LocalAzure) -> None:
    e = endpoint.estate
    with (
        SiteRecovery(
            VaultRef(e.subscription_id, e.resource_group, "no-such-vault"), credential, config=client_config(endpoint)
        ) as asr,
        pytest.raises(AzureNotFound, match="no-such-vault"),
    ):
        asr.list_protected_items()


def test_missing_item_is_not_found(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    item = endpoint.estate.items[0]
    with pytest.raises(AzureNotFound):
        asr.get_protected_item(ItemRef(item.fabric, item.container, "no-such-item"))


def test_a_token_azure_rejects_is_an_auth_error(vault: VaultRef, endpoint: LocalAzure) -> None:
    with (
        SiteRecovery(vault, StaticToken("expired-token"), config=client_config(endpoint)) as asr,
        pytest.raises(AzureAuthError) as caught,
    ):
        asr.list_fabrics()
    assert caught.value.status == 401
    assert caught.value.remedy == "Check the credential's tenant, client id and secret."


def test_a_credential_that_cannot_get_a_token_is_an_auth_error(vault: VaultRef, endpoint: LocalAzure) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    class Broken:
        def get_token(self, *scopes: str, **kwargs: object) -> object:
            raise ClientAuthenticationError("AADSTS7000215: Invalid client secret provided.")

    with (
        SiteRecovery(vault, Broken(), config=client_config(endpoint)) as asr,
        pytest.raises(AzureAuthError, match="could not get an Azure token"),
    ):  # type: ignore[arg-type]
        asr.list_fabrics()
    assert endpoint.requests == []


def test_an_endpoint_signed_by_another_ca_is_refused(
    vault: VaultRef, credential: StaticToken, endpoint: LocalAzure, tmp_path: Path
) -> None:
    other = TestCA(tmp_path / "other-ca")
    config = client_config(endpoint, connection_verify=str(other.ca_file))
    with SiteRecovery(vault, credential, config=config) as asr, pytest.raises(AzureTlsError) as caught:
        asr.list_fabrics()
    assert isinstance(caught.value, PermanentError)
    assert endpoint.requests == []  # nothing was sent over an untrusted connection


def test_an_unreachable_endpoint_is_temporary(vault: VaultRef, credential: StaticToken, endpoint: LocalAzure) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = client_config(endpoint, base_url=f"https://127.0.0.1:{port}")
    with SiteRecovery(vault, credential, config=config) as asr, pytest.raises(AzureUnavailable):
        asr.list_fabrics()


def test_an_action_whose_answer_is_lost_is_status_unknown_and_not_repeated(
    vault: VaultRef, credential: StaticToken, endpoint: LocalAzure
) -> None:
    endpoint.inject(Fault(path=r"/unplannedFailover$", status=0, method="POST", drop=True))
    item = next(i for i in endpoint.estate.items if i.friendly_name == "db01")
    config = client_config(endpoint, retry_total=3, retry_backoff_factor=0)
    with SiteRecovery(vault, credential, config=config) as asr, pytest.raises(OperationStatusUnknown) as caught:
        asr.unplanned_failover(ItemRef(item.fabric, item.container, item.name), RecoveryPointChoice.latest_time())
    assert isinstance(caught.value, TemporaryError)
    assert sum(1 for r in endpoint.requests if r.method == "POST") == 1  # even with retries on, never sent twice
    assert endpoint.estate.jobs[-1].scenario == "UnplannedFailover"  # Azure did start it
