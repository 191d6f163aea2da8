"""The queue signing key follows the key file: replaced (`key rotate`), written over (a copy from another
host) or gone, the next signature uses what the file holds then, never the key read before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from poolimport.core.secrets.box import SecretError, ensure_key_file, replace_key
from poolimport.core.secrets.signing import SigningKey, queue_signing_key


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.key"
    ensure_key_file(path)
    return path


def test_a_key_replaced_by_a_rotation_is_read_again(key_file: Path) -> None:
    signing = SigningKey(key_file)
    before = signing.current()
    replace_key(key_file)  # what `key rotate` does to the files
    assert signing.current() == queue_signing_key(key_file) != before


def test_a_copy_written_over_the_key_file_is_read_again(key_file: Path) -> None:
    signing = SigningKey(key_file)
    before = signing.current()
    with key_file.open("r+b") as handle:  # same inode and size: what `cp new.key secret.key` leaves
        handle.write(Fernet.generate_key())
    assert signing.current() == queue_signing_key(key_file) != before


def test_without_the_key_file_no_key_is_used(key_file: Path) -> None:
    signing = SigningKey(key_file)
    signing.current()
    os.unlink(key_file)
    with pytest.raises(SecretError, match="is missing"):
        signing.current()


def test_an_unchanged_key_file_gives_the_same_key(key_file: Path) -> None:
    signing = SigningKey(key_file)
    assert signing.current() == signing.current() == queue_signing_key(key_file)
