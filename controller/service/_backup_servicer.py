"""``failback.controller.v1.Backup``: the state archive, streamed to an operator (who encrypts it)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import grpc

from controller.api.v1 import backup_pb2, backup_pb2_grpc
from controller.backup import export_state
from controller.service._status import abort
from controller.store import Database
from failback.errors import FailbackError
from failback.serving import peer_identity

__all__ = ["BackupServicer"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


class BackupServicer(backup_pb2_grpc.BackupServicer):
    def __init__(self, database: Database, state_dir: Path, *, controller_name: str) -> None:
        self._database = database
        self._state_dir = state_dir
        self._controller_name = controller_name

    def Export(
        self, request: backup_pb2.ExportRequest, context: grpc.ServicerContext
    ) -> Iterator[backup_pb2.BackupChunk]:
        try:
            archive = export_state(self._database, self._state_dir, controller_name=self._controller_name)
        except FailbackError as exc:
            abort(context, exc)
        log.warning("%s exported a backup of the controller's state (%d bytes)", peer_identity(context), len(archive))
        for offset in range(0, len(archive), _CHUNK):
            yield backup_pb2.BackupChunk(data=archive[offset : offset + _CHUNK])
