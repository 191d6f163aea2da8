"""Router passwords encrypted at rest with a Fernet key kept in a 0600 file.

`poolimport key rotate` puts a new key in the key file and keeps the key it replaces beside it
(`secret.key.old`): passwords are decrypted with either (a database backup made before the rotation still
opens) and always encrypted with the new one, until the administrator removes the old file.
Consumers on other hosts need the same key: point POOLIMPORT_KEY_FILE at a copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from poolimport.core.errors import Refusal
from poolimport.core.private_files import PRIVATE_FILE, private_dir

OLD_KEY_SUFFIX = ".old"


class SecretError(Refusal):
    """The key is missing or does not match the stored passwords."""


def old_key_file(key_file: Path) -> Path:
    """Where `key rotate` keeps the key it replaced."""
    return key_file.with_name(key_file.name + OLD_KEY_SUFFIX)


def write_key_file(path: Path, key: bytes) -> None:
    """Write a key to a file that must not exist yet, 0600, on disk before returning."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())


def ensure_key_file(path: Path) -> bool:
    """Create the key file if missing (mode 0600); returns True when it was created."""
    try:
        write_key_file(path, Fernet.generate_key())
    except FileExistsError:
        os.chmod(path, PRIVATE_FILE)
        return False
    return True


def read_key(key_file: Path) -> Fernet:
    try:
        key = key_file.read_bytes().strip()
    except FileNotFoundError:
        raise SecretError(f"key file {key_file} is missing: run `poolimport init`") from None
    except OSError as exc:
        raise SecretError(f"cannot read key file {key_file}: {exc.strerror}") from None
    try:
        return Fernet(key)
    except ValueError:
        raise SecretError(f"key file {key_file} does not hold a valid key") from None


def replace_key(key_file: Path) -> None:
    """Keep the current key beside the key file and put a new one in it (the files of a rotation)."""
    old = old_key_file(key_file)
    write_key_file(old, key_file.read_bytes())
    fresh = key_file.with_name(key_file.name + ".new")
    fresh.unlink(missing_ok=True)  # left by a rotation that stopped before its rename
    write_key_file(fresh, Fernet.generate_key())
    os.replace(fresh, key_file)


def undo_replace_key(key_file: Path) -> None:
    """Put back the key that replace_key kept beside the key file."""
    os.replace(old_key_file(key_file), key_file)


class SecretBox:
    def __init__(self, key_file: Path) -> None:
        self._current = read_key(key_file)
        keys = [self._current]
        if old_key_file(key_file).exists():
            keys.append(read_key(old_key_file(key_file)))
        self._fernet = MultiFernet(keys)

    def encrypt(self, password: str) -> bytes:
        return self._fernet.encrypt(password.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            # Never echo the token: it is the password, encrypted.
            raise SecretError("stored router password cannot be decrypted with this key file") from None

    def opens(self, token: bytes) -> bool:
        try:
            self._fernet.decrypt(token)
        except InvalidToken:
            return False
        return True

    def uses_current_key(self, token: bytes) -> bool:
        """Whether the key file's own key, without the old one beside it, decrypts `token`."""
        try:
            self._current.decrypt(token)
        except InvalidToken:
            return False
        return True

    def rotate(self, token: bytes) -> bytes:
        """The same password, encrypted with the current key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise SecretError("stored router password cannot be decrypted with this key file") from None
