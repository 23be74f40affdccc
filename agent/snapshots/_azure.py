"""The Compute calls of the snapshot source, through azure-mgmt-compute: the VM's managed disks, incremental
snapshots, VM restore points, read grants (SAS) and their revocation, and the tagged resources to clean up.

Every call runs under :class:`~agent.snapshots.AzureConfig`'s ``call_policy`` (retried on temporary errors until its
deadline, on top of the SDK's own retries), and every long-running operation polls under the same deadline. Every
operation here is safe to repeat: names are chosen by the caller, so a create whose answer was lost and is sent again
updates the same snapshot instead of taking a second one; revoking or deleting what is already gone succeeds.
Results are plain values; SAS URLs are returned to the caller and never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.polling import LROPoller
from azure.core.rest import HttpRequest
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import (
    ApiEntityReference,
    CreationData,
    GrantAccessData,
    RestorePoint,
    RestorePointCollection,
    RestorePointCollectionProperties,
    RestorePointCollectionSourceProperties,
    RestorePointProperties,
    Snapshot,
    SnapshotProperties,
)
from azure.mgmt.core.polling.arm_polling import ARMPolling

from agent.snapshots._config import AzureConfig
from agent.snapshots._translate import azure_call
from agent.snapshots.errors import AzureRejected, AzureTimedOut, ImageGone, UnknownDisk
from failback.retry import Policy

__all__ = ["PERMISSIONS_API_VERSION", "AzureImages", "ImageRef", "VmDisk", "VmInfo"]

PERMISSIONS_API_VERSION = "2022-04-01"

_log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class VmDisk:
    """A managed disk of the VM: its ARM ``id``, ``lun`` (None for the OS disk) and ``size`` in bytes."""

    id: str
    name: str
    lun: int | None
    size: int

    @property
    def key(self) -> str:
        """The disk id as compared (ARM ids are case-insensitive)."""
        return self.id.lower()


@dataclass(frozen=True)
class VmInfo:
    id: str
    name: str
    resource_group: str
    location: str
    disks: tuple[VmDisk, ...]

    def disk(self, disk_id: str) -> VmDisk:
        for disk in self.disks:
            if disk.key == disk_id.lower():
                return disk
        raise UnknownDisk(
            f"VM {self.name} has no managed disk {disk_id}",
            remedy="re-discover the VM's disks and pair each of them by its ARM id",
        )


@dataclass(frozen=True)
class ImageRef:
    """A readable image of one disk: an incremental snapshot (``kind`` "snapshot") or a disk restore point
    (``collection`` and ``point`` name the VM restore point that holds it)."""

    kind: Literal["snapshot", "diskRestorePoint"]
    resource_group: str
    name: str
    collection: str = ""
    point: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "resource_group": self.resource_group,
            "name": self.name,
            "collection": self.collection,
            "point": self.point,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageRef:
        kind = data["kind"]
        if kind not in ("snapshot", "diskRestorePoint"):
            raise ValueError(f"unknown image kind {kind!r}")
        return cls(kind, str(data["resource_group"]), str(data["name"]), str(data["collection"]), str(data["point"]))

    def __str__(self) -> str:
        if self.kind == "snapshot":
            return f"snapshot {self.resource_group}/{self.name}"
        return f"disk restore point {self.resource_group}/{self.collection}/{self.point}/{self.name}"


class _Expired(Exception):
    """Raised inside the polling thread when our deadline passes."""


class _DeadlinePolling(ARMPolling):
    def __init__(self, interval: float, policy: Policy, **kwargs: Any) -> None:
        super().__init__(interval, **kwargs)
        self._policy = policy
        self._expires = policy.clock() + policy.deadline

    def _delay(self) -> None:
        remaining = self._expires - self._policy.clock()
        if remaining <= 0:
            raise _Expired
        # Azure's Retry-After wins over our interval, but never past our deadline.
        self._policy.sleep(min(self._extract_delay(), remaining))


def _resource_group(arm_id: str) -> str:
    parts = arm_id.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() == "resourcegroups":
            return parts[i + 1]
    raise AzureRejected(f"Azure returned the id {arm_id!r} without a resource group")


class AzureImages:
    """Compute operations in one subscription, as ``credential``."""

    def __init__(self, credential: TokenCredential, subscription_id: str, *, config: AzureConfig | None = None) -> None:
        self.config = config or AzureConfig()
        self.subscription_id = subscription_id
        self._client = ComputeManagementClient(credential, subscription_id, **self.config.client_kwargs())

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> AzureImages:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, what: str, fn: Callable[[], T], *, not_found: type[ImageGone] | type[UnknownDisk] = ImageGone) -> T:
        return azure_call(self.config.call_policy, what, fn, not_found=not_found)

    def _run(self, what: str, start: Callable[..., LROPoller[T]]) -> T:
        """Start a long-running operation and wait for its result under the call policy's deadline."""
        policy = self.config.call_policy

        def once() -> T:
            polling = _DeadlinePolling(
                self.config.polling_interval,
                policy,
                path_format_arguments={"endpoint": self.config.base_url.rstrip("/")},
            )
            try:
                return start(polling=polling).result()
            except _Expired as exc:
                raise AzureTimedOut(f"{what} did not finish within {policy.deadline:g} s") from exc

        return self._call(what, once)

    # -- reads -------------------------------------------------------------------------------------------------

    def permissions(self, scope: str, *, policy: Policy | None = None) -> list[dict[str, Any]]:
        """What this identity may do at ``scope`` (an ARM id such as ``/subscriptions/<id>/resourceGroups/<rg>``),
        as ARM's permissions API lists it: the entries of every page of ``value``. ``policy`` bounds the call
        instead of the config's call policy (a doctor check must answer within its own deadline)."""
        url: str | None = f"{scope.rstrip('/')}/providers/Microsoft.Authorization/permissions"
        params: dict[str, str] | None = {"api-version": PERMISSIONS_API_VERSION}
        entries: list[dict[str, Any]] = []
        while url:
            request = HttpRequest("GET", url, params=params)

            def page(request: HttpRequest = request) -> Any:
                response = self._client.send_request(request)
                response.raise_for_status()
                return response.json()

            body = azure_call(policy or self.config.call_policy, f"reading the permissions at {scope}", page)
            value = body.get("value") if isinstance(body, dict) else None
            if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
                raise AzureRejected(f"the permissions API answered for {scope} without a list of permissions")
            entries += value
            # nextLink is absolute and carries its own api-version.
            url, params = body.get("nextLink"), None
        return entries

    def vm(self, resource_group: str, name: str) -> VmInfo:
        """The VM and its managed disks (OS disk first, then data disks by LUN), with exact sizes."""
        vm = self._call(
            f"reading VM {resource_group}/{name}",
            lambda: self._client.virtual_machines.get(resource_group, name),
            not_found=UnknownDisk,
        )
        profile = vm.properties.storage_profile if vm.properties is not None else None
        found: list[tuple[str, str, int | None]] = []
        if profile is not None and profile.os_disk is not None and profile.os_disk.managed_disk is not None:
            found.append((str(profile.os_disk.managed_disk.id), str(profile.os_disk.name), None))
        for data in (profile.data_disks or []) if profile is not None else []:
            if data.managed_disk is not None and data.managed_disk.id:
                found.append((data.managed_disk.id, str(data.name), data.lun))
        disks = []
        for disk_id, disk_name, lun in sorted(found, key=lambda d: -1 if d[2] is None else d[2]):
            rg = _resource_group(disk_id)
            name_in_id = disk_id.rsplit("/", 1)[-1]
            disk = self._call(
                f"reading disk {rg}/{name_in_id}",
                lambda rg=rg, n=name_in_id: self._client.disks.get(rg, n),  # type: ignore[misc]
                not_found=UnknownDisk,
            )
            size = disk.properties.disk_size_bytes if disk.properties is not None else None
            if not size:
                raise AzureRejected(f"Azure did not report the size of disk {disk_name}")
            disks.append(VmDisk(disk_id, disk_name, lun, int(size)))
        return VmInfo(str(vm.id), name, resource_group, str(vm.location), tuple(disks))

    def tagged_snapshots(self, resource_group: str, key: str, value: str) -> list[str]:
        """Names of the snapshots in ``resource_group`` whose tag ``key`` is ``value``."""

        def listing() -> list[str]:
            return [
                str(s.name)
                for s in self._client.snapshots.list_by_resource_group(resource_group)
                if (s.tags or {}).get(key) == value
            ]

        return self._call(f"listing snapshots in {resource_group}", listing)

    def restore_points(self, resource_group: str, collection: str) -> list[str]:
        """Names of the restore points in ``collection`` (none when the collection does not exist)."""

        def listing() -> list[str]:
            found = self._client.restore_point_collections.get(resource_group, collection, expand="restorePoints")
            points = found.properties.restore_points if found.properties is not None else None
            return [str(p.name) for p in points or []]

        try:
            return self._call(f"listing restore points of {resource_group}/{collection}", listing)
        except ImageGone:
            return []

    def restore_point_images(self, resource_group: str, collection: str, name: str) -> list[ImageRef]:
        """The disk restore points of a VM restore point (none when it is gone)."""

        def reading() -> list[ImageRef]:
            point = self._client.restore_points.get(resource_group, collection, name)
            props = point.properties
            profile = props.source_metadata.storage_profile if props and props.source_metadata else None
            entries = ([profile.os_disk] if profile and profile.os_disk else []) + list(
                (profile.data_disks or []) if profile else []
            )
            return [
                ImageRef(
                    "diskRestorePoint", resource_group, e.disk_restore_point.id.rsplit("/", 1)[-1], collection, name
                )
                for e in entries
                if e.disk_restore_point is not None and e.disk_restore_point.id
            ]

        try:
            return self._call(f"reading restore point {resource_group}/{collection}/{name}", reading)
        except ImageGone:
            return []

    # -- taking images -----------------------------------------------------------------------------------------

    def create_snapshot(
        self, resource_group: str, name: str, disk: VmDisk, location: str, tags: Mapping[str, str]
    ) -> tuple[ImageRef, float]:
        """An incremental snapshot of ``disk`` named ``name``; returns it and Azure's creation time (epoch s)."""
        body = Snapshot(
            location=location,
            tags=dict(tags),
            properties=SnapshotProperties(
                creation_data=CreationData(create_option="Copy", source_resource_id=disk.id), incremental=True
            ),
        )
        snapshot = self._run(
            f"creating snapshot {resource_group}/{name} of disk {disk.name}",
            lambda **kw: self._client.snapshots.begin_create_or_update(resource_group, name, body, **kw),
        )
        created = snapshot.properties.time_created if snapshot.properties is not None else None
        if created is None:
            raise AzureRejected(f"Azure did not report when snapshot {name} was taken")
        return ImageRef("snapshot", resource_group, name), created.timestamp()

    def create_restore_point(
        self,
        resource_group: str,
        collection: str,
        name: str,
        vm: VmInfo,
        consistency: str,
        disks: list[VmDisk],
        tags: Mapping[str, str],
    ) -> tuple[dict[str, ImageRef], float]:
        """A VM restore point of ``disks`` (the VM's other disks are excluded), in a collection created on first use;
        returns each disk's restore point (by disk key) and the creation time."""
        self._call(
            f"creating restore point collection {resource_group}/{collection}",
            lambda: self._client.restore_point_collections.create_or_update(
                resource_group,
                collection,
                RestorePointCollection(
                    location=vm.location,
                    tags=dict(tags),
                    properties=RestorePointCollectionProperties(
                        source=RestorePointCollectionSourceProperties(id=vm.id)
                    ),
                ),
            ),
        )
        wanted = {d.key for d in disks}
        body = RestorePoint(
            properties=RestorePointProperties(
                consistency_mode=consistency,
                exclude_disks=[ApiEntityReference(id=d.id) for d in vm.disks if d.key not in wanted],
            )
        )
        point = self._run(
            f"creating restore point {resource_group}/{collection}/{name}",
            lambda **kw: self._client.restore_points.begin_create(resource_group, collection, name, body, **kw),
        )
        props = point.properties
        profile = props.source_metadata.storage_profile if props and props.source_metadata else None
        entries = ([profile.os_disk] if profile and profile.os_disk else []) + list(
            (profile.data_disks or []) if profile else []
        )
        images: dict[str, ImageRef] = {}
        for entry in entries:
            if entry.managed_disk is None or entry.disk_restore_point is None or not entry.disk_restore_point.id:
                continue
            key = str(entry.managed_disk.id).lower()
            if key in wanted:
                drp = entry.disk_restore_point.id.rsplit("/", 1)[-1]
                images[key] = ImageRef("diskRestorePoint", resource_group, drp, collection, name)
        if props is None or props.time_created is None or set(images) != wanted:
            raise AzureRejected(f"restore point {name} does not hold every disk asked for, or has no creation time")
        return images, props.time_created.timestamp()

    # -- access and deletion -----------------------------------------------------------------------------------

    def grant(self, image: ImageRef, seconds: int) -> str:
        """A read SAS URL for ``image``, valid for ``seconds``. The URL is a secret: never log it."""
        data = GrantAccessData(access="Read", duration_in_seconds=seconds)
        if image.kind == "snapshot":
            access = self._run(
                f"granting read access to {image}",
                lambda **kw: self._client.snapshots.begin_grant_access(image.resource_group, image.name, data, **kw),
            )
        else:
            access = self._run(
                f"granting read access to {image}",
                lambda **kw: self._client.disk_restore_point.begin_grant_access(
                    image.resource_group, image.collection, image.point, image.name, data, **kw
                ),
            )
        if not access.access_sas:
            raise AzureRejected(f"Azure granted access to {image} without a SAS URL")
        return str(access.access_sas)

    def revoke(self, image: ImageRef) -> None:
        """End every read grant of ``image`` (nothing to do when it is gone)."""
        try:
            if image.kind == "snapshot":
                self._run(
                    f"revoking read access to {image}",
                    lambda **kw: self._client.snapshots.begin_revoke_access(image.resource_group, image.name, **kw),
                )
            else:
                self._run(
                    f"revoking read access to {image}",
                    lambda **kw: self._client.disk_restore_point.begin_revoke_access(
                        image.resource_group, image.collection, image.point, image.name, **kw
                    ),
                )
        except ImageGone:
            return

    def delete_snapshot(self, resource_group: str, name: str) -> None:
        try:
            self._run(
                f"deleting snapshot {resource_group}/{name}",
                lambda **kw: self._client.snapshots.begin_delete(resource_group, name, **kw),
            )
        except ImageGone:
            return

    def delete_collection(self, resource_group: str, collection: str) -> None:
        """Delete a restore point collection (with any restore point left in it)."""
        try:
            self._run(
                f"deleting restore point collection {resource_group}/{collection}",
                lambda **kw: self._client.restore_point_collections.begin_delete(resource_group, collection, **kw),
            )
        except ImageGone:
            return

    def delete_restore_point(self, resource_group: str, collection: str, name: str) -> None:
        try:
            self._run(
                f"deleting restore point {resource_group}/{collection}/{name}",
                lambda **kw: self._client.restore_points.begin_delete(resource_group, collection, name, **kw),
            )
        except ImageGone:
            return
