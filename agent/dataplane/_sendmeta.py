"""``meta.json`` of a process server's per-pair send state (the backlog's and the send index's directory): which pair
and generation the directory belongs to, and the change-log cursor its first batch starts from. Written once, durably
(temporary file, fsync, rename, fsync of the directory), and checked at every open so that one pair's state is never
read as another's."""

from __future__ import annotations

import json
import os

from agent.dataplane.errors import BacklogCorrupt, BacklogMismatch
from agent.journal import IO, write_all

__all__ = ["META", "open_send_meta"]

META = "meta.json"


def open_send_meta(io: IO, directory: str, what: str, pair: str, generation: int, initial_cursor: int) -> int:
    """Create or check ``directory``'s meta.json (``what`` names the state in errors, e.g. "backlog"); returns the
    initial cursor it records."""
    path = os.path.join(directory, META)
    try:
        with open(path, encoding="utf-8") as handle:
            meta: dict[str, object] = json.load(handle)
    except FileNotFoundError:
        meta = {"format": 1, "pair": pair, "generation": generation, "initial_cursor": initial_cursor}
        tmp = path + ".tmp"
        out = io.open(tmp, create=True, truncate=True)
        try:
            write_all(io, out, json.dumps(meta).encode(), 0)
            io.fsync(out)
        finally:
            io.close(out)
        io.rename(tmp, path)
        io.fsync_dir(directory)
        return initial_cursor
    if meta.get("pair") != pair or meta.get("generation") != generation:
        raise BacklogMismatch(
            f"{what} {directory} belongs to pair {meta.get('pair')!r} generation {meta.get('generation')!r}, "
            f"not {pair!r} generation {generation}",
            remedy="use a directory per pair and generation",
        )
    recorded = meta.get("initial_cursor")
    if not isinstance(recorded, int):
        raise BacklogCorrupt(f"{what} {directory}: meta.json has no initial cursor")
    return recorded
