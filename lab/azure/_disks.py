"""Managed disks behind the local endpoint: disk images on local files, incremental snapshots and VM restore points
as frozen copies of them, read access (SAS) with an expiry, and the changed-page list between two images.

Every write to a disk goes through :meth:`ManagedDisk.write` or :meth:`ManagedDisk.trim` (a guest's TRIM/UNMAP),
which record the 512-byte pages they touch with a generation number. An image (snapshot or disk restore point)
remembers the generation it was taken at, so the difference between two images of the same disk is what Azure
reports for ``x-ms-previous-snapshot-url``: every page written since the older image (even when rewritten with the
same bytes), and every page cleared since then, as page and clear ranges. Images are sparse-aware file copies, so a
4 GiB disk costs only its written data. The store never touches anything outside its root directory.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lab.azure._pages import PAGE, PageSet

__all__ = [
    "DiskStore",
    "Grant",
    "Image",
    "ManagedDisk",
    "RestorePointCollection",
    "StorageError",
    "VmRestorePoint",
]

_SAS_VERSION = "2018-03-28"
_COPY_CHUNK = 64 << 20


class StorageError(Exception):
    """A blob-service error answer (XML body, ``x-ms-error-code`` header)."""

    def __init__(self, status: int, code: str, message: str, *, detail: str = "") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class _Change:
    generation: int
    start: int
    end: int
    cleared: bool


@dataclass(eq=False)
class ManagedDisk:
    """A managed disk: ``size`` bytes in the sparse file ``path``; attached to ``vm`` at ``lun`` (None: OS disk)."""

    resource_group: str
    name: str
    size: int
    path: Path
    location: str
    vm: str | None = None
    lun: int | None = None
    unique_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    allocated: PageSet = field(default_factory=PageSet)
    generation: int = 0
    journal: list[_Change] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset % PAGE or length % PAGE or offset + length > self.size:
            raise ValueError(
                f"disk {self.name}: [{offset}, {offset + length}) is not 512-byte aligned inside {self.size} bytes"
            )

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """A guest write of whole 512-byte sectors."""
        self._check(offset, len(data))
        if not data:
            return
        with self.lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                view = memoryview(data)
                done = 0
                while done < len(view):
                    done += os.pwrite(fd, view[done:], offset + done)
            finally:
                os.close(fd)
            self._record(offset, offset + len(data), cleared=False)

    def trim(self, offset: int, length: int) -> None:
        """A guest TRIM/UNMAP: the pages read as zeros and are no longer allocated."""
        self._check(offset, length)
        if not length:
            return
        with self.lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                zeros = bytes(min(length, 1 << 20))
                done = 0
                while done < length:
                    done += os.pwrite(fd, zeros[: min(len(zeros), length - done)], offset + done)
            finally:
                os.close(fd)
            self._record(offset, offset + length, cleared=True)

    def read(self, offset: int, length: int) -> bytes:
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            return handle.read(length)

    def _record(self, start: int, end: int, *, cleared: bool) -> None:
        self.generation += 1
        self.journal.append(_Change(self.generation, start, end, cleared))
        if cleared:
            self.allocated.remove(start, end)
        else:
            self.allocated.add(start, end)


@dataclass(eq=False)
class Grant:
    """One read SAS: the URL's container is ``container``; valid until ``expires`` unless revoked."""

    container: str
    signed_identifier: str
    signature: str
    expires: datetime.datetime


@dataclass(eq=False)
class Image:
    """A frozen copy of a disk: an incremental snapshot or a disk restore point."""

    kind: Literal["snapshot", "diskRestorePoint"]
    resource_group: str
    name: str
    disk: ManagedDisk
    path: Path
    size: int
    generation: int
    allocated: PageSet
    created: datetime.datetime
    tags: dict[str, str] = field(default_factory=dict)
    incremental: bool = True
    grants: list[Grant] = field(default_factory=list)
    deleted: bool = False
    order: int = 0  # taken after every image with a smaller order
    etag: str = field(default_factory=lambda: f'"0x{secrets.token_hex(8).upper()}"')


@dataclass(eq=False)
class VmRestorePoint:
    name: str
    consistency: str
    created: datetime.datetime
    disks: list[Image]
    excluded: list[str] = field(default_factory=list)


@dataclass(eq=False)
class RestorePointCollection:
    resource_group: str
    name: str
    location: str
    source_vm: str
    tags: dict[str, str] = field(default_factory=dict)
    points: dict[str, VmRestorePoint] = field(default_factory=dict)


class DiskStore:
    """The disks, images and grants of one endpoint, under ``root``. ``page_list_limit`` is the most ranges one Get
    Page Ranges answer holds before it returns a ``NextMarker`` (Azure: 10,000).

    For oracles: ``keep_dropped`` (a directory) keeps each deleted image's file there as ``<disk>--<image>.img``
    instead of unlinking it, and ``granted`` maps every SAS container ever issued to its image (revoked ones too),
    so a test can tell which image each recorded blob request read."""

    def __init__(self, root: Path, clock: Callable[[], datetime.datetime]) -> None:
        self.root = root
        self.clock = clock
        self.page_list_limit = 10_000
        self.disks: dict[str, ManagedDisk] = {}
        self.snapshots: dict[tuple[str, str], Image] = {}
        self.collections: dict[tuple[str, str], RestorePointCollection] = {}
        self.account = f"md-impexp-{secrets.token_hex(6)}"
        self._grants: dict[str, tuple[Grant, Image]] = {}
        self._key = secrets.token_bytes(32)
        self._lock = threading.RLock()
        self._taken = 0
        self.keep_dropped: Path | None = None
        self.granted: dict[str, Image] = {}
        root.mkdir(parents=True, exist_ok=True)

    # -- disks -------------------------------------------------------------------------------------------------

    def add_disk(
        self,
        name: str,
        size: int,
        *,
        resource_group: str = "rg-dr",
        location: str = "westeurope",
        vm: str | None = None,
        lun: int | None = None,
    ) -> ManagedDisk:
        """A new, empty (sparse, unallocated) managed disk of ``size`` bytes."""
        if size <= 0 or size % PAGE:
            raise ValueError(f"a disk size must be a positive multiple of {PAGE}")
        with self._lock:
            if name.lower() in self.disks:
                raise ValueError(f"disk {name} already exists")
            path = self.root / f"disk-{name}.img"
            with open(path, "wb") as handle:
                handle.truncate(size)
            disk = ManagedDisk(resource_group, name, size, path, location, vm, lun)
            self.disks[name.lower()] = disk
            return disk

    def disk(self, name: str) -> ManagedDisk:
        try:
            return self.disks[name.lower()]
        except KeyError:
            raise KeyError(f"the store has no disk named {name!r}") from None

    def vm_disks(self, vm: str) -> list[ManagedDisk]:
        """The disks attached to ``vm``: the OS disk first, then data disks by LUN."""
        attached = [d for d in self.disks.values() if d.vm is not None and d.vm.lower() == vm.lower()]
        return sorted(attached, key=lambda d: -1 if d.lun is None else d.lun)

    # -- images ------------------------------------------------------------------------------------------------

    def freeze(
        self,
        disk: ManagedDisk,
        kind: Literal["snapshot", "diskRestorePoint"],
        resource_group: str,
        name: str,
        *,
        tags: dict[str, str] | None = None,
        incremental: bool = True,
    ) -> Image:
        """Copy ``disk`` as it is now (writes through the disk's methods wait for the copy)."""
        path = self.root / f"{kind}-{uuid.uuid4().hex}.img"
        with self._lock:
            self._taken += 1
            order = self._taken
        with disk.lock:
            _sparse_copy(disk.path, path, disk.size)
            return Image(
                kind,
                resource_group,
                name,
                disk,
                path,
                disk.size,
                disk.generation,
                disk.allocated.copy(),
                self.clock(),
                dict(tags or {}),
                incremental,
                order=order,
            )

    def add_snapshot(self, image: Image) -> None:
        with self._lock:
            self.snapshots[(image.resource_group.lower(), image.name.lower())] = image

    def snapshot(self, resource_group: str, name: str) -> Image | None:
        with self._lock:
            return self.snapshots.get((resource_group.lower(), name.lower()))

    def snapshots_of(self, disk: ManagedDisk) -> list[Image]:
        with self._lock:
            return [s for s in self.snapshots.values() if s.disk is disk]

    def drop(self, image: Image) -> None:
        """Revoke every grant of ``image`` and delete its file; snapshots also leave the snapshot list."""
        with self._lock:
            self.revoke(image)
            image.deleted = True
            self.snapshots.pop((image.resource_group.lower(), image.name.lower()), None)
            if self.keep_dropped is not None and image.path.exists():
                os.replace(image.path, self.keep_dropped / f"{image.disk.name}--{image.name}.img")
            else:
                image.path.unlink(missing_ok=True)
            self._trim_journal(image.disk)

    def delete_snapshot(self, resource_group: str, name: str) -> bool:
        """Delete a snapshot behind the product's back (as an operator or a policy would). True if it existed."""
        image = self.snapshot(resource_group, name)
        if image is None:
            return False
        self.drop(image)
        return True

    def _trim_journal(self, disk: ManagedDisk) -> None:
        live = [s.generation for s in self.snapshots.values() if s.disk is disk]
        live += [i.generation for c in self.collections.values() for p in c.points.values() for i in p.disks]
        oldest = min(live, default=disk.generation)
        with disk.lock:
            disk.journal = [c for c in disk.journal if c.generation > oldest]

    # -- read access -------------------------------------------------------------------------------------------

    def grant(self, image: Image, seconds: int, base_url: str) -> str:
        """A read SAS URL for ``image``, valid for ``seconds``; it points back at this endpoint."""
        with self._lock:
            container = secrets.token_hex(6)
            identifier = str(uuid.uuid4())
            expires = self.clock() + datetime.timedelta(seconds=seconds)
            signature = self._sign(container, identifier, expires)
            grant = Grant(container, identifier, signature, expires)
            image.grants.append(grant)
            self._grants[container] = (grant, image)
            self.granted[container] = image
        return f"{base_url}/{self.account}/{container}/abcd?sv={_SAS_VERSION}&sr=b&si={identifier}&sig={signature}"

    def expire(self, image: Image) -> None:
        """End every grant of ``image`` now, as if its SAS had run out (the holder still has the URL)."""
        with self._lock:
            for grant in image.grants:
                grant.expires = self.clock()

    def revoke(self, image: Image) -> None:
        with self._lock:
            for grant in image.grants:
                self._grants.pop(grant.container, None)
            image.grants.clear()

    def _sign(self, container: str, identifier: str, expires: datetime.datetime) -> str:
        message = f"{container}\n{identifier}\n{expires.isoformat()}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:43]

    def resolve(self, account: str, container: str, query: dict[str, list[str]]) -> Image:
        """The image a SAS request addresses, or the storage error Azure would answer."""
        unauthenticated = StorageError(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request. Make sure the value of Authorization header is formed "
            "correctly including the signature.",
        )
        identifier = (query.get("si") or [""])[0]
        signature = (query.get("sig") or [""])[0]
        if not identifier or not signature:
            raise StorageError(
                403, "NoAuthenticationInformation", "Server failed to authenticate the request: no SAS token."
            )
        with self._lock:
            found = self._grants.get(container) if account == self.account else None
        if found is None:
            unauthenticated.detail = f"Signed identifier {identifier} is not valid for this resource (revoked?)."
            raise unauthenticated
        grant, image = found
        if not (
            hmac.compare_digest(identifier, grant.signed_identifier) and hmac.compare_digest(signature, grant.signature)
        ):
            unauthenticated.detail = "Signature did not match."
            raise unauthenticated
        now = self.clock()
        if now >= grant.expires:
            unauthenticated.detail = (
                f"Signature not valid in the specified time frame: Expiry [{grant.expires:%a, %d %b %Y %H:%M:%S GMT}]"
                f" - Current [{now:%a, %d %b %Y %H:%M:%S GMT}]"
            )
            raise unauthenticated
        if image.deleted:
            raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
        return image

    # -- page lists --------------------------------------------------------------------------------------------

    @staticmethod
    def page_ranges(image: Image, start: int, end: int) -> list[tuple[int, int, bool]]:
        """The valid (allocated) page ranges of ``image`` inside ``[start, end)``: ``(start, end, cleared=False)``."""
        return [(s, e, False) for s, e in image.allocated.clip(start, end)]

    @staticmethod
    def diff(image: Image, previous: Image, start: int, end: int) -> list[tuple[int, int, bool]]:
        """Pages changed from ``previous`` to ``image`` inside ``[start, end)``, in offset order: written pages as
        ``(start, end, False)``, cleared pages as ``(start, end, True)``."""
        if previous.disk is not image.disk or previous.kind != image.kind:
            raise StorageError(
                409,
                "PreviousSnapshotOperationNotSupported",
                "The previous snapshot is not an incremental snapshot of the same disk.",
            )
        if not (image.incremental and previous.incremental):
            raise StorageError(
                409, "PreviousSnapshotOperationNotSupported", "Page range diffs need incremental snapshots."
            )
        if previous.order > image.order:
            raise StorageError(400, "PreviousSnapshotCannotBeNewer", "The previous snapshot is newer than the target.")
        if previous.size != image.size:
            raise StorageError(
                409,
                "PreviousSnapshotOperationNotSupported",
                "The disk was resized between the two snapshots; read the full newer snapshot instead.",
            )
        written = PageSet()
        cleared = PageSet()
        # The journal keeps every change newer than the oldest live image, and ``previous`` is live.
        with image.disk.lock:
            changes = [c for c in image.disk.journal if previous.generation < c.generation <= image.generation]
        for change in changes:
            touched, other = (cleared, written) if change.cleared else (written, cleared)
            other.remove(change.start, change.end)
            touched.add(change.start, change.end)
        ranges = [(s, e, False) for s, e in written.clip(start, end)]
        ranges += [(s, e, True) for s, e in cleared.clip(start, end)]
        return sorted(ranges)

    # -- restore points ----------------------------------------------------------------------------------------

    def collection(self, resource_group: str, name: str) -> RestorePointCollection | None:
        with self._lock:
            return self.collections.get((resource_group.lower(), name.lower()))

    def all_images(self) -> list[Image]:
        """Every live image: snapshots and disk restore points."""
        with self._lock:
            images = list(self.snapshots.values())
            images += [i for c in self.collections.values() for p in c.points.values() for i in p.disks]
            return images


def _sparse_copy(source: Path, target: Path, size: int) -> None:
    """Copy the data extents of ``source`` into a new sparse ``target`` of ``size`` bytes (holes stay holes)."""
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(dst, size)
            position = 0
            while position < size:
                try:
                    start = os.lseek(src, position, os.SEEK_DATA)
                except OSError:  # ENXIO: no data after position
                    break
                end = min(os.lseek(src, start, os.SEEK_HOLE), size)
                offset = start
                while offset < end:
                    copied = os.copy_file_range(src, dst, min(_COPY_CHUNK, end - offset), offset, offset)
                    if copied <= 0:
                        raise OSError(f"copy_file_range made no progress at {offset} copying {source}")
                    offset += copied
                position = end
        finally:
            os.close(dst)
    finally:
        os.close(src)
