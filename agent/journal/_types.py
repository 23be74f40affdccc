"""Value types: the block model every layer shares (the stream, the data path, this engine), and the engine's
contract with operators (points, selectors, health).

The block model lives here, in the lowest layer that uses it (proto -> servicer -> dataplane -> journal -> target),
so there is one definition: ``agent.dataplane`` re-exports it."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

__all__ = [
    "BLOCK_SIZE",
    "AtTime",
    "Batch",
    "BlockWrite",
    "Bookmark",
    "BookmarkKind",
    "Entry",
    "Health",
    "HealthState",
    "Latest",
    "LatestApp",
    "LatestGroup",
    "PairSpec",
    "PairState",
    "PointId",
    "PointKind",
    "PointSelector",
    "RecoveryPoint",
]

#: Offsets and lengths on the wire, in the journal and on the target are multiples of this.
BLOCK_SIZE = 4096


class BookmarkKind(enum.IntEnum):
    """What a bookmark in the stream says about the state after every entry before it.

    The numbers are stored (backlog, change log) and sent (the stream's protobuf enum mirrors them): never renumber.
    """

    CRASH = 1  # crash-consistent (the sender's write order is preserved up to here)
    APP = 2  # application-consistent (VSS / fsfreeze on the source); ``tag`` names the provider
    RESYNC_COMPLETE = 3  # a resync pass finished: the disk equals the source at this point
    RESYNC_START = 4  # the disk is inconsistent from here until RESYNC_COMPLETE


class PointKind(enum.Enum):
    CRASH = "crash"
    APP = "app"
    RESYNC_COMPLETE = "resync-complete"


@dataclass(frozen=True, slots=True)
class BlockWrite:
    """New content for ``len(data) // 4096`` blocks from byte ``offset``; ``digest`` is blake3-256 of ``data``.

    A plain value: constructing one validates nothing (the hot path builds hundreds of thousands per second). What
    arrives from a peer is checked by ``agent.dataplane.decode_batch`` before it becomes one of these."""

    offset: int
    data: bytes | memoryview
    digest: bytes

    @property
    def length(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class Bookmark:
    """A named state of the source disk: the state after every entry that precedes it in the stream. ``group``
    names a multi-disk consistency group; ``source_time`` is the source's wall clock (seconds since the epoch) when
    it was taken, None for the master target's clock at arrival."""

    id: str
    kind: BookmarkKind
    tag: str | None = None
    group: str | None = None
    source_time: float | None = None


Entry: TypeAlias = BlockWrite | Bookmark


@dataclass(frozen=True, slots=True)
class Batch:
    """One unit of acknowledgement: ``seq`` counts from 1 per (pair, generation); entries are in write order."""

    generation: int
    seq: int
    entries: Sequence[Entry]


@dataclass(frozen=True, slots=True)
class PairSpec:
    """Identity of a replication pair. A new generation (after reprotect) starts a new journal."""

    pair_id: str
    generation: int
    disk_size: int


@dataclass(frozen=True, slots=True)
class RecoveryPoint:
    """A state the target disk can be brought to.

    ``time`` is the source's bookmark time (engine points: the master target's clock when the batch arrived);
    ``history_bytes`` is the retention space behind the point (undo written after it), i.e. what bringing the disk
    to it must read. ``pending`` is true while the point's batch is durable in the journal but not yet applied.
    """

    id: str
    kind: PointKind
    time: float
    seq: int
    tag: str | None = None
    group: str | None = None
    history_bytes: int = 0
    pending: bool = False


class PairState(enum.Enum):
    REPLICATING = "replicating"  # appends accepted, target kept at latest
    AT_POINT = "at-point"  # target held at a chosen point (failover); cancel() or commit()
    COMMITTED = "committed"  # failover committed: this generation is closed


class HealthState(enum.Enum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Health:
    state: HealthState
    reasons: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Latest:
    """Everything acknowledged: the end of the last durable batch (refused inside a resync window)."""


@dataclass(frozen=True, slots=True)
class LatestApp:
    """The newest application-consistent point."""


@dataclass(frozen=True, slots=True)
class LatestGroup:
    """The newest point of consistency group ``group`` that every member pair holds (resolved by the registry)."""

    group: str


@dataclass(frozen=True, slots=True)
class PointId:
    id: str


@dataclass(frozen=True, slots=True)
class AtTime:
    """The newest point whose time is at or before ``time``."""

    time: float


PointSelector = Latest | LatestApp | LatestGroup | PointId | AtTime
