"""ARM JSON bodies for the estate's objects, shaped field by field after the SDK's models (api-version 2025-08-01).

Azure Site Recovery writes resource ids with a capital ``/Subscriptions/`` and a provider-specific ``instanceType``
discriminator on ``customDetails`` and ``providerSpecificDetails``; both quirks are kept so a client that parses ids
case-sensitively or ignores the discriminator fails here as it would against Azure.
"""

from __future__ import annotations

from lab.azure._estate import (
    AzureVm,
    Estate,
    Fabric,
    HealthIssue,
    Item,
    Job,
    MasterTarget,
    Plan,
    ProcessServer,
    RecoveryPoint,
)
from lab.azure._json import Json, rfc3339
from lab.azure._provider_bodies import provider_details

__all__ = ["Bodies", "allowed_operations", "health_error"]


_RSV = "Microsoft.RecoveryServices/vaults"


def health_error(issue: HealthIssue) -> Json:
    return {
        "innerHealthErrors": [],
        "errorSource": "Replication",
        "errorType": "1",
        "errorLevel": issue.level,
        "errorCategory": "Replication",
        "errorCode": issue.code,
        "summaryMessage": issue.message,
        "errorMessage": issue.message,
        "possibleCauses": issue.possible_causes,
        "recommendedAction": issue.recommended_action,
        "creationTimeUtc": "2026-03-14T09:00:00Z",
        "entityId": "",
        "errorId": f"1:{issue.code}",
        "customerResolvability": "Allowed",
    }


class Bodies:
    """Builds ids and bodies for one estate; ids use ASR's ``/Subscriptions/`` spelling."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate

    @property
    def vault_id(self) -> str:
        e = self.estate
        return f"/Subscriptions/{e.subscription_id}/resourceGroups/{e.resource_group}/providers/{_RSV}/{e.vault}"

    def fabric_id(self, fabric: str) -> str:
        return f"{self.vault_id}/replicationFabrics/{fabric}"

    def container_id(self, fabric: str, container: str) -> str:
        return f"{self.fabric_id(fabric)}/replicationProtectionContainers/{container}"

    def item_id(self, item: Item) -> str:
        return f"{self.container_id(item.fabric, item.container)}/replicationProtectedItems/{item.name}"

    def point_id(self, item: Item, point: str) -> str:
        return f"{self.item_id(item)}/recoveryPoints/{point}"

    def policy_id(self, policy: str) -> str:
        return f"{self.vault_id}/replicationPolicies/{policy}"

    def plan_id(self, plan: str) -> str:
        return f"{self.vault_id}/replicationRecoveryPlans/{plan}"

    def job_id(self, job: str) -> str:
        return f"{self.vault_id}/replicationJobs/{job}"

    def vm_id(self, vm: AzureVm) -> str:
        e = self.estate
        return (
            f"/subscriptions/{e.subscription_id}/resourceGroups/{vm.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{vm.name}"
        )

    # Fabrics and containers

    def fabric(self, fabric: Fabric) -> Json:
        details: Json = {"instanceType": fabric.kind}
        if fabric.kind == "VMware":
            details |= {
                "processServers": [self._process_server(ps) for ps in fabric.process_servers],
                "masterTargetServers": [self._master_target(mt) for mt in fabric.master_targets],
                "runAsAccounts": [
                    {"accountId": ra.account_id, "accountName": ra.account_name} for ra in fabric.run_as_accounts
                ],
                "replicationPairCount": str(sum(1 for i in self.estate.items if i.fabric == fabric.name)),
                "processServerCount": str(len(fabric.process_servers)),
                "agentCount": str(len(fabric.process_servers) + len(fabric.master_targets)),
                "protectedServers": str(sum(1 for i in self.estate.items if i.fabric == fabric.name)),
                "csServiceStatus": "Running",
                "ipAddress": fabric.ip_address,
                "agentVersion": fabric.agent_version,
                "hostName": fabric.host_name,
                "lastHeartbeat": "2026-03-14T09:00:00Z",
                "versionStatus": "Supported",
                "sslCertExpiryRemainingDays": 300,
            }
        return {
            "id": self.fabric_id(fabric.name),
            "name": fabric.name,
            "type": f"{_RSV}/replicationFabrics",
            "location": self.estate.location,
            "properties": {
                "friendlyName": fabric.friendly_name,
                "encryptionDetails": {"kekState": "None"},
                "rolloverEncryptionDetails": {"kekState": "None"},
                "internalIdentifier": fabric.name[:36],
                "bcdrState": "Valid",
                "customDetails": details,
                "healthErrorDetails": [],
                "health": fabric.health,
            },
        }

    @staticmethod
    def _process_server(ps: ProcessServer) -> Json:
        return {
            "friendlyName": ps.friendly_name,
            "id": ps.id,
            "ipAddress": ps.ip_address,
            "osType": ps.os_type,
            "agentVersion": ps.agent_version,
            "lastHeartbeat": rfc3339(ps.last_heartbeat),
            "versionStatus": ps.version_status,
            "mobilityServiceUpdates": [],
            "hostId": ps.host_id,
            "machineCount": ps.machine_count,
            "replicationPairCount": ps.replication_pair_count,
            "systemLoad": "1",
            "systemLoadStatus": "Healthy",
            "totalSpaceInBytes": ps.total_space_bytes,
            "availableSpaceInBytes": ps.available_space_bytes,
            "psServiceStatus": ps.ps_service_status,
            "sslCertExpiryRemainingDays": 300,
            "healthErrors": [],
            "health": ps.health,
        }

    @staticmethod
    def _master_target(mt: MasterTarget) -> Json:
        return {
            "id": mt.id,
            "ipAddress": mt.ip_address,
            "name": mt.name,
            "osType": mt.os_type,
            "agentVersion": mt.agent_version,
            "lastHeartbeat": rfc3339(mt.last_heartbeat),
            "versionStatus": mt.version_status,
            "retentionVolumes": [
                {
                    "volumeName": rv.volume_name,
                    "capacityInBytes": rv.capacity_bytes,
                    "freeSpaceInBytes": rv.free_bytes,
                    "thresholdPercentage": rv.threshold_percent,
                }
                for rv in mt.retention_volumes
            ],
            "dataStores": [
                {
                    "symbolicName": ds.symbolic_name,
                    "uuid": ds.uuid,
                    "capacity": ds.capacity_gb,
                    "freeSpace": ds.free_gb,
                    "type": ds.type,
                }
                for ds in mt.datastores
            ],
            "validationErrors": [health_error(h) for h in mt.validation_errors],
            "healthErrors": [health_error(h) for h in mt.health_errors],
            "diskCount": mt.disk_count,
        }

    def container(self, fabric: Fabric, name: str) -> Json:
        count = sum(1 for i in self.estate.items if i.fabric == fabric.name and i.container == name)
        return {
            "id": self.container_id(fabric.name, name),
            "name": name,
            "type": f"{_RSV}/replicationFabrics/replicationProtectionContainers",
            "location": self.estate.location,
            "properties": {
                "fabricFriendlyName": fabric.friendly_name,
                "friendlyName": fabric.container_names.get(name, fabric.friendly_name),
                "fabricType": fabric.kind,
                "protectedItemCount": count,
                "pairingStatus": "Paired",
                "role": "Primary",
                "fabricSpecificDetails": {},
            },
        }

    # Protected items

    def item(self, item: Item) -> Json:
        fabric = self.estate.fabric(item.fabric)
        return {
            "id": self.item_id(item),
            "name": item.name,
            "type": f"{_RSV}/replicationFabrics/replicationProtectionContainers/replicationProtectedItems",
            "location": self.estate.location,
            "properties": {
                "friendlyName": item.friendly_name,
                "protectedItemType": "PhysicalMachine" if item.physical else "VMwareVirtualMachine",
                "protectableItemId": f"{self.container_id(item.fabric, item.container)}"
                f"/replicationProtectableItems/{item.name}",
                "primaryFabricFriendlyName": fabric.friendly_name,
                "primaryFabricProvider": "InMageRcmFabric" if fabric.kind == "InMageRcm" else "VMware",
                "recoveryFabricFriendlyName": "Microsoft Azure",
                "recoveryFabricId": "Microsoft Azure",
                "primaryProtectionContainerFriendlyName": fabric.friendly_name,
                "recoveryProtectionContainerFriendlyName": "Microsoft Azure",
                "protectionState": item.protection_state,
                "protectionStateDescription": _STATE_TEXT.get(item.protection_state, item.protection_state),
                "activeLocation": item.active_location,
                "testFailoverState": "None",
                "testFailoverStateDescription": "None",
                "switchProviderState": "None",
                "allowedOperations": allowed_operations(item),
                "replicationHealth": item.replication_health,
                "failoverHealth": item.failover_health,
                "healthErrors": [health_error(h) for h in item.health_errors],
                "policyId": self.policy_id(item.policy),
                "policyFriendlyName": next(p.friendly_name for p in self.estate.policies if p.name == item.policy),
                "lastSuccessfulFailoverTime": rfc3339(item.last_failover),
                "currentScenario": {
                    "scenarioName": item.scenario,
                    "jobId": self.job_id(item.scenario_job),
                    "startTime": rfc3339(item.scenario_start),
                },
                "failoverRecoveryPointId": self.point_id(item, item.failover_recovery_point)
                if item.failover_recovery_point
                else None,
                "providerSpecificDetails": provider_details(self, item),
                "recoveryContainerId": f"{self.vault_id}/replicationFabrics/Microsoft Azure"
                "/replicationProtectionContainers/Microsoft Azure",
                "eventCorrelationId": f"{item.name}-events",
            },
        }

    def recovery_point(self, item: Item, point: RecoveryPoint) -> Json:
        return {
            "id": self.point_id(item, point.name),
            "name": point.name,
            "type": f"{_RSV}/replicationFabrics/replicationProtectionContainers/replicationProtectedItems"
            "/recoveryPoints",
            "properties": {"recoveryPointTime": rfc3339(point.time), "recoveryPointType": point.type},
        }

    # Plans and jobs

    def plan(self, plan: Plan) -> Json:
        items = {i.name: i for i in self.estate.items}
        locations = {items[name].active_location for g in plan.groups for name in g.items if name in items}
        allowed = ["ReProtect"] if locations == {"Recovery"} else ["UnplannedFailover", "Commit"]
        return {
            "id": self.plan_id(plan.name),
            "name": plan.name,
            "type": f"{_RSV}/replicationRecoveryPlans",
            "location": self.estate.location,
            "properties": {
                "friendlyName": plan.friendly_name,
                "primaryFabricId": self.fabric_id(plan.primary_fabric),
                "primaryFabricFriendlyName": self.estate.fabric(plan.primary_fabric).friendly_name,
                "recoveryFabricId": "Microsoft Azure",
                "recoveryFabricFriendlyName": "Microsoft Azure",
                "failoverDeploymentModel": "ResourceManager",
                "replicationProviders": plan.providers,
                "allowedOperations": allowed,
                "lastUnplannedFailoverTime": rfc3339(plan.last_unplanned_failover),
                "currentScenario": {"scenarioName": plan.scenario, "jobId": self.job_id(plan.scenario_job)},
                "currentScenarioStatus": plan.scenario_status or None,
                "groups": [
                    {
                        "groupType": group.group_type,
                        "replicationProtectedItems": [
                            {"id": self.item_id(items[name]), "virtualMachineId": items[name].name}
                            for name in group.items
                        ],
                        "startGroupActions": [],
                        "endGroupActions": [],
                    }
                    for group in plan.groups
                ],
                "providerSpecificDetails": [],
            },
        }

    def job(self, job: Job) -> Json:
        return {
            "id": self.job_id(job.name),
            "name": job.name,
            "type": f"{_RSV}/replicationJobs",
            "location": self.estate.location,
            "properties": {
                "activityId": f"{job.name} ActivityId: {job.name}",
                "scenarioName": job.scenario,
                "friendlyName": job.friendly_name,
                "state": job.state,
                "stateDescription": {"Succeeded": "Completed", "InProgress": "InProgress"}.get(job.state, job.state),
                "tasks": [
                    {
                        "taskId": f"{job.name}-task-{n}",
                        "name": name,
                        "friendlyName": name,
                        "state": state,
                        "stateDescription": state,
                        "taskType": "TaskDetails",
                        "allowedActions": [],
                        "errors": [],
                    }
                    for n, (name, state) in enumerate(job.tasks)
                ],
                "errors": [
                    {
                        "serviceErrorDetails": {
                            "code": e.code,
                            "message": e.message,
                            "possibleCauses": e.possible_causes,
                            "recommendedAction": e.recommended_action,
                        },
                        "errorLevel": e.level,
                        "creationTime": rfc3339(job.end_time),
                    }
                    for e in job.errors
                ],
                "startTime": rfc3339(job.start_time),
                "endTime": rfc3339(job.end_time),
                "allowedActions": ["Cancel"] if job.state == "InProgress" else [],
                "targetObjectId": job.target_object_id,
                "targetObjectName": job.target_object_name,
                "targetInstanceType": job.target_instance_type,
                "customDetails": {"instanceType": "AsrJobDetails", "affectedObjectDetails": {}},
            },
        }

    # Compute

    def vm(self, vm: AzureVm) -> Json:
        return {
            "id": self.vm_id(vm),
            "name": vm.name,
            "type": "Microsoft.Compute/virtualMachines",
            "location": vm.location,
            "properties": {"vmId": vm.vm_id, "provisioningState": "Succeeded"},
        }

    @staticmethod
    def instance_view(vm: AzureVm) -> Json:
        return {
            "computerName": vm.computer_name,
            "osName": vm.os_name,
            "statuses": [
                {
                    "code": "ProvisioningState/succeeded",
                    "level": "Info",
                    "displayStatus": "Provisioning succeeded",
                    "time": "2026-03-14T09:05:00.0000000+00:00",
                },
                {
                    "code": f"PowerState/{vm.power_state}",
                    "level": "Info",
                    "displayStatus": _POWER_TEXT[vm.power_state],
                },
            ],
        }


def allowed_operations(item: Item) -> list[str]:
    """What ASR offers for an item in this state (the portal greys out the rest)."""
    if item.protection_state == "UnplannedFailoverCommitted":
        return ["ReProtect", "DisableProtection"]
    if item.protection_state == "UnplannedFailoverCommitPendingStatesBegin":
        return ["Commit", "CancelFailover", "ChangePit"]
    if item.protection_state == "Protected":
        return ["UnplannedFailover", "DisableProtection"]
    return ["DisableProtection"]


_STATE_TEXT = {
    "Protected": "Protected",
    "UnplannedFailoverCommitted": "Failover committed",
    "UnplannedFailoverCommitPendingStatesBegin": "Failover completed",
    "UnplannedFailoverFailed": "Failover failed",
}

_POWER_TEXT = {
    "running": "VM running",
    "stopped": "VM stopped",
    "deallocated": "VM deallocated",
    "starting": "VM starting",
    "stopping": "VM stopping",
    "deallocating": "VM deallocating",
}
