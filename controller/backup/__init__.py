"""Backing up the controller's whole state (database, CA, credential key) and restoring it elsewhere.

``export_state`` builds the archive in the controller (the ``Backup.Export`` RPC streams it); ``failbackctl``
encrypts it with the operator's passphrase (:func:`encrypt`) before it touches a disk. ``restore_state`` runs on
the new controller's host, with the controller stopped, into an empty state directory and database. Agents keep
working with the restored controller because they verify it by its identity name and CA, not its address.
"""

from controller.backup._archive import FILES, RestoreSummary, export_state, read_archive, restore_state
from controller.backup._crypto import decrypt, encrypt
from controller.backup.errors import BackupError, NotABackup, WrongPassphrase

__all__ = [
    "FILES",
    "BackupError",
    "NotABackup",
    "RestoreSummary",
    "WrongPassphrase",
    "decrypt",
    "encrypt",
    "export_state",
    "read_archive",
    "restore_state",
]
