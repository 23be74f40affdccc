"""Credentials at rest: sealed with AES-256-GCM under ``<state_dir>/secrets.key`` (0600); only blobs reach SQL.

This package must never log, print or return a plaintext credential except through :meth:`Secret.reveal`, which
only adapters call at the moment they connect.
"""

from controller.secrets._box import KEY_FILE, SecretBox
from controller.secrets.errors import CannotOpen, KeyFileError, SecretsError
from failback.secret import Secret

__all__ = ["KEY_FILE", "CannotOpen", "KeyFileError", "Secret", "SecretBox", "SecretsError"]
