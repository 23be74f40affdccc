"""A local Azure endpoint (lab.azure) as the only way a real process server reaches a VM's disks: the agent's
``[azure]`` section for it, a guest writing the VM's managed disks, and what the endpoint's request record says each
image was read for."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from agent.api.v1 import pairs_pb2, points_pb2
from agent.dataplane import BLOCK_SIZE, disk_digest
from failback.identity import Role
from lab.azure import AzureVm, LocalAzure
from lab.azure._disks import Image, ManagedDisk
from tests.harness import AgentProcess, Service
from tests.replication.support import Lab

TOKEN = "azure-snapshots-token"
TENANT, CLIENT = "tenant-fb", "client-fb"
SECRET = "never-in-a-log-5f1c2a"
_BLOB_DATA = re.compile(r"^/md-impexp-[^/]+/(?P<container>[^/]+)/abcd$")
_PREVIOUS = re.compile(r"^https://[^/]+/md-impexp-[^/]+/(?P<container>[^/?]+)/abcd\?")


def azure_section(endpoint: LocalAzure, secret_file: Path) -> str:
    """agent.toml's [azure] for the endpoint: a service principal whose secret is in ``secret_file`` (mode 0600)."""
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    return (
        "\n[azure]\n"
        'identity = "service-principal"\n'
        f'tenant = "{TENANT}"\n'
        f'client_id = "{CLIENT}"\n'
        f'client_secret_file = "{secret_file}"\n'
        f'authority = "{endpoint.base_url}"\n'
        f'endpoint = "{endpoint.base_url}"\n'
        f'ca_bundle = "{endpoint.ca_file}"\n'
        'lab_min_interval = "1s"\n'
    )


def local_azure(directory: Path) -> LocalAzure:
    endpoint = LocalAzure(
        tls_dir=directory / "tls",
        token=TOKEN,
        principals={(TENANT, CLIENT): SECRET},
        disk_dir=directory / "disks",
    )
    kept = directory / "kept"
    kept.mkdir(parents=True)
    endpoint.disks.keep_dropped = kept
    return endpoint


@dataclass
class Vm:
    """A VM of the endpoint with its managed disks (OS disk first)."""

    endpoint: LocalAzure
    name: str
    disks: list[ManagedDisk]

    @classmethod
    def create(cls, endpoint: LocalAzure, name: str, sizes: list[int]) -> Vm:
        endpoint.estate.vms.append(AzureVm("rg-dr", name))
        disks = [
            endpoint.disks.add_disk(f"{name}-disk{i}", size, vm=name, lun=None if i == 0 else i - 1)
            for i, size in enumerate(sizes)
        ]
        return cls(endpoint, name, disks)

    @property
    def resource_id(self) -> str:
        return f"{self._group}/providers/Microsoft.Compute/virtualMachines/{self.name}"

    @property
    def _group(self) -> str:
        return f"/subscriptions/{self.endpoint.estate.subscription_id}/resourceGroups/rg-dr"

    def disk_id(self, disk: ManagedDisk) -> str:
        assert disk.resource_group == "rg-dr"
        return f"{self._group}/providers/Microsoft.Compute/disks/{disk.name}"

    def source(
        self,
        lab: Lab,
        pair_id: str,
        disk: ManagedDisk,
        interval: float,
        consistency: pairs_pb2.PointConsistency = pairs_pb2.POINT_CONSISTENCY_INCREMENTAL_SNAPSHOTS,
    ) -> pairs_pb2.SourcePair:
        return pairs_pb2.SourcePair(
            pair_id=pair_id,
            generation=1,
            kind=pairs_pb2.SOURCE_KIND_AZURE_SNAPSHOTS,
            master_target_address=str(lab.mt.address),
            master_target_name=lab.mt.name,
            azure=pairs_pb2.AzureSnapshotSource(
                vm_resource_id=self.resource_id,
                disk_resource_id=self.disk_id(disk),
                interval_seconds=interval,
                consistency=consistency,
            ),
        )

    def snapshots(self) -> list[Image]:
        return [s for d in self.disks for s in self.endpoint.disks.snapshots_of(d)]


class Guest:
    """Writes random 4 KiB-aligned extents to the VM's disks from a thread, as the running guest would (random data:
    every block it writes differs from what was there)."""

    def __init__(self, disks: list[ManagedDisk], seed: int) -> None:
        self.disks = disks
        self.rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.writes = 0

    def scribble(self, count: int) -> None:
        for _ in range(count):
            disk = self.rng.choice(self.disks)
            blocks = self.rng.randint(1, 16)
            offset = self.rng.randrange(disk.size // BLOCK_SIZE - blocks) * BLOCK_SIZE
            disk.write(offset, self.rng.randbytes(blocks * BLOCK_SIZE))
            self.writes += 1

    def start(self) -> None:
        def run() -> None:
            while not self._stop.wait(0.05):
                self.scribble(2)

        self._thread = threading.Thread(target=run, name="guest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)


def image_file(endpoint: LocalAzure, point: str, disk: ManagedDisk) -> Path:
    """The content of ``disk`` at ``point`` (a bookmark id): the live image, or the file kept when it was deleted."""
    for image in endpoint.disks.all_images():
        if image.disk is disk and image.name.startswith(f"{point}-"):
            return image.path
    for collection in endpoint.disks.collections.values():
        for restore_point in collection.points.values():
            if restore_point.name == point:
                (image,) = [i for i in restore_point.disks if i.disk is disk]
                return image.path
    assert endpoint.disks.keep_dropped is not None
    kept = sorted(endpoint.disks.keep_dropped.glob(f"{disk.name}--{point}-*.img"))
    assert len(kept) == 1, f"no image of {disk.name} at {point}"
    return kept[0]


@dataclass
class ImageReads:
    """What the process server asked the blob service about one image."""

    image: Image
    data_bytes: int = 0
    lists: int = 0
    bases: set[str] = field(default_factory=set)  #: names of the images its changes were listed against


def reads_by_image(endpoint: LocalAzure) -> dict[str, ImageReads]:
    """From the endpoint's request record: ranged GETs and page lists per image (by image name)."""
    found: dict[str, ImageReads] = {}
    granted = endpoint.disks.granted
    for request in endpoint.requests:
        match = _BLOB_DATA.match(request.path)
        if request.method != "GET" or match is None or match["container"] not in granted:
            continue
        image = granted[match["container"]]
        reads = found.setdefault(image.name, ImageReads(image))
        headers = {k.lower(): v for k, v in request.headers.items()}
        if "comp" not in request.query:
            first, last = headers["x-ms-range"].removeprefix("bytes=").split("-")
            reads.data_bytes += int(last) - int(first) + 1
            continue
        reads.lists += 1
        previous = _PREVIOUS.match(headers.get("x-ms-previous-snapshot-url", ""))
        if previous is not None:
            reads.bases.add(granted[previous["container"]].name)
    return found


def differing_bytes(a: Path, b: Path, size: int) -> int:
    """Bytes of the 4 KiB blocks in which two images differ."""
    count = 0
    with open(a, "rb") as one, open(b, "rb") as two:
        for _ in range(size // BLOCK_SIZE):
            if one.read(BLOCK_SIZE) != two.read(BLOCK_SIZE):
                count += BLOCK_SIZE
    return count


def point_digests(lab: Lab, pair_id: str) -> dict[str, bytes]:
    """Every crash point of the pair on the master target, with the digest of its disk brought to that point."""
    found: dict[str, bytes] = {}
    with lab.channel(lab.mt) as channel:
        points = lab.points(channel)
        target = points_pb2.PointTarget(pair_id=pair_id)
        listed = points.ListPoints(points_pb2.ListPointsRequest(target=target), timeout=30).points
        for point in listed:
            if point.kind != points_pb2.POINT_KIND_CRASH:
                continue
            points.BringToPoint(
                points_pb2.BringToPointRequest(
                    target=points_pb2.PointTarget(pair_id=pair_id, generation=1),
                    selector=points_pb2.PointSelector(point_id=point.id),
                ),
                timeout=60,
            )
            member = points.GetDigest(target, timeout=60).members[0]
            assert member.point_id == point.id
            found[point.id] = member.digest
            points.CancelPoint(target, timeout=60)
    return found


def image_digest(path: Path, size: int) -> bytes:
    return disk_digest(str(path), size)


def restart(agent: AgentProcess, directory: Path) -> AgentProcess:
    """Start the agent again over the same configuration and state (a new run directory for its notify socket)."""
    runs = len(list(directory.glob(f"{agent.name}-run*")))
    args = ["serve", "--config", str(agent.config)]
    service = Service.start(agent.name, "agent", args, directory / f"{agent.name}-run{runs}")
    service.wait_ready()
    return AgentProcess(agent.name, Role(agent.role), agent.state_dir, agent.config, service)
