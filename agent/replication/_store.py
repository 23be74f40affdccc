"""The agent's pair records: one JSON file per pair in ``<state_dir>/pairs/``, written atomically.

Each record is written to a temporary file, fsynced, renamed over the old one and the directory fsynced, through the
shared durable-write layer (agent.journal.IO), so a crash leaves either the old record or the new one, never a mix.
A record names its role, so a master target never starts a process server's pair by mistake.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from agent.journal import IO, OsIO, ensure_directory, write_all
from agent.replication._specs import PAIR_ID

__all__ = ["PairStore"]

log = logging.getLogger(__name__)

_FORMAT = 1


class PairStore:
    """Records of ``role`` pairs under ``directory``. Not thread safe: the registry serialises changes."""

    def __init__(self, directory: str | os.PathLike[str], role: str, *, io: IO | None = None) -> None:
        self.directory = os.fspath(directory)
        self._role = role
        self._io = io or OsIO()
        ensure_directory(self._io, self.directory)

    def _path(self, pair_id: str) -> str:
        return os.path.join(self.directory, f"{pair_id}.json")

    def save(self, pair_id: str, record: dict[str, Any]) -> None:
        """Replace the record of ``pair_id`` atomically and durably."""
        path = self._path(pair_id)
        tmp = path + ".tmp"
        body = json.dumps({"format": _FORMAT, "role": self._role, **record}, sort_keys=True).encode()
        handle = self._io.open(tmp, create=True, truncate=True)
        try:
            write_all(self._io, handle, body, 0)
            self._io.fsync(handle)
        finally:
            self._io.close(handle)
        self._io.rename(tmp, path)
        self._io.fsync_dir(self.directory)

    def delete(self, pair_id: str) -> None:
        path = self._path(pair_id)
        if self._io.exists(path):
            self._io.unlink(path)
            self._io.fsync_dir(self.directory)

    def load(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Every record of this role by pair id, and a problem per file that could not be read."""
        records: dict[str, dict[str, Any]] = {}
        problems: list[str] = []
        for name in sorted(os.listdir(self.directory)):
            pair_id, ext = os.path.splitext(name)
            if ext != ".json" or PAIR_ID.fullmatch(pair_id) is None:
                continue
            path = os.path.join(self.directory, name)
            try:
                with open(path, encoding="utf-8") as handle:
                    record = json.load(handle)
            except (OSError, ValueError) as exc:
                problems.append(f"pair record {path} cannot be read: {exc}")
                continue
            if not isinstance(record, dict) or record.get("format") != _FORMAT:
                problems.append(f"pair record {path} is not a format {_FORMAT} record")
                continue
            if record.get("role") != self._role:
                problems.append(f"pair record {path} belongs to a {record.get('role')}, not a {self._role}")
                continue
            records[pair_id] = record
        return records, problems
