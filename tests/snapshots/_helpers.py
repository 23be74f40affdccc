"""Shared pieces of the snapshot tests: a simulated clock the endpoint and the product share, a guest that writes to
a lab disk and remembers what it touched (the oracle), and a replica that runs a pair end to end through the data
path (PairSender, backlog, encoder) into the dataplane test receiver."""

from __future__ import annotations

import datetime
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

from azure.core.credentials import AccessToken

from agent.dataplane import (
    BLOCK_SIZE,
    Backlog,
    BatchEncoder,
    BlockWrite,
    Bookmark,
    BookmarkKind,
    ChangeSource,
    EncodedBatch,
    InflightWindow,
    PairSender,
    ProgressRecorder,
    disk_digest,
)
from agent.snapshots import AzureConfig
from failback.retry import Policy
from lab.azure import LocalAzure
from lab.azure._disks import Image, ManagedDisk
from tests.dataplane._helpers import FileReceiver

TOKEN = "snapshot-test-token"
PAGE = 512


class StaticToken:
    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        del scopes, kwargs
        return AccessToken(TOKEN, int(time.time()) + 3600)


class SimClock:
    """Wall-clock seconds that move only when the test (or a retry's sleep) moves them."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def utc(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.now, datetime.UTC)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def azure_config(lab: LocalAzure, clock: SimClock, *, retry_total: int = 0, deadline: float = 120.0) -> AzureConfig:
    return AzureConfig(
        base_url=lab.base_url,
        connection_verify=lab.ca_file,
        polling_interval=0,
        retry_total=retry_total,
        retry_backoff_factor=0.01,
        call_policy=Policy(deadline=deadline, initial=0.01, maximum=1.0, sleep=clock.sleep, clock=clock),
    )


class Guest:
    """Writes to ``disk`` as a guest OS would and remembers each 512-byte page's last operation since
    :meth:`mark` ("w" written, "c" cleared): what Azure must report between two snapshots."""

    def __init__(self, disk: ManagedDisk, seed: int) -> None:
        self.disk = disk
        self.rng = random.Random(seed)
        self.pages: dict[int, str] = {}

    def write(self, offset: int, length: int) -> None:
        self.disk.write(offset, self.rng.randbytes(length))
        for page in range(offset // PAGE, (offset + length) // PAGE):
            self.pages[page] = "w"

    def trim(self, offset: int, length: int) -> None:
        self.disk.trim(offset, length)
        for page in range(offset // PAGE, (offset + length) // PAGE):
            self.pages[page] = "c"

    def scribble(self, count: int, *, align: int = PAGE, max_bytes: int = 64 << 10, trims: float = 0.0) -> None:
        """``count`` random writes (a ``trims`` fraction of them TRIMs) of ``align``-aligned extents."""
        for _ in range(count):
            length = self.rng.randint(1, max_bytes // align) * align
            offset = self.rng.randrange(0, (self.disk.size - length) // align + 1) * align
            if self.rng.random() < trims:
                self.trim(offset, length)
            else:
                self.write(offset, length)

    def mark(self) -> dict[int, str]:
        """The pages touched since the last mark, and start a new period."""
        pages, self.pages = self.pages, {}
        return pages


def expected_blocks(pages: dict[int, str]) -> tuple[set[int], set[int]]:
    """From page states, the 4 KiB blocks a cycle must read and those it may send as zeros without reading:
    a block is read when a page of it was written, or only some of its pages were cleared."""
    per_block = BLOCK_SIZE // PAGE
    touched: dict[int, list[str]] = {}
    for page, state in pages.items():
        touched.setdefault(page // per_block, []).append(state)
    read = {b for b, states in touched.items() if "w" in states or len(states) < per_block}
    return read, set(touched) - read


def blocks_of(entries: list[BlockWrite]) -> set[int]:
    return {o // BLOCK_SIZE for e in entries for o in range(e.offset, e.offset + e.length, BLOCK_SIZE)}


def image_for(lab: LocalAzure, bookmark: Bookmark, disk: ManagedDisk) -> Image:
    """The lab image behind ``bookmark`` (the point's image of ``disk``)."""
    found = [i for i in lab.disks.all_images() if i.disk is disk and i.name.startswith(bookmark.id)]
    found += [
        i
        for c in lab.disks.collections.values()
        for p in c.points.values()
        if p.name == bookmark.id
        for i in p.disks
        if i.disk is disk
    ]
    assert found, f"no lab image for bookmark {bookmark.id}"
    return found[0]


class Replica:
    """One pair end to end: source -> PairSender (backlog, encoder, window) -> FileReceiver on ``target``.

    Every batch is delivered and (unless ``ack`` is false) acknowledged at once; at every point bookmark the
    target's digest is compared with the lab's image of that point (``verified`` lists the bookmarks that matched)."""

    def __init__(
        self,
        tmp: Path,
        source: ChangeSource,
        *,
        pair: str,
        size: int,
        lab: LocalAzure,
        disk: ManagedDisk,
        on_acknowledged: Callable[[int], None],
        target: Path | None = None,
        ack: bool = True,
    ) -> None:
        self.ack = ack
        self.lab = lab
        self.disk = disk
        self.target = target or tmp / f"target-{pair}"
        if not self.target.exists():
            with open(self.target, "wb") as handle:
                handle.truncate(size)
        self.size = size
        self.receiver = FileReceiver(self.target, size)
        self.backlog = Backlog(tmp / f"backlog-{pair}", pair=pair, generation=1, segment_bytes=1 << 20)
        self.encoder = BatchEncoder(threads=2)
        self.sender = PairSender(
            pair,
            source=source,
            backlog=self.backlog,
            encoder=self.encoder,
            window=InflightWindow(max_bytes=64 << 20, max_batches=256),
            progress=ProgressRecorder(pair, 1),
            on_acknowledged=on_acknowledged,
            timeout=30.0,
        )
        self.verified: list[Bookmark] = []
        self.blocks: list[list[BlockWrite]] = [[]]
        self.on_batch: Callable[[int], None] | None = None
        self.sender.connect(self.receiver.watermark, self)

    def send(self, batch: EncodedBatch) -> None:
        before = len(self.receiver.batches)
        self.receiver.receive(batch)
        for decoded in self.receiver.batches[before:]:
            for entry in decoded.entries:
                if isinstance(entry, BlockWrite):
                    self.blocks[-1].append(BlockWrite(entry.offset, bytes(entry.data), entry.digest))
                elif entry.kind in (BookmarkKind.CRASH, BookmarkKind.APP):
                    image = image_for(self.lab, entry, self.disk)
                    assert disk_digest(self.target, self.size) == disk_digest(image.path, self.size), entry.id
                    self.verified.append(entry)
                    self.blocks.append([])
        if self.ack:
            self.sender.acknowledge(self.receiver.watermark)
        if self.on_batch is not None:
            self.on_batch(len(self.receiver.batches))

    def pump(self) -> int:
        return self.sender.pump(self)

    def close(self) -> None:
        self.encoder.close()
        self.backlog.close()


class DurablePair:
    """Pair ``p1`` whose receiver survives its process: the target file, and the receiver's watermark in a file
    replaced atomically after every batch, under ``work``; the backlog and the source's state are durable too.
    :meth:`send` delivers and acknowledges; ``bookmarks`` are the point bookmarks received by this process."""

    def __init__(self, work: Path, source: ChangeSource, size: int, *, on_acknowledged: Callable[[int], None]) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.target = work / "target"
        if not self.target.exists():
            with open(self.target, "wb") as handle:
                handle.truncate(size)
        self._mark = work / "watermark"
        self.receiver = FileReceiver(self.target, size)
        self.receiver.watermark = int(self._mark.read_text()) if self._mark.exists() else 0
        self.backlog = Backlog(work / "backlog", pair="p1", generation=1, segment_bytes=1 << 20)
        self.encoder = BatchEncoder(threads=1)
        self.bookmarks: list[Bookmark] = []
        self.sender = PairSender(
            "p1",
            source=source,
            backlog=self.backlog,
            encoder=self.encoder,
            window=InflightWindow(max_bytes=64 << 20, max_batches=256),
            progress=ProgressRecorder("p1", 1),
            on_acknowledged=on_acknowledged,
            batch_bytes=256 << 10,
            timeout=30.0,
        )
        self.sender.connect(self.receiver.watermark, self)

    def deliver(self, batch: EncodedBatch) -> None:
        before = len(self.receiver.batches)
        self.receiver.receive(batch)
        tmp = self._mark.with_suffix(".tmp")
        with open(tmp, "w") as handle:
            handle.write(str(self.receiver.watermark))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._mark)
        for decoded in self.receiver.batches[before:]:
            self.bookmarks += [
                e
                for e in decoded.entries
                if isinstance(e, Bookmark) and e.kind in (BookmarkKind.CRASH, BookmarkKind.APP)
            ]

    def send(self, batch: EncodedBatch) -> None:
        self.deliver(batch)
        self.sender.acknowledge(self.receiver.watermark)

    def pump(self) -> int:
        return self.sender.pump(self)

    def close(self) -> None:
        self.encoder.close()
        self.backlog.close()
