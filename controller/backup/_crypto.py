"""Encrypting a backup with a passphrase: scrypt derives the key, AES-256-GCM seals the archive.

File layout: ``b"FBBACKUP1\\n"`` | salt (16) | nonce (12) | ciphertext + tag. The header is authenticated too, so a
file cannot be relabelled. scrypt's cost (N=2^15, r=8) takes ~0.1 s and 32 MiB here: cheap for one restore,
expensive for guessing.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from controller.backup.errors import NotABackup, WrongPassphrase

__all__ = ["decrypt", "encrypt"]

MAGIC = b"FBBACKUP1\n"
_SALT = 16
_NONCE = 12
_MIN_PASSPHRASE = 8


def _key(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())


def encrypt(archive: bytes, passphrase: str) -> bytes:
    if len(passphrase) < _MIN_PASSPHRASE:
        raise WrongPassphrase(
            f"the passphrase is shorter than {_MIN_PASSPHRASE} characters",
            remedy="choose a longer one: the backup holds the CA key and every credential",
        )
    salt, nonce = os.urandom(_SALT), os.urandom(_NONCE)
    header = MAGIC + salt + nonce
    return header + AESGCM(_key(passphrase, salt)).encrypt(nonce, archive, header)


def decrypt(data: bytes, passphrase: str) -> bytes:
    if not data.startswith(MAGIC):
        raise NotABackup("this file is not a failback backup", remedy="give the file 'failbackctl backup create' wrote")
    salt = data[len(MAGIC) : len(MAGIC) + _SALT]
    nonce = data[len(MAGIC) + _SALT : len(MAGIC) + _SALT + _NONCE]
    header = data[: len(MAGIC) + _SALT + _NONCE]
    try:
        return AESGCM(_key(passphrase, salt)).decrypt(nonce, data[len(header) :], header)
    except (InvalidTag, ValueError) as exc:
        raise WrongPassphrase(
            "the backup does not open with this passphrase (or the file is damaged)",
            remedy="check the passphrase; nothing was changed",
        ) from exc
