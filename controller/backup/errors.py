"""Errors of backing up and restoring the controller.

::

    BackupError (PermanentError)
    ├── WrongPassphrase     the file does not open with this passphrase (or was damaged)
    ├── NotABackup          the file is not a failback backup, or of a format this version cannot read
    └── RestoreRefused      (from controller.store) the target already holds a controller, or another name
"""

from __future__ import annotations

from failback.errors import PermanentError

__all__ = ["BackupError", "NotABackup", "WrongPassphrase"]


class BackupError(PermanentError):
    pass


class WrongPassphrase(BackupError):
    pass


class NotABackup(BackupError):
    pass
