"""Value types of the engine's contract with the receive path and with operators (points, selectors, health)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "BLOCK_SIZE",
    "AtTime",
    "Batch",
    "BlockWrite",
    "Bookmark",
    "BookmarkKind",
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

BLOCK_SIZE = 4096


class BookmarkKind(enum.Enum):
    """What a bookmark in the stream says about the state after every entry before it."""

    CRASH = "crash"  # crash-consistent (the sender's write order is preserved up to here)
    APP = "app"  # application-consistent (VSS / fsfreeze on the source); ``tag`` names it
    RESYNC_START = "resync-start"  # the disk is inconsistent from here until RESYNC_COMPLETE
    RESYNC_COMPLETE = "resync-complete"  # the resync finished: the disk equals the source at this point


class PointKind(enum.Enum):
    CRASH = "crash"
    APP = "app"
    RESYNC_COMPLETE = "resync-complete"


@dataclass(frozen=True, slots=True)
class BlockWrite:
    """New content for ``len(data) // 4096`` blocks from byte ``offset``; ``digest`` is blake3-256 of ``data``."""

    offset: int
    data: bytes | memoryview
    digest: bytes


@dataclass(frozen=True, slots=True)
class Bookmark:
    """A named state of the source disk: the state after every entry that precedes it in the stream."""

    id: str
    kind: BookmarkKind
    tag: str | None = None
    group: str | None = None
    source_time: float | None = None  # the source's clock; None: the master target's clock at arrival


@dataclass(frozen=True, slots=True)
class Batch:
    """One unit of acknowledgement: ``seq`` counts from 1 per (pair, generation); entries are in write order."""

    generation: int
    seq: int
    entries: Sequence[BlockWrite | Bookmark]


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
