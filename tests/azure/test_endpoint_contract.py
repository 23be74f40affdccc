"""The local Azure endpoint's own contract, checked over raw HTTPS: it must behave as ARM does for the adapter's
tests to mean anything (long-running operations, errors, paging, recording, TLS)."""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from lab._tlsca import TestCA
from lab.azure import API_VERSION, Fault, LocalAzure
from tests.azure.conftest import TOKEN


class Raw:
    """A bare HTTPS client that trusts the endpoint's CA: what ARM would see on the wire."""

    def __init__(self, endpoint: LocalAzure) -> None:
        self.endpoint = endpoint
        self.context = ssl.create_default_context(cafile=endpoint.ca_file)

    def call(
        self, method: str, url_or_path: str, body: Any = None, *, token: str | None = TOKEN
    ) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(url_or_path)
        target = url_or_path if not parts.scheme else parts.path + (f"?{parts.query}" if parts.query else "")
        if "api-version" not in target:
            target += ("&" if "?" in target else "?") + f"api-version={API_VERSION}"
        host = urlsplit(self.endpoint.base_url)
        conn = http.client.HTTPSConnection(host.hostname or "", host.port, context=self.context, timeout=10)
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, target, body=None if body is None else json.dumps(body), headers=headers)
            response = conn.getresponse()
            raw = response.read()
            return response.status, dict(response.getheaders()), json.loads(raw) if raw else None
        finally:
            conn.close()


@pytest.fixture
def raw(endpoint: LocalAzure) -> Raw:
    return Raw(endpoint)


def vault_path(endpoint: LocalAzure) -> str:
    e = endpoint.estate
    return (
        f"/subscriptions/{e.subscription_id}/resourceGroups/{e.resource_group}"
        f"/providers/Microsoft.RecoveryServices/vaults/{e.vault}"
    )


def item_path(endpoint: LocalAzure, name: str) -> str:
    i = next(i for i in endpoint.estate.items if i.friendly_name == name)
    return (
        f"{vault_path(endpoint)}/replicationFabrics/{i.fabric}/replicationProtectionContainers/{i.container}"
        f"/replicationProtectedItems/{i.name}"
    )


FAILBACK = {
    "properties": {
        "failoverDirection": "RecoveryToPrimary",
        "providerSpecificDetails": {"instanceType": "InMage", "recoveryPointType": "LatestTime"},
    }
}


def test_an_action_is_accepted_with_202_and_the_three_lro_headers(raw: Raw, endpoint: LocalAzure) -> None:
    status, headers, body = raw.call("POST", item_path(endpoint, "db01") + "/unplannedFailover", FAILBACK)
    job = endpoint.estate.jobs[-1].name
    assert (status, body) == (202, None)
    assert headers["Location"] == (
        f"{endpoint.base_url}{item_path(endpoint, 'db01')}/operationresults/{job}?api-version={API_VERSION}"
    )
    assert headers["Azure-AsyncOperation"] == (
        f"{endpoint.base_url}{vault_path(endpoint)}/replicationOperationStatus/{job}?api-version={API_VERSION}"
    )
    assert headers["Retry-After"] == "0"


def test_status_answers_in_progress_as_configured_then_succeeded_and_location_gives_the_item(
    raw: Raw, endpoint: LocalAzure
) -> None:
    endpoint.lro.in_progress_polls = 2
    _, headers, _ = raw.call("POST", item_path(endpoint, "db01") + "/unplannedFailover", FAILBACK)
    assert raw.call("GET", headers["Location"])[0] == 202
    answers = [raw.call("GET", headers["Azure-AsyncOperation"])[2]["status"] for _ in range(3)]
    assert answers == ["InProgress", "InProgress", "Succeeded"]
    status, _, item = raw.call("GET", headers["Location"])
    assert status == 200
    assert item["properties"]["protectionState"] == "UnplannedFailoverCommitPendingStatesBegin"
    assert endpoint.estate.jobs[-1].state == "Succeeded"


def test_while_running_the_item_and_job_show_the_operation(raw: Raw, endpoint: LocalAzure) -> None:
    endpoint.lro.in_progress_polls = 5
    raw.call("POST", item_path(endpoint, "db01") + "/unplannedFailover", FAILBACK)
    job = endpoint.estate.jobs[-1].name
    _, _, item = raw.call("GET", item_path(endpoint, "db01"))
    assert item["properties"]["currentScenario"]["scenarioName"] == "UnplannedFailover"
    assert item["properties"]["currentScenario"]["jobId"].endswith(f"/replicationJobs/{job}")
    assert item["properties"]["protectionState"] == "Protected"  # the effect lands when the job ends
    assert raw.call("POST", item_path(endpoint, "db01") + "/failoverCancel")[0] == 409


def test_a_failed_operation_reports_its_error_and_changes_nothing(raw: Raw, endpoint: LocalAzure) -> None:
    endpoint.lro.fail_next("95117", "The master target cannot reach the selected datastore.")
    _, headers, _ = raw.call("POST", item_path(endpoint, "db01") + "/unplannedFailover", FAILBACK)
    _, _, status = raw.call("GET", headers["Azure-AsyncOperation"])
    assert status["status"] == "Failed"
    assert status["error"] == {"code": "95117", "message": "The master target cannot reach the selected datastore."}
    assert next(i for i in endpoint.estate.items if i.friendly_name == "db01").active_location == "Recovery"


def test_every_request_is_recorded_with_method_path_query_and_body(raw: Raw, endpoint: LocalAzure) -> None:
    raw.call("POST", item_path(endpoint, "db01") + "/unplannedFailover?extra=1", FAILBACK)
    (recorded,) = endpoint.requests
    assert recorded.method == "POST"
    assert recorded.path == item_path(endpoint, "db01") + "/unplannedFailover"
    assert recorded.query == {"extra": ["1"], "api-version": [API_VERSION]}
    assert recorded.body == FAILBACK
    assert recorded.headers["Authorization"] == f"Bearer {TOKEN}"


def test_lists_are_paged_with_next_links(raw: Raw, endpoint: LocalAzure) -> None:
    endpoint.estate.page_size = 4
    _, _, first = raw.call("GET", vault_path(endpoint) + "/replicationProtectedItems")
    assert len(first["value"]) == 4
    _, _, second = raw.call("GET", first["nextLink"])
    assert len(second["value"]) == len(endpoint.estate.items) - 4
    assert "nextLink" not in second


def test_requests_without_the_bearer_token_are_unauthorized(raw: Raw, endpoint: LocalAzure) -> None:
    status, _, body = raw.call("GET", vault_path(endpoint) + "/replicationFabrics", token=None)
    assert status == 401
    assert body["error"]["code"] == "InvalidAuthenticationToken"


def test_a_wrong_api_version_is_rejected(raw: Raw, endpoint: LocalAzure) -> None:
    status, _, body = raw.call("GET", vault_path(endpoint) + "/replicationFabrics?api-version=2021-06-01")
    assert (status, body["error"]["code"]) == (400, "InvalidApiVersionParameter")


def test_an_injected_fault_answers_as_many_times_as_asked(raw: Raw, endpoint: LocalAzure) -> None:
    endpoint.inject(Fault(path=r"/replicationFabrics$", status=429, retry_after=9, times=1))
    status, headers, body = raw.call("GET", vault_path(endpoint) + "/replicationFabrics")
    assert (status, headers["Retry-After"], body["error"]["code"]) == (429, "9", "TooManyRequests")
    assert raw.call("GET", vault_path(endpoint) + "/replicationFabrics")[0] == 200


def test_unknown_paths_are_not_found(raw: Raw, endpoint: LocalAzure) -> None:
    assert raw.call("GET", vault_path(endpoint) + "/replicationNothing")[0] == 404


def test_a_client_that_trusts_another_ca_cannot_connect(endpoint: LocalAzure, tmp_path: Path) -> None:
    other = TestCA(tmp_path / "other")
    host = urlsplit(endpoint.base_url)
    context = ssl.create_default_context(cafile=str(other.ca_file))
    conn = http.client.HTTPSConnection(host.hostname or "", host.port, context=context, timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("GET", "/")
    conn.close()
    assert endpoint.requests == []


def test_compute_power_operations_show_the_transitional_state(raw: Raw, endpoint: LocalAzure) -> None:
    e = endpoint.estate
    vm = f"/subscriptions/{e.subscription_id}/resourceGroups/rg-dr/providers/Microsoft.Compute/virtualMachines/web01"
    endpoint.lro.in_progress_polls = 1
    status, headers, _ = raw.call("POST", vm + "/powerOff?api-version=2026-04-01")
    assert status == 202
    view = raw.call("GET", vm + "/instanceView?api-version=2026-04-01")[2]
    assert view["statuses"][1]["code"] == "PowerState/stopping"
    assert raw.call("GET", headers["Azure-AsyncOperation"])[2]["status"] == "InProgress"
    assert raw.call("GET", headers["Azure-AsyncOperation"])[2]["status"] == "Succeeded"
    assert (
        raw.call("GET", vm + "/instanceView?api-version=2026-04-01")[2]["statuses"][1]["code"] == "PowerState/stopped"
    )
