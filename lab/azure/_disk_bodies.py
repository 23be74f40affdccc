"""ARM JSON bodies of managed disks, incremental snapshots, restore point collections, restore points and disk
restore points, shaped after azure-mgmt-compute's models (disk RP api-version 2026-03-02, compute 2026-04-01)."""

from __future__ import annotations

import uuid

from lab.azure._disks import DiskStore, Image, ManagedDisk, RestorePointCollection, VmRestorePoint
from lab.azure._estate import Estate
from lab.azure._json import Json, rfc3339

__all__ = ["DiskBodies"]

_GIB = 1 << 30


class DiskBodies:
    """Ids and bodies for the disks and images of ``store`` in ``estate``'s subscription."""

    def __init__(self, estate: Estate, store: DiskStore) -> None:
        self.estate = estate
        self.store = store

    def scope(self, rg: str) -> str:
        return f"/subscriptions/{self.estate.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Compute"

    def disk_id(self, disk: ManagedDisk) -> str:
        return f"{self.scope(disk.resource_group)}/disks/{disk.name}"

    def vm_id(self, rg: str, vm: str) -> str:
        return f"{self.scope(rg)}/virtualMachines/{vm}"

    def storage_profile(self, vm: str) -> Json | None:
        """The ``storageProfile`` of a VM's GET, from the disks attached to it (None when it has none)."""
        disks = self.store.vm_disks(vm)
        if not disks:
            return None
        profile: Json = {"dataDisks": []}
        for disk in disks:
            entry: Json = {
                "name": disk.name,
                "diskSizeGB": -(-disk.size // _GIB),
                "managedDisk": {"id": self.disk_id(disk), "storageAccountType": "Premium_LRS"},
            }
            if disk.lun is None:
                profile["osDisk"] = entry | {"osType": "Windows", "createOption": "FromImage", "caching": "ReadWrite"}
            else:
                profile["dataDisks"].append(entry | {"lun": disk.lun, "createOption": "Attach", "caching": "None"})
        return profile

    def disk(self, disk: ManagedDisk) -> Json:
        return {
            "id": self.disk_id(disk),
            "name": disk.name,
            "type": "Microsoft.Compute/disks",
            "location": disk.location,
            "managedBy": self.vm_id(disk.resource_group, disk.vm) if disk.vm else None,
            "properties": {
                "creationData": {"createOption": "Empty"},
                "diskSizeGB": -(-disk.size // _GIB),
                "diskSizeBytes": disk.size,
                "uniqueId": disk.unique_id,
                "provisioningState": "Succeeded",
                "diskState": "Attached" if disk.vm else "Unattached",
            },
        }

    def image_state(self, image: Image) -> str:
        return "ActiveSAS" if image.grants else "Unattached"

    def snapshot(self, image: Image) -> Json:
        return {
            "id": f"{self.scope(image.resource_group)}/snapshots/{image.name}",
            "name": image.name,
            "type": "Microsoft.Compute/snapshots",
            "location": image.disk.location,
            "tags": dict(image.tags),
            "sku": {"name": "Standard_ZRS", "tier": "Standard"},
            "properties": {
                "creationData": {
                    "createOption": "Copy",
                    "sourceResourceId": self.disk_id(image.disk),
                    "sourceUniqueId": image.disk.unique_id,
                },
                "diskSizeGB": -(-image.size // _GIB),
                "diskSizeBytes": image.size,
                "timeCreated": rfc3339(image.created),
                "provisioningState": "Succeeded",
                "incremental": image.incremental,
                "incrementalSnapshotFamilyId": image.disk.unique_id,
                "diskState": self.image_state(image),
                "uniqueId": str(uuid.uuid5(uuid.NAMESPACE_URL, str(image.path))),
                "completionPercent": 100.0,
            },
        }

    def collection(self, collection: RestorePointCollection, *, expand: bool) -> Json:
        body: Json = {
            "id": f"{self.scope(collection.resource_group)}/restorePointCollections/{collection.name}",
            "name": collection.name,
            "type": "Microsoft.Compute/restorePointCollections",
            "location": collection.location,
            "tags": dict(collection.tags),
            "properties": {
                "source": {"id": collection.source_vm, "location": collection.location},
                "provisioningState": "Succeeded",
                "restorePointCollectionId": str(uuid.uuid5(uuid.NAMESPACE_URL, collection.name)),
            },
        }
        if expand:
            body["properties"]["restorePoints"] = [self.point(collection, p) for p in collection.points.values()]
        return body

    def point(self, collection: RestorePointCollection, point: VmRestorePoint) -> Json:
        point_id = f"{self.scope(collection.resource_group)}/restorePointCollections/{collection.name}"
        point_id += f"/restorePoints/{point.name}"
        profile: Json = {"dataDisks": []}
        for image in point.disks:
            entry: Json = {
                "name": image.disk.name,
                "diskSizeGB": -(-image.size // _GIB),
                "managedDisk": {"id": self.disk_id(image.disk)},
                "diskRestorePoint": {"id": f"{point_id}/diskRestorePoints/{image.name}"},
            }
            if image.disk.lun is None:
                profile["osDisk"] = entry | {"osType": "Windows"}
            else:
                profile["dataDisks"].append(entry | {"lun": image.disk.lun})
        return {
            "id": point_id,
            "name": point.name,
            "type": "Microsoft.Compute/restorePointCollections/restorePoints",
            "properties": {
                "consistencyMode": point.consistency,
                "timeCreated": rfc3339(point.created),
                "provisioningState": "Succeeded",
                "excludeDisks": [{"id": d} for d in point.excluded],
                "sourceMetadata": {"storageProfile": profile, "location": collection.location},
            },
        }

    def disk_point(self, collection: RestorePointCollection, point: VmRestorePoint, image: Image) -> Json:
        point_id = self.point(collection, point)["id"]
        return {
            "id": f"{point_id}/diskRestorePoints/{image.name}",
            "name": image.name,
            "type": "Microsoft.Compute/restorePointCollections/restorePoints/diskRestorePoints",
            "properties": {
                "timeCreated": rfc3339(image.created),
                "sourceResourceId": self.disk_id(image.disk),
                "sourceUniqueId": image.disk.unique_id,
                "familyId": image.disk.unique_id,
                "diskSizeBytes": image.size,
                "provisioningState": "Succeeded",
                "diskState": self.image_state(image),
                "completionPercent": 100.0,
            },
        }
