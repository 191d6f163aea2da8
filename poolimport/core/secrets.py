"""Router passwords encrypted at rest with a Fernet key kept in a 0600 file.

Consumers on other hosts need the same key: point POOLIMPORT_KEY_FILE at a copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretError(Exception):
    """The key is missing or does not match the stored passwords."""


def ensure_key_file(path: Path) -> bool:
    """Create the key file if missing (mode 0600); returns True when it was created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(Fernet.generate_key())
    return True


class SecretBox:
    def __init__(self, key_file: Path) -> None:
        try:
            key = key_file.read_bytes().strip()
        except FileNotFoundError:
            raise SecretError(f"key file {key_file} is missing: run `poolimport init`") from None
        except OSError as exc:
            raise SecretError(f"cannot read key file {key_file}: {exc.strerror}") from None
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise SecretError(f"key file {key_file} does not hold a valid key") from None

    def encrypt(self, password: str) -> bytes:
        return self._fernet.encrypt(password.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            # Never echo the token: it is the password, encrypted.
            raise SecretError("stored router password cannot be decrypted with this key file") from None
