"""How Azure Site Recovery moves a protected item: which actions its state allows, what input each provider needs,
and what the item looks like after the action.

Each check runs when the request arrives (a refusal is a 400 with ASR-shaped code, message and recommended action)
and returns the effect to apply when the long-running operation ends successfully. Error codes are descriptive
names, not ASR's numeric codes.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from lab.azure._bodies import Bodies
from lab.azure._estate import Estate, Item, PowerState, RecoveryPoint
from lab.azure._http import ArmError

__all__ = ["Transitions", "bad"]


def bad(code: str, message: str, remedy: str = "") -> ArmError:
    return ArmError(400, code, message, recommended_action=remedy)


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


class Transitions:
    def __init__(self, estate: Estate, bodies: Bodies, clock: Callable[[], datetime.datetime]) -> None:
        self.estate = estate
        self.bodies = bodies
        self._clock = clock

    def reprotect(self, item: Item, props: dict[str, Any]) -> Callable[[], None]:
        direction = props.get("failoverDirection")
        details = props.get("providerSpecificDetails") or {}
        kind = details.get("instanceType")
        if direction == "RecoveryToPrimary":
            self._require_state(item, "UnplannedFailoverCommitted", "Recovery", "InMageAzureV2", "ReProtect")
            if kind != "InMage":
                raise bad(
                    "InvalidProviderInput",
                    f"Reprotect from Azure to VMware needs InMage provider input, not {kind!r}.",
                    "Send InMageReprotectInput (instanceType InMage).",
                )
            self._check_inmage_reprotect(item, details)
            return lambda: self._after_reprotect_to_primary(item, details)
        if direction == "PrimaryToRecovery":
            self._require_state(item, "UnplannedFailoverCommitted", "Primary", "InMage", "ReProtect")
            if kind == "InMage":
                self._check_inmage_reprotect(item, details)
            elif kind == "InMageAzureV2":
                self._require_fields(details, ("processServerId", "policyId"))
                self._check_process_server(item, details["processServerId"])
            else:
                raise bad(
                    "InvalidProviderInput",
                    f"Reprotect from VMware to Azure needs InMageAzureV2 or InMage provider input, not {kind!r}.",
                )
            return lambda: self._after_reprotect_to_recovery(item, details)
        raise bad(
            "InvalidFailoverDirection",
            f"failoverDirection must be PrimaryToRecovery or RecoveryToPrimary, not {direction!r}.",
        )

    def _check_inmage_reprotect(self, item: Item, details: dict[str, Any]) -> None:
        self._require_fields(details, ("masterTargetId", "processServerId", "retentionDrive", "profileId"))
        fabric = self.estate.fabric(item.fabric)
        self._check_process_server(item, details["processServerId"])
        mt = next((m for m in fabric.master_targets if _same(m.id, details["masterTargetId"])), None)
        if mt is None:
            raise bad("MasterTargetNotFound", f"Master target {details['masterTargetId']} is not registered.")
        if details["retentionDrive"] not in {v.volume_name for v in mt.retention_volumes}:
            raise bad(
                "RetentionVolumeNotFound",
                f"Retention drive {details['retentionDrive']!r} is not a retention volume of {mt.name}.",
            )
        datastore = details.get("datastoreName")
        if datastore is not None and datastore not in {d.symbolic_name for d in mt.datastores}:
            raise bad("DatastoreNotFound", f"Datastore {datastore!r} is not visible to master target {mt.name}.")
        account = details.get("runAsAccountId")
        if account is not None and account not in {a.account_id for a in fabric.run_as_accounts}:
            raise bad("RunAsAccountNotFound", f"Run-as account {account!r} does not exist on {fabric.friendly_name}.")
        if not any(_same(self.bodies.policy_id(p.name), details["profileId"]) for p in self.estate.policies):
            raise bad("PolicyNotFound", f"Replication policy {details['profileId']} does not exist.")

    def _check_process_server(self, item: Item, ps_id: str) -> None:
        fabric = self.estate.fabric(item.fabric)
        if not any(_same(ps.id, ps_id) for ps in fabric.process_servers):
            raise bad("ProcessServerNotFound", f"Process server {ps_id} is not registered with {fabric.friendly_name}.")

    @staticmethod
    def _require_fields(details: dict[str, Any], names: tuple[str, ...]) -> None:
        missing = [n for n in names if not details.get(n)]
        if missing:
            raise bad("InvalidProviderInput", f"Required provider input fields are missing: {', '.join(missing)}.")

    @staticmethod
    def _require_state(item: Item, state: str, location: str, provider: str, operation: str) -> None:
        if item.protection_state != state or item.active_location != location or item.provider != provider:
            raise bad(
                "OperationNotAllowedInCurrentState",
                f"{operation} is not allowed for {item.friendly_name}: it is {item.protection_state} "
                f"with active location {item.active_location} ({item.provider}).",
                "Refresh the item and choose an operation from its allowedOperations.",
            )

    def _after_reprotect_to_primary(self, item: Item, details: dict[str, Any]) -> None:
        item.provider = "InMage"
        item.protection_state = "Protected"
        item.master_target_id = details["masterTargetId"]
        item.process_server_id = details["processServerId"]
        item.retention_drive = details["retentionDrive"]
        item.datastore_name = details.get("datastoreName") or ""
        item.run_as_account_id = details.get("runAsAccountId") or ""
        item.policy = details["profileId"].rsplit("/", 1)[-1]
        item.failover_recovery_point = ""
        self._fresh_points(item)

    def _after_reprotect_to_recovery(self, item: Item, details: dict[str, Any]) -> None:
        item.provider = "InMageAzureV2"
        item.protection_state = "Protected"
        item.process_server_id = details["processServerId"]
        item.master_target_id = details.get("masterTargetId") or ""
        item.policy = (details.get("profileId") or details.get("policyId") or item.policy).rsplit("/", 1)[-1]
        item.failover_recovery_point = ""
        self._fresh_points(item)

    def _fresh_points(self, item: Item) -> None:
        """A new replication starts a new journal: points from before the reprotect are gone."""
        now = self._clock()
        item.recovery_points = [
            RecoveryPoint(f"rp-{now:%H%M%S}-app", now - datetime.timedelta(minutes=1), "ApplicationConsistent"),
            RecoveryPoint(f"rp-{now:%H%M%S}-crash", now, "CrashConsistent"),
        ]

    def failover(self, item: Item, props: dict[str, Any]) -> Callable[[], None]:
        direction = props.get("failoverDirection")
        details = props.get("providerSpecificDetails") or {}
        vm_state: PowerState
        if direction == "RecoveryToPrimary":
            self._require_state(item, "Protected", "Recovery", "InMage", "UnplannedFailover")
            if details.get("instanceType") != "InMage":
                raise bad("InvalidProviderInput", "Failback needs InMageUnplannedFailoverInput (instanceType InMage).")
            point = self._choose_point(item, details.get("recoveryPointType"), details.get("recoveryPointId"))
            target, vm_state = "Primary", "stopped"  # ASR shuts the Azure VM down when failing back
        elif direction == "PrimaryToRecovery":
            self._require_state(item, "Protected", "Primary", "InMageAzureV2", "UnplannedFailover")
            point = self._choose_point(item, "LatestTime", None)
            target, vm_state = "Recovery", "running"
        else:
            raise bad("InvalidFailoverDirection", f"Unknown failoverDirection {direction!r}.")

        def effect() -> None:
            item.protection_state = "UnplannedFailoverCommitPendingStatesBegin"
            item.active_location = target
            item.failover_recovery_point = point.name
            item.last_failover = self._clock()
            if item.azure_vm:
                self.estate.vm(item.azure_vm).power_state = vm_state

        return effect

    def _choose_point(self, item: Item, kind: str | None, point_id: str | None) -> RecoveryPoint:
        points = sorted(item.recovery_points, key=lambda p: p.time)
        if kind == "LatestTime":
            chosen = points[-1] if points else None
        elif kind == "LatestTag":
            tagged = [p for p in points if p.type == "ApplicationConsistent"]
            chosen = tagged[-1] if tagged else None
        elif kind == "Custom":
            if not point_id:
                raise bad("InvalidProviderInput", "recoveryPointId is required when recoveryPointType is Custom.")
            name = point_id.rstrip("/").rsplit("/", 1)[-1]
            chosen = next((p for p in points if _same(p.name, name)), None)
            if chosen is None:
                raise bad("RecoveryPointNotFound", f"Recovery point {point_id} does not exist for this item.")
        else:
            raise bad("InvalidProviderInput", f"recoveryPointType must be LatestTime, LatestTag or Custom: {kind!r}.")
        if chosen is None:
            raise bad(
                "NoRecoveryPointAvailable",
                f"No {kind} recovery point is available for {item.friendly_name}.",
                "Wait for replication to produce a recovery point, or choose another recovery point type.",
            )
        return chosen

    def commit(self, item: Item) -> Callable[[], None]:
        self._require_pending(item, "Commit")

        def effect() -> None:
            item.protection_state = "UnplannedFailoverCommitted"

        return effect

    def cancel(self, item: Item) -> Callable[[], None]:
        self._require_pending(item, "CancelFailover")
        back = "Recovery" if item.active_location == "Primary" else "Primary"

        def effect() -> None:
            item.protection_state = "Protected"
            item.active_location = back
            item.failover_recovery_point = ""
            if item.azure_vm and back == "Recovery":
                self.estate.vm(item.azure_vm).power_state = "running"

        return effect

    @staticmethod
    def _require_pending(item: Item, operation: str) -> None:
        if item.protection_state != "UnplannedFailoverCommitPendingStatesBegin":
            raise bad(
                "OperationNotAllowedInCurrentState",
                f"{operation} is allowed only after a failover and before its commit; "
                f"{item.friendly_name} is {item.protection_state}.",
            )
