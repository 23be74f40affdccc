"""The managed-disk half of the Compute endpoint: disks, incremental snapshots, VM restore point collections, restore
points and disk restore points, with read access (``beginGetAccess``/``endGetAccess``) as Azure serves them.

Creating, deleting, granting and revoking are long-running operations (202 + ``Azure-AsyncOperation``), polled on
the Compute operation route. The limits Azure documents are enforced with the endpoint's clock: at most 7
incremental snapshots of a disk in 5 minutes and 500 at a time; crash-consistent restore points of a VM at most once
an hour, application-consistent ones once in 3 hours, never two at once. A snapshot with an active SAS cannot be
deleted (revoke first).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

from lab.azure._compute import COMPUTE_API_VERSION
from lab.azure._disk_bodies import DiskBodies
from lab.azure._disks import DiskStore, Image, ManagedDisk, RestorePointCollection, VmRestorePoint
from lab.azure._estate import Estate
from lab.azure._http import ArmError, Request, Response, Router
from lab.azure._json import Json, rfc3339
from lab.azure._lro import Operations

__all__ = ["DISK_API_VERSION", "DiskService"]

#: api-version of the disk resource provider (disks, snapshots, disk restore points) in azure-mgmt-compute 39.
DISK_API_VERSION = "2026-03-02"

_SNAPSHOTS_PER_WINDOW = 7
_SNAPSHOT_WINDOW = datetime.timedelta(minutes=5)
_SNAPSHOTS_PER_DISK = 500
_RESTORE_POINT_SPACING = {
    "CrashConsistent": datetime.timedelta(hours=1),
    "ApplicationConsistent": datetime.timedelta(hours=3),
}

_RG = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute"
_DISK = _RG + r"/disks/(?P<disk>[^/]+)"
_SNAPSHOTS = _RG + r"/snapshots"
_SNAPSHOT = _SNAPSHOTS + r"/(?P<snapshot>[^/]+)"
_COLLECTION = _RG + r"/restorePointCollections/(?P<collection>[^/]+)"
_POINT = _COLLECTION + r"/restorePoints/(?P<point>[^/]+)"
_DISK_POINT = _POINT + r"/diskRestorePoints/(?P<disk_point>[^/]+)"


def _not_found(kind: str, name: str, rg: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource 'Microsoft.Compute/{kind}/{name}' under resource group '{rg}' was not found.",
    )


def _not_allowed(message: str) -> ArmError:
    return ArmError(409, "OperationNotAllowed", message)


class DiskService:
    def __init__(self, estate: Estate, store: DiskStore, ops: Operations, clock: Callable[[], datetime.datetime]):
        self.estate = estate
        self.store = store
        self.ops = ops
        self.clock = clock
        self._created: dict[str, list[datetime.datetime]] = {}  # disk unique id -> snapshot creation times
        self._points_created: dict[tuple[str, str], datetime.datetime] = {}  # (vm, mode) -> last creation
        self._creating: set[str] = set()  # VMs with a restore point being created
        self.bodies = DiskBodies(estate, store)

    def register(self, router: Router) -> None:
        router.add("GET", _DISK, self._get_disk)
        router.add("GET", _SNAPSHOTS, self._list_snapshots)
        router.add("GET", _SNAPSHOT, self._get_snapshot)
        router.add("PUT", _SNAPSHOT, self._put_snapshot)
        router.add("DELETE", _SNAPSHOT, self._delete_snapshot)
        router.add("POST", _SNAPSHOT + r"/beginGetAccess", self._grant_snapshot)
        router.add("POST", _SNAPSHOT + r"/endGetAccess", self._revoke_snapshot)
        router.add("GET", _RG + r"/restorePointCollections", self._list_collections)
        router.add("GET", _COLLECTION, self._get_collection)
        router.add("PUT", _COLLECTION, self._put_collection)
        router.add("DELETE", _COLLECTION, self._delete_collection)
        router.add("GET", _POINT, self._get_point)
        router.add("PUT", _POINT, self._put_point)
        router.add("DELETE", _POINT, self._delete_point)
        router.add("GET", _DISK_POINT, self._get_disk_point)
        router.add("POST", _DISK_POINT + r"/beginGetAccess", self._grant_disk_point)
        router.add("POST", _DISK_POINT + r"/endGetAccess", self._revoke_disk_point)

    # -- scope checks ------------------------------------------------------------------------------------------

    def _check(self, request: Request, sub: str, version: str) -> None:
        if request.param("api-version") != version:
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{request.param('api-version')}' is invalid here; this endpoint serves '{version}'.",
            )
        if sub.lower() != self.estate.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")

    def _snapshot(self, request: Request, sub: str, rg: str, snapshot: str) -> Image:
        self._check(request, sub, DISK_API_VERSION)
        image = self.store.snapshot(rg, snapshot)
        if image is None:
            raise _not_found("snapshots", snapshot, rg)
        return image

    def _collection(self, request: Request, sub: str, rg: str, collection: str) -> RestorePointCollection:
        self._check(request, sub, COMPUTE_API_VERSION)
        found = self.store.collection(rg, collection)
        if found is None:
            raise _not_found("restorePointCollections", collection, rg)
        return found

    def _point(self, collection: RestorePointCollection, point: str) -> VmRestorePoint:
        found = collection.points.get(point.lower())
        if found is None:
            raise _not_found(
                f"restorePointCollections/{collection.name}/restorePoints", point, collection.resource_group
            )
        return found

    def _operation(
        self,
        request: Request,
        location: str,
        *,
        on_success: Callable[[], None],
        result: Callable[[], Any],
        on_failure: Callable[[str, str], None] | None = None,
        accepted: tuple[int, Any] = (202, None),
    ) -> Response:
        op_id = self.ops.new_id()
        base = f"{request.base_url}/subscriptions/{self.estate.subscription_id}/providers/Microsoft.Compute/locations"
        status = f"{base}/{location}/operations/{op_id}?api-version={COMPUTE_API_VERSION}"
        return self.ops.start(
            op_id,
            status_url=status,
            location_url=status.replace("?", "?monitor=true&"),
            on_success=on_success,
            on_failure=on_failure or (lambda code, message: None),
            result=result,
            accepted=accepted,
        )

    # -- disks and snapshots -----------------------------------------------------------------------------------

    def _get_disk(self, request: Request, sub: str, rg: str, disk: str) -> Response:
        self._check(request, sub, DISK_API_VERSION)
        found = self.store.disks.get(disk.lower())
        if found is None or found.resource_group.lower() != rg.lower():
            raise _not_found("disks", disk, rg)
        return Response(200, self.bodies.disk(found))

    def _list_snapshots(self, request: Request, sub: str, rg: str) -> Response:
        self._check(request, sub, DISK_API_VERSION)
        images = sorted(
            (i for i in self.store.all_images() if i.kind == "snapshot" and i.resource_group.lower() == rg.lower()),
            key=lambda i: i.name.lower(),
        )
        start = int(request.param("$skiptoken") or 0)
        end = start + self.estate.page_size
        body: Json = {"value": [self.bodies.snapshot(i) for i in images[start:end]]}
        if end < len(images):
            body["nextLink"] = f"{request.base_url}{request.path}?api-version={DISK_API_VERSION}&$skiptoken={end}"
        return Response(200, body)

    def _get_snapshot(self, request: Request, **path: str) -> Response:
        return Response(200, self.bodies.snapshot(self._snapshot(request, **path)))

    def _source_disk(self, body: Any) -> ManagedDisk:
        props = body.get("properties") if isinstance(body, dict) else None
        creation = props.get("creationData") if isinstance(props, dict) else None
        if not isinstance(creation, dict) or str(creation.get("createOption", "")).lower() != "copy":
            raise ArmError(400, "InvalidParameter", "Only createOption 'Copy' of a managed disk is served here.")
        source = str(creation.get("sourceResourceId") or "")
        for disk in self.store.disks.values():
            if source.lower() == self.bodies.disk_id(disk).lower():
                return disk
        raise ArmError(404, "NotFound", f"Source disk '{source}' was not found.")

    def _put_snapshot(self, request: Request, sub: str, rg: str, snapshot: str) -> Response:
        self._check(request, sub, DISK_API_VERSION)
        body = request.body if isinstance(request.body, dict) else {}
        if not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        disk = self._source_disk(body)
        tags = {str(k): str(v) for k, v in (body.get("tags") or {}).items()}
        incremental = bool((body.get("properties") or {}).get("incremental", False))
        existing = self.store.snapshot(rg, snapshot)
        if existing is not None:
            # PUT is idempotent: a repeated create (a lost answer retried) updates the tags, never takes a new copy.
            if existing.disk is not disk:
                raise ArmError(409, "PropertyChangeNotAllowed", "Changing property 'sourceResourceId' is not allowed.")
            existing.tags = tags
            return Response(200, self.bodies.snapshot(existing))
        now = self.clock()
        recent = [t for t in self._created.get(disk.unique_id, []) if now - t < _SNAPSHOT_WINDOW]
        if incremental and len(recent) >= _SNAPSHOTS_PER_WINDOW:
            raise _not_allowed(
                f"Disk '{disk.name}' already has {len(recent)} incremental snapshots created in the last 5 minutes; "
                f"at most {_SNAPSHOTS_PER_WINDOW} are allowed."
            )
        if incremental and len(self.store.snapshots_of(disk)) >= _SNAPSHOTS_PER_DISK:
            raise _not_allowed(f"Disk '{disk.name}' already has {_SNAPSHOTS_PER_DISK} incremental snapshots.")
        image = self.store.freeze(disk, "snapshot", rg, snapshot, tags=tags, incremental=incremental)
        self.store.add_snapshot(image)
        self._created[disk.unique_id] = [*recent, now]
        return self._operation(
            request,
            disk.location,
            on_success=lambda: None,
            on_failure=lambda code, message: self.store.drop(image),
            result=lambda: self.bodies.snapshot(image),
        )

    def _delete_snapshot(self, request: Request, sub: str, rg: str, snapshot: str) -> Response:
        self._check(request, sub, DISK_API_VERSION)
        image = self.store.snapshot(rg, snapshot)
        if image is None:
            return Response(204)
        if image.grants:
            raise _not_allowed(
                f"Snapshot '{snapshot}' has an active SAS URI (diskState ActiveSAS); revoke access before deleting it."
            )
        return self._operation(
            request, image.disk.location, on_success=lambda: self.store.drop(image), result=lambda: None
        )

    def _grant(self, request: Request, image: Image) -> Response:
        body = request.body if isinstance(request.body, dict) else {}
        if str(body.get("access", "")).lower() != "read":
            raise ArmError(400, "InvalidParameter", "Only 'Read' access is supported for a snapshot.")
        seconds = body.get("durationInSeconds")
        if not isinstance(seconds, int) or seconds <= 0:
            raise ArmError(400, "InvalidParameter", "durationInSeconds must be a positive integer.")
        url = self.store.grant(image, seconds, request.base_url)
        return self._operation(request, image.disk.location, on_success=lambda: None, result=lambda: {"accessSAS": url})

    def _grant_snapshot(self, request: Request, **path: str) -> Response:
        return self._grant(request, self._snapshot(request, **path))

    def _revoke_snapshot(self, request: Request, **path: str) -> Response:
        image = self._snapshot(request, **path)
        return self._operation(
            request, image.disk.location, on_success=lambda: self.store.revoke(image), result=lambda: None
        )

    # -- restore points ----------------------------------------------------------------------------------------

    def _list_collections(self, request: Request, sub: str, rg: str) -> Response:
        self._check(request, sub, COMPUTE_API_VERSION)
        found = [c for c in self.store.collections.values() if c.resource_group.lower() == rg.lower()]
        return Response(200, {"value": [self.bodies.collection(c, expand=False) for c in found]})

    def _get_collection(self, request: Request, **path: str) -> Response:
        collection = self._collection(request, **path)
        expand = (request.param("$expand") or "").lower() == "restorepoints"
        return Response(200, self.bodies.collection(collection, expand=expand))

    def _put_collection(self, request: Request, sub: str, rg: str, collection: str) -> Response:
        self._check(request, sub, COMPUTE_API_VERSION)
        body = request.body if isinstance(request.body, dict) else {}
        source = str(((body.get("properties") or {}).get("source") or {}).get("id") or "")
        tags = {str(k): str(v) for k, v in (body.get("tags") or {}).items()}
        existing = self.store.collection(rg, collection)
        if existing is not None:
            existing.tags = tags
            return Response(200, self.bodies.collection(existing, expand=False))
        vm = source.rsplit("/", 1)[-1]
        if "/providers/microsoft.compute/virtualmachines/" not in source.lower() or not self.store.vm_disks(vm):
            raise ArmError(400, "InvalidParameter", f"The source VM '{source}' of the collection was not found.")
        created = RestorePointCollection(rg, collection, str(body.get("location") or "westeurope"), source, tags)
        self.store.collections[(rg.lower(), collection.lower())] = created
        return Response(201, self.bodies.collection(created, expand=False))

    def _delete_collection(self, request: Request, **path: str) -> Response:
        try:
            collection = self._collection(request, **path)
        except ArmError as error:
            if error.status == 404:
                return Response(204)
            raise

        def delete() -> None:
            for point in list(collection.points.values()):
                self._drop_point(collection, point)
            self.store.collections.pop((collection.resource_group.lower(), collection.name.lower()), None)

        return self._operation(request, collection.location, on_success=delete, result=lambda: None)

    def _get_point(self, request: Request, sub: str, rg: str, collection: str, point: str) -> Response:
        found = self._collection(request, sub, rg, collection)
        return Response(200, self.bodies.point(found, self._point(found, point)))

    def _put_point(self, request: Request, sub: str, rg: str, collection: str, point: str) -> Response:
        found = self._collection(request, sub, rg, collection)
        if point.lower() in found.points:
            # Restore points are immutable; a repeated create (a lost answer retried) returns the existing one.
            return Response(201, self.bodies.point(found, found.points[point.lower()]))
        body = request.body if isinstance(request.body, dict) else {}
        props = body.get("properties") or {}
        mode = str(props.get("consistencyMode") or "ApplicationConsistent")
        if mode not in _RESTORE_POINT_SPACING:
            raise ArmError(400, "InvalidParameter", f"consistencyMode '{mode}' is not supported.")
        vm = found.source_vm.rsplit("/", 1)[-1].lower()
        now = self.clock()
        last = self._points_created.get((vm, mode))
        if vm in self._creating:
            raise _not_allowed("Concurrent creation of restore points for a VM isn't supported.")
        if last is not None and now - last < _RESTORE_POINT_SPACING[mode]:
            raise _not_allowed(
                f"A {mode} restore point of this VM was created at {rfc3339(last)}; the minimum spacing is "
                f"{_RESTORE_POINT_SPACING[mode]}."
            )
        excluded = [str(d.get("id", "")) for d in props.get("excludeDisks") or [] if isinstance(d, dict)]
        images = [
            self.store.freeze(disk, "diskRestorePoint", found.resource_group, f"{disk.name}_{uuid.uuid4().hex}")
            for disk in self.store.vm_disks(vm)
            if self.bodies.disk_id(disk).lower() not in {e.lower() for e in excluded}
        ]
        created = VmRestorePoint(point, mode, now, images, excluded)
        found.points[point.lower()] = created
        self._points_created[(vm, mode)] = now
        self._creating.add(vm)

        def failed(code: str, message: str) -> None:
            del code, message
            self._creating.discard(vm)
            self._drop_point(found, created)

        creating = self.bodies.point(found, created)
        creating["properties"]["provisioningState"] = "Creating"
        # Azure answers a restore point PUT with 201 (the SDK accepts nothing else), then runs it asynchronously.
        return self._operation(
            request,
            found.location,
            on_success=lambda: self._creating.discard(vm),
            on_failure=failed,
            result=lambda: self.bodies.point(found, created),
            accepted=(201, creating),
        )

    def _drop_point(self, collection: RestorePointCollection, point: VmRestorePoint) -> None:
        collection.points.pop(point.name.lower(), None)
        for image in point.disks:
            self.store.drop(image)

    def _delete_point(self, request: Request, sub: str, rg: str, collection: str, point: str) -> Response:
        found = self._collection(request, sub, rg, collection)
        existing = found.points.get(point.lower())
        if existing is None:
            return Response(204)
        if any(image.grants for image in existing.disks):
            raise _not_allowed(f"Restore point '{point}' has a disk restore point with an active SAS; revoke first.")
        return self._operation(
            request, found.location, on_success=lambda: self._drop_point(found, existing), result=lambda: None
        )

    def _disk_point(
        self, request: Request, sub: str, rg: str, collection: str, point: str, disk_point: str
    ) -> tuple[RestorePointCollection, VmRestorePoint, Image]:
        self._check(request, sub, DISK_API_VERSION)
        found = self.store.collection(rg, collection)
        if found is None:
            raise _not_found("restorePointCollections", collection, rg)
        vm_point = self._point(found, point)
        for image in vm_point.disks:
            if image.name.lower() == disk_point.lower():
                return found, vm_point, image
        raise _not_found("diskRestorePoints", disk_point, rg)

    def _get_disk_point(self, request: Request, **path: str) -> Response:
        return Response(200, self.bodies.disk_point(*self._disk_point(request, **path)))

    def _grant_disk_point(self, request: Request, **path: str) -> Response:
        return self._grant(request, self._disk_point(request, **path)[2])

    def _revoke_disk_point(self, request: Request, **path: str) -> Response:
        image = self._disk_point(request, **path)[2]
        return self._operation(
            request, image.disk.location, on_success=lambda: self.store.revoke(image), result=lambda: None
        )
