"""``failbackctl backup create FILE`` and ``backup restore FILE``: the controller's whole state, encrypted.

``create`` asks the controller for its state (database, CA, credential key) over mutual TLS and encrypts it with a
passphrase (``--passphrase-file``, ``--passphrase-stdin`` or a prompt, never an argument) before writing FILE
(mode 0600; an existing file is not overwritten). ``restore`` runs on the host of the new controller, which must be
stopped and have an empty state directory and database: it reads the new controller's configuration
(``--controller-config``), and the restored controller may listen on another address — agents follow it by its
identity name (point them at the new address with ``[controller] address`` in agent.toml, or DNS).

JSON:

* ``backup create``: ``{"file": str, "bytes": int, "controller": "HOST:PORT"}``;
* ``backup restore``: ``{"file": str, "controller_name": str, "created_at": RFC 3339, "schema_revision": str,
  "rows": {table: int}, "files": [str], "state_dir": str}``.
"""

from __future__ import annotations

import argparse
import fcntl
import os
from pathlib import Path

from controller.api.v1 import backup_pb2, backup_pb2_grpc
from controller.backup import decrypt, encrypt, restore_state
from controller.cli._client import UsageError, call, load_ctl_config
from controller.cli._output import add_output_argument, emit
from controller.cli._secret_input import add_secret_arguments, read_secret
from failback.errors import PermanentError
from failback.pki import write_private

__all__ = ["register"]

_EXPORT_TIMEOUT = 600.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = subparsers.add_parser("backup", help="back up or restore the controller's whole state")
    actions = backup.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="write an encrypted backup of the running controller")
    create.add_argument("file", type=Path)
    add_secret_arguments(create, "passphrase", "backup passphrase")
    add_output_argument(create)
    create.set_defaults(handler=_create)

    restore = actions.add_parser("restore", help="restore a backup into a new, stopped controller")
    restore.add_argument("file", type=Path)
    restore.add_argument(
        "--controller-config",
        type=Path,
        required=True,
        help="controller.toml of the controller to restore into (its state directory and database must be empty)",
    )
    add_secret_arguments(restore, "passphrase", "backup passphrase")
    add_output_argument(restore)
    restore.set_defaults(handler=_restore)


def _create(args: argparse.Namespace) -> int:
    path: Path = args.file
    if path.exists():
        raise UsageError(f"{path} already exists", remedy="choose a new file name; backups are never overwritten")
    passphrase = read_secret(args, "passphrase", "backup passphrase", confirm=True)
    config = load_ctl_config(args.config)

    def export(channel: object) -> bytes:
        chunks = backup_pb2_grpc.BackupStub(channel).Export(backup_pb2.ExportRequest(), timeout=_EXPORT_TIMEOUT)
        return b"".join(chunk.data for chunk in chunks)

    sealed = encrypt(call(config, export), passphrase)
    write_private(path, sealed)
    emit(
        args,
        {"file": str(path), "bytes": len(sealed), "controller": config.controller},
        ["FILE", "BYTES", "CONTROLLER"],
        [[str(path), len(sealed), config.controller]],
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from controller.service import load_config
    from controller.store import Database

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from exc
    passphrase = read_secret(args, "passphrase", "backup passphrase")
    archive = decrypt(data, passphrase)
    config = load_config(args.controller_config)
    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _stopped_controller(config.state_dir):
        database = Database.open(config.database_url, migrate=False)
        try:
            summary = restore_state(archive, database=database, state_dir=config.state_dir, controller_name=config.name)
        finally:
            database.close()
    document = {
        "file": str(args.file),
        "controller_name": summary.controller_name,
        "created_at": summary.created_at,
        "schema_revision": summary.schema_revision,
        "rows": summary.rows,
        "files": list(summary.files),
        "state_dir": str(config.state_dir),
    }
    emit(args, document, ["TABLE", "ROWS"], sorted(summary.rows.items()))
    return 0


class _stopped_controller:
    """Hold the controller's replica lock while restoring, so a running controller cannot be restored over."""

    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / "replica.lock"
        self._fd = -1

    def __enter__(self) -> None:
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise PermanentError(
                f"a controller is running with the state directory {self._path.parent}",
                remedy="stop it (systemctl stop failback-controller) before restoring",
            ) from None

    def __exit__(self, *_: object) -> None:
        os.close(self._fd)
