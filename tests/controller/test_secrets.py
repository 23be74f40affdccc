"""Credentials at rest: AES-GCM under a 0600 key file, bound to their purpose, never shown."""

import json
import pickle
from pathlib import Path

import pytest

from controller.secrets import KEY_FILE, CannotOpen, KeyFileError, Secret, SecretBox

PASSWORD = Secret("Tr0ub4dor&3-vcenter")


def test_the_key_file_is_created_private_and_reloads_to_the_same_key(tmp_path: Path):
    path = tmp_path / KEY_FILE
    box = SecretBox.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    sealed = box.seal(PASSWORD, context="vcenter:vc1:password")
    assert SecretBox.load_or_create(path).open(sealed, context="vcenter:vc1:password") == PASSWORD


def test_a_sealed_secret_holds_no_plaintext_and_differs_every_time(tmp_path: Path):
    box = SecretBox.generate()
    first, second = (box.seal(PASSWORD, context="vcenter:vc1:password") for _ in range(2))
    assert first != second
    assert PASSWORD.reveal().encode() not in first


def test_a_blob_moved_to_another_purpose_does_not_open():
    box = SecretBox.generate()
    sealed = box.seal(PASSWORD, context="vcenter:vc1:password")
    with pytest.raises(CannotOpen, match="does not open"):
        box.open(sealed, context="vcenter:vc2:password")


def test_a_blob_sealed_under_another_key_says_so():
    sealed = SecretBox.generate().seal(PASSWORD, context="azure:v1:client-secret")
    with pytest.raises(CannotOpen, match="another credential key") as refused:
        SecretBox.generate().open(sealed, context="azure:v1:client-secret")
    assert "restore secrets.key" in (refused.value.remedy or "")


def test_a_tampered_blob_does_not_open():
    box = SecretBox.generate()
    sealed = bytearray(box.seal(PASSWORD, context="c"))
    sealed[-1] ^= 1
    with pytest.raises(CannotOpen):
        box.open(bytes(sealed), context="c")


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path):
    path = tmp_path / KEY_FILE
    SecretBox.load_or_create(path)
    path.chmod(0o640)
    with pytest.raises(KeyFileError, match="readable by others") as refused:
        SecretBox.load(path)
    assert refused.value.remedy == f"chmod 600 {path}"


def test_a_missing_key_file_says_how_to_get_it_back(tmp_path: Path):
    with pytest.raises(KeyFileError, match="is missing") as refused:
        SecretBox.load(tmp_path / KEY_FILE)
    assert "backup restore" in (refused.value.remedy or "")


def test_a_damaged_key_file_is_refused(tmp_path: Path):
    path = tmp_path / KEY_FILE
    path.write_text("failback-secrets-key-v1\nnot-base64!\n")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="not a failback credential key"):
        SecretBox.load(path)


def test_a_secret_never_shows_itself():
    shown = [repr(PASSWORD), str(PASSWORD), f"{PASSWORD}", f"{PASSWORD!r}"]
    assert all(PASSWORD.reveal() not in text for text in shown)
    with pytest.raises(TypeError):
        pickle.dumps(PASSWORD)
    with pytest.raises(TypeError):
        json.dumps({"password": PASSWORD})
