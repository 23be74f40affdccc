"""Sealing credentials at rest with AES-256-GCM under a key file that only the controller can read.

The key lives in ``<state_dir>/secrets.key`` (mode 0600 from creation, refused if group or others can read it); the
database holds only sealed blobs. Each blob is bound to what it is for (``context``, e.g. ``vcenter:vc1:password``)
as associated data, so a blob copied onto another row does not open. Blob layout::

    b"fb1" | key id (4 bytes) | nonce (12 bytes) | ciphertext + tag

The key id (the first bytes of SHA-256 of the key) lets an error say "sealed with another key" instead of
"damaged": that is what an operator sees after restoring a database without its key file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from controller.secrets.errors import CannotOpen, KeyFileError
from failback.pki import write_private
from failback.secret import Secret

__all__ = ["KEY_FILE", "SecretBox"]

KEY_FILE = "secrets.key"
_MAGIC = b"fb1"
_HEADER = "failback-secrets-key-v1"
_NONCE = 12
_KEY_ID = 4


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise KeyFileError("a credential key is 32 bytes")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).digest()[:_KEY_ID]

    @classmethod
    def generate(cls) -> SecretBox:
        return cls(AESGCM.generate_key(bit_length=256))

    @classmethod
    def load_or_create(cls, path: Path) -> SecretBox:
        """Load the key file, creating it (0600) on first use."""
        if not path.exists():
            key = AESGCM.generate_key(bit_length=256)
            write_private(path, cls.encode_key(key))
            return cls(key)
        return cls.load(path)

    @classmethod
    def load(cls, path: Path) -> SecretBox:
        try:
            mode = path.stat().st_mode & 0o777
            text = path.read_text()
        except FileNotFoundError as exc:
            raise KeyFileError(
                f"{path} is missing: the stored credentials cannot be opened",
                remedy="restore it from the controller backup ('failbackctl backup restore'), or add the vCenters "
                "and vaults again",
            ) from exc
        except OSError as exc:
            raise KeyFileError(
                f"cannot read {path}: {exc.strerror}", remedy="run the controller as its own user"
            ) from exc
        if mode & 0o077:
            raise KeyFileError(f"{path} is readable by others (mode {mode:o})", remedy=f"chmod 600 {path}")
        return cls(cls.decode_key(text, path))

    @staticmethod
    def encode_key(key: bytes) -> bytes:
        return f"{_HEADER}\n{base64.b64encode(key).decode()}\n".encode()

    @staticmethod
    def decode_key(text: str, source: Path | str) -> bytes:
        lines = text.split()
        damaged = KeyFileError(f"{source} is not a failback credential key", remedy="restore it from the backup")
        if len(lines) != 2 or lines[0] != _HEADER:
            raise damaged
        try:
            key = base64.b64decode(lines[1], validate=True)
        except (ValueError, binascii.Error) as exc:
            raise damaged from exc
        if len(key) != 32:
            raise damaged
        return key

    def seal(self, secret: Secret, *, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return _MAGIC + self.key_id + nonce + self._aead.encrypt(nonce, secret.reveal().encode(), context.encode())

    def open(self, blob: bytes, *, context: str) -> Secret:
        header = len(_MAGIC) + _KEY_ID
        if len(blob) < header + _NONCE + 16 or not blob.startswith(_MAGIC):
            raise CannotOpen(f"the sealed {context} is damaged", remedy="register the credential again")
        if blob[len(_MAGIC) : header] != self.key_id:
            raise CannotOpen(
                f"the {context} was sealed with another credential key",
                remedy="restore secrets.key from the same backup as the database, or register the credential again",
            )
        nonce = blob[header : header + _NONCE]
        try:
            plain = self._aead.decrypt(nonce, blob[header + _NONCE :], context.encode())
        except InvalidTag as exc:
            raise CannotOpen(f"the sealed {context} does not open", remedy="register the credential again") from exc
        return Secret(plain.decode())
