"""OpenSSH public keys: parsed and checked the way `ssh-keygen` reads a `.pub` file, fingerprinted the way
`ssh-keygen -l` prints them (SHA256), and written as `authorized_keys` lines with a forced command."""

from __future__ import annotations

import base64
import binascii
import hashlib
import shlex
import struct
from dataclasses import dataclass

from poolimport.core.errors import InvalidInput
from poolimport.core.text import one_line

# Key type -> how many strings its key data holds after the type name. DSA is gone from OpenSSH.
KEY_TYPES = {
    "ssh-ed25519": 1,
    "ssh-rsa": 2,
    "ecdsa-sha2-nistp256": 2,
    "ecdsa-sha2-nistp384": 2,
    "ecdsa-sha2-nistp521": 2,
    "sk-ssh-ed25519@openssh.com": 2,
    "sk-ecdsa-sha2-nistp256@openssh.com": 3,
}
MIN_RSA_BITS = 2048
MAX_COMMENT = 200


class InvalidKey(InvalidInput):
    """Not a usable OpenSSH public key; the message never quotes the text it was given."""


class PrivateKeyGiven(InvalidKey):
    """The private half was given where the public one belongs."""


@dataclass(frozen=True)
class PublicKey:
    type: str
    data: str  # the base64 key data, as in the .pub file
    comment: str = ""

    @property
    def text(self) -> str:
        """`<type> <base64>`: the key without its comment."""
        return f"{self.type} {self.data}"

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(base64.b64decode(self.data)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_public_key(text: str) -> PublicKey:
    """One public key, as in a `.pub` file: `<type> <base64> [comment]`. Options before it are refused."""
    if "PRIVATE KEY-----" in text:
        raise PrivateKeyGiven("is a private key: give the public one")
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise InvalidKey("holds no public key")
    if len(lines) > 1:
        raise InvalidKey(f"holds {len(lines)} lines: one public key per file")
    words = lines[0].split(maxsplit=2)
    if len(words) < 2 or words[0] not in KEY_TYPES:
        raise InvalidKey(f"is not an OpenSSH public key ({', '.join(KEY_TYPES)})")
    key_type, data = words[0], words[1]
    try:
        blob = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey("its key data is not valid base64") from None
    _check_blob(key_type, blob)
    comment = one_line(words[2]).strip()[:MAX_COMMENT] if len(words) > 2 else ""
    return PublicKey(key_type, data, comment)


def _check_blob(key_type: str, blob: bytes) -> None:
    fields = _strings(blob)
    if fields is None or not fields:
        raise InvalidKey("its key data is not an OpenSSH key")
    named = fields[0].decode("ascii", "replace")
    if named != key_type:
        shown = named if named in KEY_TYPES else "another type of"
        raise InvalidKey(f"its key data is {shown} key but the line says {key_type}")
    if len(fields) - 1 != KEY_TYPES[key_type]:
        raise InvalidKey(f"its key data is not a whole {key_type} key")
    if key_type.startswith("sk-"):
        return  # security-key types: the structure is all that can be checked without the token
    # Imported here, where a key is checked: every SSH session reads the stored keys and never needs it.
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    try:
        key = load_ssh_public_key(f"{key_type} {base64.b64encode(blob).decode()}".encode())
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKey(f"its key data is not a valid {key_type} key") from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise InvalidKey(f"is a {key.key_size}-bit RSA key: at least {MIN_RSA_BITS} bits are needed")


def _strings(blob: bytes) -> list[bytes] | None:
    """The SSH wire format's length-prefixed strings, or None where the blob is not made of them."""
    fields, offset = [], 0
    while offset < len(blob):
        if offset + 4 > len(blob):
            return None
        (length,) = struct.unpack_from(">I", blob, offset)
        offset += 4
        if offset + length > len(blob):
            return None
        fields.append(blob[offset : offset + length])
        offset += length
    return fields


def authorized_keys_line(key: PublicKey, command: list[str], comment: str) -> str:
    """`restrict,pty,command="…" <type> <base64> <comment>`: whoever connects with the key gets the command
    and a terminal, nothing else (no forwarding of any kind, no ~/.ssh/rc)."""
    text = shlex.join(command)  # sshd hands the command to the account's shell
    if any(char in text + comment for char in "\r\n\0"):
        raise InvalidKey("a line break in the command or comment would start another authorized_keys line")
    # Within the option only \" is an escape (sshd's opt_dequote); shlex never ends a word with a backslash.
    quoted = text.replace('"', '\\"')
    return f'restrict,pty,command="{quoted}" {key.text} {comment}'
