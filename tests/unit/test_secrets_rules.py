"""poolimport.core.secrets.box: the key file and what each way of getting it wrong says."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from poolimport.core.secrets.box import SecretBox, SecretError, ensure_key_file


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_key_file_is_created_with_its_folders_and_holds_a_key(tmp_path: Path) -> None:
    key = tmp_path / "deep" / "er" / "secret.key"
    assert ensure_key_file(key) is True
    assert mode(key) == 0o600
    assert len(key.read_bytes()) == 44  # a url-safe base64 Fernet key
    assert SecretBox(key).decrypt(SecretBox(key).encrypt("x")) == "x"


def test_an_existing_key_file_is_kept_and_made_private_again(tmp_path: Path) -> None:
    key = tmp_path / "secret.key"
    ensure_key_file(key)
    before = key.read_bytes()
    key.chmod(0o644)
    assert ensure_key_file(key) is False
    assert (key.read_bytes(), mode(key)) == (before, 0o600)


def test_a_password_outside_ascii_round_trips(tmp_path: Path) -> None:
    key = tmp_path / "secret.key"
    ensure_key_file(key)
    box = SecretBox(key)
    assert box.decrypt(box.encrypt("pä$$wörd ✓")) == "pä$$wörd ✓"


def test_a_missing_key_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(SecretError) as missing:
        SecretBox(tmp_path / "nope.key")
    assert str(missing.value) == f"key file {tmp_path / 'nope.key'} is missing: run `poolimport init`"


def test_an_unreadable_key_file_says_why(tmp_path: Path) -> None:
    with pytest.raises(SecretError) as unreadable:
        SecretBox(tmp_path)  # a folder: reading it fails with EISDIR
    assert str(unreadable.value) == f"cannot read key file {tmp_path}: Is a directory"


def test_a_key_file_without_a_valid_key_says_so(tmp_path: Path) -> None:
    key = tmp_path / "secret.key"
    key.write_bytes(b"not a fernet key\n")
    with pytest.raises(SecretError) as invalid:
        SecretBox(key)
    assert str(invalid.value) == f"key file {key} does not hold a valid key"


def test_a_key_with_surrounding_whitespace_is_still_the_key(tmp_path: Path) -> None:
    key = tmp_path / "secret.key"
    ensure_key_file(key)
    token = SecretBox(key).encrypt("hunter2")
    key.write_bytes(b"  " + key.read_bytes() + b"\n\n")
    assert SecretBox(key).decrypt(token) == "hunter2"


def test_a_password_from_another_key_is_refused_in_one_sentence(tmp_path: Path) -> None:
    first, second = tmp_path / "a.key", tmp_path / "b.key"
    ensure_key_file(first)
    ensure_key_file(second)
    with pytest.raises(SecretError) as refused:
        SecretBox(second).decrypt(SecretBox(first).encrypt("hunter2"))
    assert str(refused.value) == "stored router password cannot be decrypted with this key file"
