"""The permissions check (ARM's matching rules: wildcards, notActions per entry, case) and the process server's
identity: a service principal whose secret comes from an owner-only file, logged in through the endpoint's Entra ID
route by the real azure-identity."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from azure.identity import ManagedIdentityCredential

from agent.snapshots import (
    REQUIRED_ACTIONS,
    AzureImages,
    ManagedIdentity,
    PointMode,
    ServicePrincipal,
    check_permissions,
    is_granted,
    make_credential,
    required_actions,
)
from agent.snapshots.errors import InvalidConfig
from lab.azure import LocalAzure

from ._helpers import TOKEN, SimClock, azure_config

# The built-in role, as ARM's role definition lists it.
DISK_SNAPSHOT_CONTRIBUTOR = {
    "actions": [
        "Microsoft.Authorization/*/read",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Compute/snapshots/delete",
        "Microsoft.Compute/snapshots/write",
        "Microsoft.Compute/snapshots/read",
        "Microsoft.Compute/snapshots/beginGetAccess/action",
        "Microsoft.Compute/snapshots/endGetAccess/action",
        "Microsoft.Compute/disks/beginGetAccess/action",
        "Microsoft.Storage/storageAccounts/listkeys/action",
        "Microsoft.Storage/storageAccounts/write",
        "Microsoft.Storage/storageAccounts/read",
        "Microsoft.Storage/storageAccounts/delete",
    ],
    "notActions": [],
    "dataActions": [],
    "notDataActions": [],
}
SECRET = "Xq8~snapshot-secret-that-must-never-leak"


def names(actions: tuple[object, ...]) -> set[str]:
    return {a.action for a in actions}  # type: ignore[attr-defined]


def test_a_role_listing_exactly_the_required_actions_passes() -> None:
    role = {"actions": [a.action for a in required_actions(PointMode.SNAPSHOTS)], "notActions": []}
    check = check_permissions([role])
    assert check.ok
    assert "all" in check.summary()


def test_disk_snapshot_contributor_alone_lacks_the_vm_and_disk_reads() -> None:
    check = check_permissions({"value": [DISK_SNAPSHOT_CONTRIBUTOR]})
    assert names(check.missing) == {"Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/disks/read"}
    assert "Microsoft.Compute/disks/read" in check.summary()


def test_wildcards_match_any_run_of_characters_and_case_is_ignored() -> None:
    assert check_permissions([{"actions": ["microsoft.compute/*"]}], mode=PointMode.APP_RESTORE_POINTS).ok
    assert is_granted("Microsoft.Compute/snapshots/read", [{"actions": ["*/read"]}])
    assert not is_granted("Microsoft.Compute/snapshots/write", [{"actions": ["*/read"]}])
    assert is_granted(
        "Microsoft.Compute/snapshots/beginGetAccess/action", [{"actions": ["Microsoft.Compute/snapshots/*"]}]
    )


def test_not_actions_subtract_only_within_their_own_entry() -> None:
    denied = {"actions": ["*"], "notActions": ["Microsoft.Compute/snapshots/delete"]}
    check = check_permissions([denied])
    assert names(check.missing) == {"Microsoft.Compute/snapshots/delete"}
    other_entry = {"actions": ["Microsoft.Compute/snapshots/*"], "notActions": []}
    assert check_permissions([denied, other_entry]).ok


def test_each_mode_asks_for_what_it_uses_and_scopes_split_the_list() -> None:
    snapshots = names(required_actions(PointMode.SNAPSHOTS))
    points = names(required_actions(PointMode.CRASH_RESTORE_POINTS))
    assert "Microsoft.Compute/snapshots/write" in snapshots - points
    assert "Microsoft.Compute/restorePointCollections/restorePoints/write" in points - snapshots
    vm_only = check_permissions([{"actions": ["Microsoft.Compute/virtualMachines/read"]}], scope="vm")
    assert vm_only.ok
    assert {a.scope for a in REQUIRED_ACTIONS} == {"vm", "disks", "snapshots"}


def test_a_malformed_permissions_answer_is_refused() -> None:
    with pytest.raises(TypeError):
        check_permissions({"permissions": []})
    with pytest.raises(TypeError):
        check_permissions(["Microsoft.Compute/*"])  # type: ignore[list-item]


def test_a_secret_file_readable_by_others_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o644)
    with pytest.raises(InvalidConfig, match="chmod 600") as refused:
        make_credential(ServicePrincipal("tenant-a", "client-a", secret))
    assert SECRET not in str(refused.value)


def test_a_service_principal_logs_in_and_its_secret_reaches_no_log(
    tmp_path: Path, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    with LocalAzure(
        tls_dir=tmp_path / "tls", token=TOKEN, principals={("tenant-a", "client-a"): SECRET}, disk_dir=tmp_path / "d"
    ) as lab:
        lab.disks.add_disk("web01-os", 1 << 20, vm="web01")
        credential = make_credential(
            ServicePrincipal("tenant-a", "client-a", secret, authority=lab.base_url), connection_verify=lab.ca_file
        )
        with AzureImages(credential, lab.estate.subscription_id, config=azure_config(lab, clock)) as azure:
            assert [d.name for d in azure.vm("rg-dr", "web01").disks] == ["web01-os"]
        assert any(r.path.endswith("/oauth2/v2.0/token") for r in lab.requests)
    assert SECRET not in caplog.text


def test_a_managed_identity_is_the_default_credential_kind() -> None:
    assert isinstance(
        make_credential(ManagedIdentity(client_id="00000000-1111-2222-3333-444444444444")), ManagedIdentityCredential
    )
