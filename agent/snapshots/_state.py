"""The snapshot group's durable state: the points it has taken and, per pair, the cycles in flight and the last
acknowledged point. One JSON file per group, replaced atomically (write, fsync, rename, fsync the directory) through
the data path's I/O layer, so a crash leaves the old or the new file, never a mix.

What must hold after any crash: a cycle is recorded before any entry of it is yielded (so a cursor never points
into an unknown cycle), and a point is recorded before its cycle is. A point Azure created but this file never
recorded is an orphan: the group deletes it by its tag on start. SAS URLs are never stored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.journal import IO, OsIO, write_all
from agent.snapshots._azure import ImageRef
from agent.snapshots.errors import StateCorrupt

__all__ = ["CycleRecord", "GroupState", "PairRecord", "PointRecord"]

_FORMAT = 1


@dataclass
class PointRecord:
    """A point in time: ``images`` per pair, each taken at ``times[pair]`` (Azure's creation time, epoch seconds)
    from a disk of ``sizes[pair]`` bytes; ``restore_point`` is (resource group, collection, name) for a VM restore
    point (None for per-disk snapshots). ``taken_at`` is this host's clock when the point was asked for (the schedule
    counts from it)."""

    seq: int
    name: str
    taken_at: float
    consistency: str
    images: dict[str, ImageRef]
    times: dict[str, float]
    sizes: dict[str, int]
    restore_point: tuple[str, str, str] | None = None


@dataclass
class CycleRecord:
    """A pair's cycle: it brings the target from point ``base`` (None: unknown content) to point ``point``.
    ``done``: its bookmark is in the backlog (the sender resumed after it), so any later acknowledgement covers it."""

    point: int
    base: int | None
    mode: str
    done: bool = False


@dataclass
class PairRecord:
    """A pair's cycles from the last acknowledged one on; the acknowledged point, its image's time and when the
    acknowledgement came; the worst RPO seen (the age of the acknowledged point just before the next one landed)."""

    cycles: dict[int, CycleRecord] = field(default_factory=dict)
    acked_cycle: int = 0
    acked_point: int | None = None
    acked_image_time: float | None = None
    acked_at: float | None = None
    worst_rpo: float | None = None

    @property
    def last_cycle(self) -> int:
        return max(self.cycles, default=self.acked_cycle)


class GroupState:
    """The state of group ``group`` in ``path`` (created empty when absent)."""

    def __init__(self, path: str | os.PathLike[str], group: str, *, io: IO | None = None) -> None:
        self.path = Path(path)
        self.group = group
        self._io = io or OsIO()
        self.next_seq = 1
        self.points: dict[int, PointRecord] = {}
        self.pairs: dict[str, PairRecord] = {}
        #: (kind, name) of images a failed point may have left in Azure: "snapshot" or "restore-point" names in the
        #: group's resource group (and collection); deleted as soon as Azure lets us.
        self.doomed: list[tuple[str, str]] = []
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        try:
            self._load(json.loads(raw))
        except (ValueError, KeyError, TypeError) as exc:
            raise StateCorrupt(
                f"snapshot state {self.path} is damaged: {exc}",
                remedy="move the file aside; the group then deletes its snapshots by tag and resyncs every pair",
            ) from exc

    def pair(self, pair: str) -> PairRecord:
        return self.pairs.setdefault(pair, PairRecord())

    def _load(self, data: dict[str, Any]) -> None:
        if data.get("format") != _FORMAT:
            raise ValueError(f"format {data.get('format')!r} is not {_FORMAT}")
        if data.get("group") != self.group:
            raise StateCorrupt(
                f"snapshot state {self.path} belongs to group {data.get('group')!r}, not {self.group!r}",
                remedy="give every group its own state directory",
            )
        self.next_seq = int(data["next_seq"])
        self.doomed = [(str(kind), str(name)) for kind, name in data["doomed"]]
        for seq, point in data["points"].items():
            rp = point["restore_point"]
            self.points[int(seq)] = PointRecord(
                int(seq),
                str(point["name"]),
                float(point["taken_at"]),
                str(point["consistency"]),
                {str(p): ImageRef.from_json(i) for p, i in point["images"].items()},
                {str(p): float(t) for p, t in point["times"].items()},
                {str(p): int(n) for p, n in point["sizes"].items()},
                (str(rp[0]), str(rp[1]), str(rp[2])) if rp else None,
            )
        for name, pair in data["pairs"].items():
            self.pairs[str(name)] = PairRecord(
                {
                    int(c): CycleRecord(
                        int(r["point"]), None if r["base"] is None else int(r["base"]), str(r["mode"]), bool(r["done"])
                    )
                    for c, r in pair["cycles"].items()
                },
                int(pair["acked_cycle"]),
                None if pair["acked_point"] is None else int(pair["acked_point"]),
                None if pair["acked_image_time"] is None else float(pair["acked_image_time"]),
                None if pair["acked_at"] is None else float(pair["acked_at"]),
                None if pair["worst_rpo"] is None else float(pair["worst_rpo"]),
            )

    def _dump(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "group": self.group,
            "next_seq": self.next_seq,
            "doomed": [list(d) for d in self.doomed],
            "points": {
                str(seq): {
                    "name": p.name,
                    "taken_at": p.taken_at,
                    "consistency": p.consistency,
                    "images": {pair: image.to_json() for pair, image in p.images.items()},
                    "times": dict(p.times),
                    "sizes": dict(p.sizes),
                    "restore_point": list(p.restore_point) if p.restore_point else None,
                }
                for seq, p in sorted(self.points.items())
            },
            "pairs": {
                name: {
                    "cycles": {
                        str(c): {"point": r.point, "base": r.base, "mode": r.mode, "done": r.done}
                        for c, r in sorted(p.cycles.items())
                    },
                    "acked_cycle": p.acked_cycle,
                    "acked_point": p.acked_point,
                    "acked_image_time": p.acked_image_time,
                    "acked_at": p.acked_at,
                    "worst_rpo": p.worst_rpo,
                }
                for name, p in sorted(self.pairs.items())
            },
        }

    def save(self) -> None:
        """Replace the file atomically and durably."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self._dump(), indent=1).encode()
        tmp = str(self.path) + ".tmp"
        handle = self._io.open(tmp, create=True, truncate=True)
        try:
            write_all(self._io, handle, data, 0)
            self._io.fsync(handle)
        finally:
            self._io.close(handle)
        self._io.rename(tmp, str(self.path))
        self._io.fsync_dir(str(self.path.parent))
