"""Inputs of the failback actions, checked before anything is sent, and their ASR request bodies.

Each input validates itself on construction (:class:`~controller.azure.errors.InvalidRequest` names the field) and
renders the exact JSON ASR expects, with the provider discriminator ``instanceType``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.azure._models import FailoverDirection, RecoveryPointType
from controller.azure.errors import InvalidRequest

__all__ = ["InMageAzureV2Reprotect", "InMageReprotect", "RecoveryPointChoice", "ReprotectInput"]

# The Azure VM's resource disk (D: on Windows) holds nothing worth failing back; ASR's own tooling excludes it.
_AZURE_TEMPORARY_STORAGE = {"volumeLabel": "Temporary Storage", "onlyExcludeIfSingleVolume": "Yes"}


def _required(value: str, field: str, input_name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(
            f"{input_name}.{field} is required", remedy=f"set {field} (see `failbackctl azure import`)"
        )


@dataclass(frozen=True)
class InMageReprotect:
    """Classic reprotect through a master target (``InMageReprotectInput``).

    ``policy_id`` is the replication policy's id, sent as ``profileId``; ``retention_drive`` is one of the master
    target's retention volumes; ``datastore_name`` the datastore for the replica disks.
    """

    master_target_id: str
    process_server_id: str
    retention_drive: str
    policy_id: str
    run_as_account_id: str | None = None
    datastore_name: str | None = None
    disks_to_include: tuple[str, ...] | None = None
    exclude_azure_temporary_storage: bool = True

    def __post_init__(self) -> None:
        for name in ("master_target_id", "process_server_id", "retention_drive", "policy_id"):
            _required(getattr(self, name), name, "InMageReprotect")
        if self.disks_to_include is not None and not self.disks_to_include:
            raise InvalidRequest(
                "InMageReprotect.disks_to_include is empty", remedy="list at least one disk, or pass None for all"
            )

    def provider_input(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "instanceType": "InMage",
            "masterTargetId": self.master_target_id,
            "processServerId": self.process_server_id,
            "retentionDrive": self.retention_drive,
            "profileId": self.policy_id,
        }
        if self.run_as_account_id is not None:
            body["runAsAccountId"] = self.run_as_account_id
        if self.datastore_name is not None:
            body["datastoreName"] = self.datastore_name
        if self.disks_to_include is not None:
            body["disksToInclude"] = list(self.disks_to_include)
        if self.exclude_azure_temporary_storage:
            body["diskExclusionInput"] = {"volumeOptions": [dict(_AZURE_TEMPORARY_STORAGE)]}
        return body


@dataclass(frozen=True)
class InMageAzureV2Reprotect:
    """Classic reprotect of an on-premises machine back to Azure (``InMageAzureV2ReprotectInput``)."""

    process_server_id: str
    policy_id: str
    master_target_id: str | None = None
    run_as_account_id: str | None = None
    storage_account_id: str | None = None
    log_storage_account_id: str | None = None
    disks_to_include: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("process_server_id", "policy_id"):
            _required(getattr(self, name), name, "InMageAzureV2Reprotect")

    def provider_input(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "instanceType": "InMageAzureV2",
            "processServerId": self.process_server_id,
            "policyId": self.policy_id,
        }
        optional = {
            "masterTargetId": self.master_target_id,
            "runAsAccountId": self.run_as_account_id,
            "storageAccountId": self.storage_account_id,
            "logStorageAccountId": self.log_storage_account_id,
        }
        body |= {k: v for k, v in optional.items() if v is not None}
        if self.disks_to_include is not None:
            body["disksToInclude"] = list(self.disks_to_include)
        return body


ReprotectInput = InMageReprotect | InMageAzureV2Reprotect


def reprotect_body(spec: ReprotectInput, direction: FailoverDirection) -> dict[str, Any]:
    return {"properties": {"failoverDirection": str(direction), "providerSpecificDetails": spec.provider_input()}}


@dataclass(frozen=True)
class RecoveryPointChoice:
    """Which recovery point an InMage failover uses; ``recovery_point_id`` only (and always) with CUSTOM."""

    type: RecoveryPointType
    recovery_point_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.type, RecoveryPointType):
            raise InvalidRequest(f"recovery point type must be one of {[t.value for t in RecoveryPointType]}")
        if self.type is RecoveryPointType.CUSTOM and not self.recovery_point_id:
            raise InvalidRequest("a Custom recovery point needs recovery_point_id", remedy="pick one from the list")
        if self.type is not RecoveryPointType.CUSTOM and self.recovery_point_id is not None:
            raise InvalidRequest(f"recovery_point_id is only used with Custom, not {self.type.value}")

    @classmethod
    def latest_time(cls) -> RecoveryPointChoice:
        return cls(RecoveryPointType.LATEST_TIME)

    @classmethod
    def latest_tag(cls) -> RecoveryPointChoice:
        return cls(RecoveryPointType.LATEST_TAG)

    @classmethod
    def custom(cls, recovery_point_id: str) -> RecoveryPointChoice:
        return cls(RecoveryPointType.CUSTOM, recovery_point_id)

    def provider_input(self) -> dict[str, Any]:
        body: dict[str, Any] = {"instanceType": "InMage", "recoveryPointType": self.type.value}
        if self.recovery_point_id is not None:
            body["recoveryPointId"] = self.recovery_point_id
        return body


def failover_body(point: RecoveryPointChoice, direction: FailoverDirection, shut_down_source: bool) -> dict[str, Any]:
    return {
        "properties": {
            "failoverDirection": str(direction),
            "sourceSiteOperations": "Required" if shut_down_source else "NotRequired",
            "providerSpecificDetails": point.provider_input(),
        }
    }


def plan_failover_body(
    point_type: RecoveryPointType, direction: FailoverDirection, shut_down_source: bool
) -> dict[str, Any]:
    if point_type is RecoveryPointType.CUSTOM:
        raise InvalidRequest(
            "a recovery plan cannot fail over to a Custom point",
            remedy="use LatestTime or LatestTag for the plan, or fail items over one by one to a chosen point",
        )
    return {
        "properties": {
            "failoverDirection": str(direction),
            "sourceSiteOperations": "Required" if shut_down_source else "NotRequired",
            "providerSpecificDetails": [{"instanceType": "InMage", "recoveryPointType": point_type.value}],
        }
    }
