"""The key that signs queue messages: derived from the key file, and followed as the file changes.

`key rotate` puts a new key in the key file while consumers and TUIs run. Each process that signs or checks
messages holds one SigningKey, which reads the file each time it is asked and derives the key again when
the file changed: a running consumer checks the next message against the new key, a TUI opened
before the rotation signs its next import with it, and nobody keeps the replaced key, which may be why it
was replaced.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from poolimport.core.secrets.box import SecretError

# A fixed label: the queue key is derived from, never equal to, the key that encrypts passwords.
QUEUE_KEY_INFO = b"poolimport queue message signing, v1"

WHAT = "queue messages cannot be signed or checked"


def _read(key_file: Path) -> bytes:
    try:
        return key_file.read_bytes().strip()
    except FileNotFoundError:
        raise SecretError(
            f"{WHAT}: key file {key_file} is missing: run `poolimport init`, or copy the installation's"
            " key file there (POOLIMPORT_KEY_FILE)"
        ) from None
    except OSError as exc:
        raise SecretError(f"{WHAT}: cannot read key file {key_file}: {exc.strerror}") from None


def _derived(key_file: Path, text: bytes) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:  # what Fernet itself requires of the file
        raise SecretError(f"{WHAT}: key file {key_file} does not hold a valid key")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=QUEUE_KEY_INFO).derive(key)


def queue_signing_key(key_file: Path) -> bytes:
    """The HMAC key that signs queue messages, derived from the installation's key file: every host with a
    copy of the file (consumers elsewhere) can sign and check them, and nobody else can."""
    return _derived(key_file, _read(key_file))


class SigningKey:
    """The queue signing key the key file holds now, shared by a consumer's worker threads.

    The file (a few dozen bytes) is read each time: its contents, not its times, say whether it changed, so
    a copy written over it within the same clock tick is seen too. The key is derived again only then."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._loaded: tuple[bytes, bytes] | None = None  # (the file's text, the key derived from it)

    def current(self) -> bytes:
        """The key; raises SecretError, saying what to do, when the key file is missing or bad (then no
        key is used at all: not even the one read before)."""
        text = _read(self.key_file)
        loaded = self._loaded
        if loaded is None or not hmac.compare_digest(loaded[0], text):
            loaded = self._loaded = (text, _derived(self.key_file, text))  # one tuple: threads see either
        return loaded[1]
