"""``providerSpecificDetails`` of a protected item for the four VMware providers, from the SDK's model fields:
InMageAzureV2 (classic, to Azure), InMage (classic, back to VMware), InMageRcm and InMageRcmFailback (modernized).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.azure._estate import Estate, Item
from lab.azure._json import Json, rfc3339

if TYPE_CHECKING:
    from lab.azure._bodies import Bodies

__all__ = ["provider_details"]


def provider_details(bodies: Bodies, item: Item) -> Json:
    vm = bodies.estate.vm(item.azure_vm) if item.azure_vm else None
    vm_id = bodies.vm_id(vm) if vm else None
    latest = max(item.recovery_points, key=lambda p: p.time, default=None)
    if item.provider == "InMageAzureV2":
        return {
            "instanceType": "InMageAzureV2",
            "infrastructureVmId": f"vm-{item.friendly_name}",
            "vCenterInfrastructureId": "" if item.physical else item.vcenter_id,
            "protectionStage": item.protection_stage,
            "vmId": item.name,
            "vmProtectionState": "FailedOver",
            "vmProtectionStateDescription": "Failed over",
            "rpoInSeconds": item.rpo_seconds,
            "ipAddress": item.ip_address,
            "agentVersion": item.agent_version,
            "processServerId": item.process_server_id,
            "processServerName": _process_server_name(bodies.estate, item),
            "masterTargetId": item.master_target_id or item.process_server_id,
            "protectedDisks": [
                {"diskId": d.disk_id, "diskName": d.disk_name, "diskCapacityInBytes": d.capacity_bytes}
                for d in item.disks
            ],
            "sourceVmCpuCount": item.cpu_count,
            "sourceVmRamSizeInMB": item.memory_mb,
            "firmwareType": item.firmware_type,
            "vmNics": [
                {"nicId": f"nic-{item.friendly_name}-{index}", "vMNetworkName": network}
                for index, network in enumerate(item.nic_networks)
            ],
            "osType": item.os_type,
            "recoveryAzureVMName": vm.name if vm else None,
            "recoveryAzureVMSize": "Standard_D4s_v5",
            "recoveryAzureResourceGroupId": f"/subscriptions/{bodies.estate.subscription_id}"
            f"/resourceGroups/{vm.resource_group}"
            if vm
            else None,
            "targetVmId": vm_id,
            "discoveryType": "Physical" if item.physical else "vCenter",
            "datastores": sorted({d.disk_name.split("]")[0].strip("[") for d in item.disks if "]" in d.disk_name}),
            "lastRecoveryPointReceived": rfc3339(latest.time) if latest else None,
            "osName": "Windows Server 2019" if item.os_type == "Windows" else "Ubuntu 22.04",
        }
    if item.provider == "InMage":
        return {
            "instanceType": "InMage",
            "activeSiteType": "Azure",
            "sourceVmCpuCount": item.cpu_count,
            "sourceVmRamSizeInMB": item.memory_mb,
            "osDetails": {"osType": item.os_type},
            "protectionStage": item.protection_stage,
            "vmId": item.name,
            "vmProtectionState": "Protected",
            "vmProtectionStateDescription": "Protected",
            "rpoInSeconds": item.rpo_seconds,
            "protectedDisks": [
                {
                    "diskId": d.disk_id,
                    "diskName": d.disk_name,
                    "protectionStage": item.protection_stage,
                    "rpoInSeconds": item.rpo_seconds,
                    "diskCapacityInBytes": d.capacity_bytes,
                }
                for d in item.disks
            ],
            "ipAddress": item.ip_address,
            "lastHeartbeat": "2026-03-14T09:30:00Z",
            "processServerId": item.process_server_id,
            "masterTargetId": item.master_target_id,
            "discoveryType": "Physical" if item.physical else "vCenter",
            "datastores": [item.datastore_name] if item.datastore_name else [],
            "retentionWindowStart": rfc3339(min((p.time for p in item.recovery_points), default=None)),
            "retentionWindowEnd": rfc3339(latest.time) if latest else None,
            "infrastructureVmId": f"vm-{item.friendly_name}",
            "agentDetails": {"agentVersion": item.agent_version, "agentUpdateStatus": "Current"},
        }
    if item.provider == "InMageRcm":
        return {
            "instanceType": "InMageRcm",
            "internalIdentifier": item.name,
            "processServerId": item.process_server_id,
            "processServerName": bodies.estate.fabric(item.fabric).friendly_name,
            "runAsAccountId": item.run_as_account_id or None,
            "discoveryType": "Physical" if item.physical else "VCenter",
            "osType": item.os_type,
            "firmwareType": item.firmware_type,
            "primaryNicIpAddress": item.ip_address,
            "targetVmName": vm.name if vm else None,
            "targetVmSize": "Standard_D4s_v5",
            "targetResourceGroupId": f"/subscriptions/{bodies.estate.subscription_id}"
            f"/resourceGroups/{vm.resource_group}"
            if vm
            else None,
            "targetLocation": bodies.estate.location,
            "lastRecoveryPointReceived": rfc3339(latest.time) if latest else None,
            "lastRpoInSeconds": item.rpo_seconds,
            "protectedDisks": [
                {"diskId": d.disk_id, "diskName": d.disk_name, "capacityInBytes": d.capacity_bytes} for d in item.disks
            ],
            "discoveredVmDetails": {"datastores": ["datastore-ssd-01"], "powerStatus": "OFF"},
        }
    return {
        "instanceType": "InMageRcmFailback",
        "internalIdentifier": item.name,
        "azureVirtualMachineId": vm_id,
        "reprotectAgentId": item.process_server_id,
        "reprotectAgentName": bodies.estate.fabric(item.fabric).friendly_name,
        "osType": item.os_type,
        "targetvCenterId": item.vcenter_id,
        "targetDataStoreName": item.datastore_name,
        "targetVmName": item.friendly_name,
        "resyncState": "None",
        "protectedDisks": [
            {"diskId": d.disk_id, "diskName": d.disk_name, "capacityInBytes": d.capacity_bytes} for d in item.disks
        ],
    }


def _process_server_name(estate: Estate, item: Item) -> str | None:
    servers = estate.fabric(item.fabric).process_servers
    return next((ps.friendly_name for ps in servers if ps.id == item.process_server_id), None)
