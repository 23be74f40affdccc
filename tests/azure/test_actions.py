"""Failback actions through the real SDK: request bodies as sent, the state ASR reports afterwards, the ASR job."""

from __future__ import annotations

import pytest

from controller.azure import (
    FailoverDirection,
    InMageAzureV2Reprotect,
    InMageReprotect,
    InMageState,
    ItemRef,
    RecoveryPointChoice,
    RecoveryPointType,
    SiteRecovery,
)
from controller.azure.errors import AzureRequestRejected, InvalidRequest
from lab import azure as lab
from lab.azure import LocalAzure, RecordedRequest


def ref(endpoint: LocalAzure, friendly_name: str) -> ItemRef:
    item = next(i for i in endpoint.estate.items if i.friendly_name == friendly_name)
    return ItemRef(item.fabric, item.container, item.name)


def item(endpoint: LocalAzure, friendly_name: str) -> lab.Item:
    return next(i for i in endpoint.estate.items if i.friendly_name == friendly_name)


def policy_id(endpoint: LocalAzure, name: str) -> str:
    e = endpoint.estate
    return (
        f"/subscriptions/{e.subscription_id}/resourceGroups/{e.resource_group}"
        f"/providers/Microsoft.RecoveryServices/vaults/{e.vault}/replicationPolicies/{name}"
    )


def posts(endpoint: LocalAzure, suffix: str) -> list[RecordedRequest]:
    return [r for r in endpoint.requests if r.method == "POST" and r.path.lower().endswith(suffix.lower())]


def to_onprem(endpoint: LocalAzure) -> InMageReprotect:
    fabric = endpoint.estate.fabrics[0]
    return InMageReprotect(
        master_target_id=fabric.master_targets[0].id,
        process_server_id=fabric.process_servers[1].id,
        retention_drive="E:\\",
        policy_id=policy_id(endpoint, "failback-24h"),
        run_as_account_id="3",
        datastore_name="datastore-ssd-01",
        disks_to_include=("6000C29a-1b2c-3d4e-5f60-718293a4b5c6",),
    )


def fail_back_and_commit(asr: SiteRecovery, endpoint: LocalAzure, name: str) -> None:
    asr.unplanned_failover(ref(endpoint, name), RecoveryPointChoice.latest_time())
    asr.commit_failover(ref(endpoint, name))


def test_reprotect_to_onprem_sends_the_inmage_input_with_every_field(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    spec = to_onprem(endpoint)
    asr.reprotect(ref(endpoint, "web01"), spec, direction=FailoverDirection.RECOVERY_TO_PRIMARY)
    (sent,) = posts(endpoint, "/reProtect")
    assert sent.body == {
        "properties": {
            "failoverDirection": "RecoveryToPrimary",
            "providerSpecificDetails": {
                "instanceType": "InMage",
                "masterTargetId": spec.master_target_id,
                "processServerId": spec.process_server_id,
                "retentionDrive": "E:\\",
                "profileId": spec.policy_id,
                "runAsAccountId": "3",
                "datastoreName": "datastore-ssd-01",
                "disksToInclude": ["6000C29a-1b2c-3d4e-5f60-718293a4b5c6"],
                "diskExclusionInput": {
                    "volumeOptions": [{"volumeLabel": "Temporary Storage", "onlyExcludeIfSingleVolume": "Yes"}]
                },
            },
        }
    }
    assert sent.param("api-version") == "2025-08-01"


def test_reprotect_to_onprem_leaves_the_item_replicating_to_the_master_target(
    asr: SiteRecovery, endpoint: LocalAzure
) -> None:
    spec = to_onprem(endpoint)
    result = asr.reprotect(ref(endpoint, "web01"), spec, direction=FailoverDirection.RECOVERY_TO_PRIMARY)
    assert result.item.provider == "InMage"
    assert result.item.protection_state == "Protected"
    assert result.item.replication_direction is FailoverDirection.RECOVERY_TO_PRIMARY
    assert isinstance(result.item.details, InMageState)
    assert result.item.details.master_target_id == spec.master_target_id
    assert result.item.details.datastores == ("datastore-ssd-01",)
    assert result.item.allowed_operations == ("UnplannedFailover", "DisableProtection")


def test_reprotect_returns_the_asr_job_that_ran_it(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    result = asr.reprotect(ref(endpoint, "web01"), to_onprem(endpoint), direction=FailoverDirection.RECOVERY_TO_PRIMARY)
    job = endpoint.estate.jobs[-1]
    assert result.job_id == job.name
    read_back = asr.get_job(result.job_id)
    assert (read_back.scenario, read_back.state, read_back.target_object_name) == ("Reprotect", "Succeeded", "web01")


def test_reprotect_back_to_azure_with_inmage_input_after_failback(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    fail_back_and_commit(asr, endpoint, "db01")
    spec = to_onprem(endpoint)
    result = asr.reprotect(ref(endpoint, "db01"), spec, direction=FailoverDirection.PRIMARY_TO_RECOVERY)
    sent = posts(endpoint, "/reProtect")[-1]
    assert sent.body["properties"]["failoverDirection"] == "PrimaryToRecovery"
    details = sent.body["properties"]["providerSpecificDetails"]
    assert details["instanceType"] == "InMage"
    assert {"masterTargetId", "processServerId", "retentionDrive", "profileId"} <= set(details)
    assert result.item.provider == "InMageAzureV2"
    assert result.item.replication_direction is FailoverDirection.PRIMARY_TO_RECOVERY


def test_reprotect_back_to_azure_with_inmage_azure_v2_input(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    fail_back_and_commit(asr, endpoint, "db01")
    ps = endpoint.estate.fabrics[0].process_servers[1].id
    spec = InMageAzureV2Reprotect(
        process_server_id=ps,
        policy_id=policy_id(endpoint, "v2a-24h"),
        log_storage_account_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/cache",
    )
    result = asr.reprotect(ref(endpoint, "db01"), spec, direction=FailoverDirection.PRIMARY_TO_RECOVERY)
    assert posts(endpoint, "/reProtect")[-1].body == {
        "properties": {
            "failoverDirection": "PrimaryToRecovery",
            "providerSpecificDetails": {
                "instanceType": "InMageAzureV2",
                "processServerId": ps,
                "policyId": spec.policy_id,
                "logStorageAccountId": spec.log_storage_account_id,
            },
        }
    }
    assert (result.item.protection_state, result.item.active_location) == ("Protected", "Primary")


@pytest.mark.parametrize(
    ("kind", "expected_point"),
    [
        (RecoveryPointType.LATEST_TIME, "rp-0030"),
        (RecoveryPointType.LATEST_TAG, "rp-0020"),
        (RecoveryPointType.CUSTOM, "rp-0025"),
    ],
    ids=["LatestTime", "LatestTag", "Custom"],
)
def test_unplanned_failover_fails_back_to_the_chosen_recovery_point(
    asr: SiteRecovery, endpoint: LocalAzure, kind: RecoveryPointType, expected_point: str
) -> None:
    # db01's points: rp-0020 (application-consistent), rp-0025 and rp-0030 (crash-consistent).
    db01 = ref(endpoint, "db01")
    if kind is RecoveryPointType.CUSTOM:
        point = next(p for p in asr.list_recovery_points(db01) if p.name == expected_point)
        choice = RecoveryPointChoice.custom(point.id)
    else:
        choice = RecoveryPointChoice(kind)
    result = asr.unplanned_failover(db01, choice)
    provider_input = {"instanceType": "InMage", "recoveryPointType": choice.type.value}
    if choice.recovery_point_id:
        provider_input["recoveryPointId"] = choice.recovery_point_id
    assert posts(endpoint, "/unplannedFailover")[-1].body == {
        "properties": {
            "failoverDirection": "RecoveryToPrimary",
            "sourceSiteOperations": "Required",
            "providerSpecificDetails": provider_input,
        }
    }
    assert result.item.protection_state == "UnplannedFailoverCommitPendingStatesBegin"
    assert result.item.active_location == "Primary"
    assert result.item.failover_recovery_point_id is not None
    assert result.item.failover_recovery_point_id.endswith(f"/recoveryPoints/{expected_point}")
    assert endpoint.estate.vm("db01").power_state == "stopped"


def test_commit_ends_the_failover_and_offers_reprotect(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    db01 = ref(endpoint, "db01")
    asr.unplanned_failover(db01, RecoveryPointChoice.latest_tag())
    result = asr.commit_failover(db01)
    assert (result.item.protection_state, result.item.active_location) == ("UnplannedFailoverCommitted", "Primary")
    assert "ReProtect" in result.item.allowed_operations
    assert posts(endpoint, "/failoverCommit")[-1].body is None
    assert endpoint.estate.jobs[-1].scenario == "Commit"


def test_cancel_returns_the_item_to_azure_and_restarts_its_vm(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    db01 = ref(endpoint, "db01")
    asr.unplanned_failover(db01, RecoveryPointChoice.latest_time())
    result = asr.cancel_failover(db01)
    assert (result.item.protection_state, result.item.active_location) == ("Protected", "Recovery")
    assert result.item.failover_recovery_point_id is None
    assert endpoint.estate.vm("db01").power_state == "running"
    assert result.job_id == endpoint.estate.jobs[-1].name


def test_failover_of_an_item_not_replicating_back_is_rejected_and_changes_nothing(
    asr: SiteRecovery, endpoint: LocalAzure
) -> None:
    with pytest.raises(AzureRequestRejected) as caught:
        asr.unplanned_failover(ref(endpoint, "web01"), RecoveryPointChoice.latest_time())
    assert caught.value.status == 400
    assert caught.value.code == "OperationNotAllowedInCurrentState"
    assert caught.value.remedy == "Refresh the item and choose an operation from its allowedOperations."
    assert item(endpoint, "web01").protection_state == "UnplannedFailoverCommitted"


def test_reprotect_to_a_volume_that_is_not_a_retention_volume_is_rejected(
    asr: SiteRecovery, endpoint: LocalAzure
) -> None:
    fabric = endpoint.estate.fabrics[0]
    spec = InMageReprotect(
        master_target_id=fabric.master_targets[0].id,
        process_server_id=fabric.process_servers[1].id,
        retention_drive="Z:\\",
        policy_id=policy_id(endpoint, "failback-24h"),
    )
    with pytest.raises(AzureRequestRejected, match="not a retention volume"):
        asr.reprotect(ref(endpoint, "web01"), spec, direction=FailoverDirection.RECOVERY_TO_PRIMARY)
    assert item(endpoint, "web01").provider == "InMageAzureV2"


@pytest.mark.parametrize(
    "build",
    [
        lambda: InMageReprotect("", "ps", "E:\\", "policy"),
        lambda: InMageReprotect("mt", "ps", " ", "policy"),
        lambda: InMageReprotect("mt", "ps", "E:\\", "policy", disks_to_include=()),
        lambda: InMageAzureV2Reprotect(process_server_id="ps", policy_id=""),
        lambda: RecoveryPointChoice(RecoveryPointType.CUSTOM),
        lambda: RecoveryPointChoice(RecoveryPointType.LATEST_TAG, "some-point"),
        lambda: ItemRef("fabric", "", "item"),
    ],
    ids=[
        "no-master-target",
        "blank-retention",
        "no-disks",
        "no-policy",
        "custom-without-id",
        "id-without-custom",
        "ref",
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(build: object) -> None:
    with pytest.raises(InvalidRequest):
        build()  # type: ignore[operator]


def test_plan_cannot_fail_over_to_a_custom_point_and_sends_nothing(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    with pytest.raises(InvalidRequest, match="Custom"):
        asr.plan_unplanned_failover("rp-3tier", RecoveryPointType.CUSTOM)
    assert posts(endpoint, "/unplannedFailover") == []


def reprotect_plan_items(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    for name in ("web01", "app01"):
        asr.reprotect(ref(endpoint, name), to_onprem(endpoint), direction=FailoverDirection.RECOVERY_TO_PRIMARY)


def test_plan_failover_and_commit_move_every_item_of_the_plan(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    reprotect_plan_items(asr, endpoint)
    failover = asr.plan_unplanned_failover("rp-3tier", RecoveryPointType.LATEST_TAG)
    assert posts(endpoint, "/replicationRecoveryPlans/rp-3tier/unplannedFailover")[-1].body == {
        "properties": {
            "failoverDirection": "RecoveryToPrimary",
            "sourceSiteOperations": "Required",
            "providerSpecificDetails": [{"instanceType": "InMage", "recoveryPointType": "LatestTag"}],
        }
    }
    assert failover.job_id == endpoint.estate.jobs[-1].name
    assert endpoint.estate.jobs[-1].target_instance_type == "RecoveryPlan"
    states = {i.friendly_name: (i.protection_state, i.active_location) for i in endpoint.estate.items}
    for name in ("web01", "app01", "db01"):
        assert states[name] == ("UnplannedFailoverCommitPendingStatesBegin", "Primary")
    commit = asr.plan_commit("rp-3tier")
    assert commit.plan.name == "rp-3tier"
    assert {item(endpoint, n).protection_state for n in ("web01", "app01", "db01")} == {"UnplannedFailoverCommitted"}


def test_plan_cancel_returns_every_item_to_azure(asr: SiteRecovery, endpoint: LocalAzure) -> None:
    reprotect_plan_items(asr, endpoint)
    asr.plan_unplanned_failover("rp-3tier", RecoveryPointType.LATEST_TIME)
    result = asr.plan_cancel("rp-3tier")
    assert result.job_id == endpoint.estate.jobs[-1].name
    for name in ("web01", "app01", "db01"):
        assert (item(endpoint, name).protection_state, item(endpoint, name).active_location) == (
            "Protected",
            "Recovery",
        )


def test_plan_reprotect_is_refused_for_inmage_providers_with_asr_remedy(
    asr: SiteRecovery, endpoint: LocalAzure
) -> None:
    with pytest.raises(AzureRequestRejected) as caught:
        asr.plan_reprotect("rp-3tier")
    assert caught.value.code == "ReprotectNotSupportedForProvider"
    assert caught.value.remedy == "Reprotect each protected item of the plan with its provider input."
    assert posts(endpoint, "/replicationRecoveryPlans/rp-3tier/reProtect")[-1].body is None
