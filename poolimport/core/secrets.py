"""Router passwords encrypted at rest with a Fernet key kept in a 0600 file.

Consumers on other hosts need the same key: point POOLIMPORT_KEY_FILE at a copy.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# A fixed label: the queue key is derived from, never equal to, the key that encrypts passwords.
QUEUE_KEY_INFO = b"poolimport queue message signing, v1"


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


def queue_signing_key(key_file: Path) -> bytes:
    """The HMAC key that signs queue messages, derived from the installation's key file: every host with a
    copy of the file (consumers elsewhere) can sign and check them, and nobody else can."""
    what = "queue messages cannot be signed or checked"
    try:
        text = key_file.read_bytes().strip()
    except FileNotFoundError:
        raise SecretError(
            f"{what}: key file {key_file} is missing: run `poolimport init`, or copy the installation's"
            " key file there (POOLIMPORT_KEY_FILE)"
        ) from None
    except OSError as exc:
        raise SecretError(f"{what}: cannot read key file {key_file}: {exc.strerror}") from None
    try:
        key = base64.urlsafe_b64decode(text)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:  # what Fernet itself requires of the file
        raise SecretError(f"{what}: key file {key_file} does not hold a valid key")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=QUEUE_KEY_INFO).derive(key)
