"""What goes through the queue: signed JSON naming a task and a job id, never a pickle.

Huey pickles its messages by default, and unpickling runs code: whoever could write to Redis or to the
SQLite queue file could run anything in every consumer. Here a message is compact JSON followed by an
HMAC-SHA256 of it, made with a key derived from the installation's key file as it is now (core.secrets.
signing: a rotated key is picked up without a restart, and the replaced one is never used again). A consumer
checks the signature before it parses anything, and reads only the fields below; whatever else it finds
is refused (RefusedMessage) and dropped with one warning, and no job runs. The database still decides
whether a job named by a valid message runs at all: it must exist and be `queued`.

    task:    {"v": 1, "kind": "task", "id": "<uuid>", "task": "<huey task name>", "job_id": 42}
             (a periodic task, which huey sends itself, has no job_id)
    revoke:  {"v": 1, "kind": "revoke", "until": null, "once": false}     (huey's flag for a cancelled task)

On the wire: the JSON, a ".", and the signature in hex.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from huey.registry import Message
from huey.serializer import Serializer

from poolimport.core.errors import PoolimportError
from poolimport.core.secrets.box import SecretError
from poolimport.core.secrets.signing import SigningKey

VERSION = 1
SEPARATOR = b"."
SIGNATURE_LENGTH = 64  # hex of SHA-256
MAX_MESSAGE = 1024  # ours are about 200 bytes; anything much longer is not worth hashing
MAX_JOB_ID = 2**63 - 1

TASK_FIELDS = {"v", "kind", "id", "task"}
JOB_ID = "job_id"
REVOKE_FIELDS = {"v", "kind", "until", "once"}
# What huey puts in a Message for a plain `task.s(job_id)`: anything else would be lost on the way.
PLAIN_TASK: dict[str, Any] = {
    "eta": None,
    "priority": None,
    "kwargs": {},
    "on_complete": None,
    "on_error": None,
    "expires": None,
    "expires_resolved": None,
    "timeout": None,
    "chord_config": None,
}
NO_RETRIES = {"retries", "retry_delay", "retry_backoff"}


class RefusedMessage(PoolimportError):
    """A message that is not one this installation signed, or not one it knows how to read. The text
    says why in a few words and never quotes the message."""


class RevokeFlag(NamedTuple):
    """Huey's (revoke_until, revoke_once) pair, which it stores through the same serializer."""

    until: datetime.datetime | None
    once: bool


class SignedJsonSerializer(Serializer):
    """Huey's serializer hook, signing and checking with the key the key file holds at that moment."""

    def __init__(self, key_file: Path) -> None:
        super().__init__()
        self.key_file = key_file
        self.signing_key = SigningKey(key_file)

    def key(self) -> bytes:
        """The signing key; raises SecretError, saying what to do, when the key file is missing or bad."""
        return self.signing_key.current()

    def _signature(self, body: bytes) -> bytes:
        return hmac.new(self.key(), body, hashlib.sha256).hexdigest().encode("ascii")

    def serialize(self, data: Any) -> bytes:
        if isinstance(data, Message):
            fields = _task_fields(data)
        elif isinstance(data, tuple) and len(data) == 2:
            fields = _revoke_fields(*data)
        else:
            raise TypeError(f"the queue carries job ids only, not {type(data).__name__}")
        body = json.dumps({"v": VERSION, **fields}, separators=(",", ":"), sort_keys=True).encode("ascii")
        return body + SEPARATOR + self._signature(body)

    def deserialize(self, data: Any) -> Message | RevokeFlag:
        try:
            fields = json.loads(self._verified(data))
        except ValueError:  # signed with our key, yet not JSON: not something this code wrote
            raise RefusedMessage("not JSON") from None
        if not isinstance(fields, dict):
            raise RefusedMessage("not a message object")
        if fields.get("v") != VERSION:
            raise RefusedMessage("unsupported message version")
        if fields.get("kind") == "task" and set(fields) - {JOB_ID} == TASK_FIELDS:
            return _task_message(fields)
        if fields.get("kind") == "revoke" and set(fields) == REVOKE_FIELDS:
            return _revoke_flag(fields)
        raise RefusedMessage("unknown kind of message")

    def _verified(self, data: Any) -> bytes:
        """The signed body; nothing of the message is read before its signature is checked."""
        if isinstance(data, memoryview | bytearray):
            data = bytes(data)
        if not isinstance(data, bytes) or len(data) > MAX_MESSAGE:
            raise RefusedMessage("not a signed message")
        body, separator, signature = data.rpartition(SEPARATOR)
        if not separator or len(signature) != SIGNATURE_LENGTH:
            raise RefusedMessage("not a signed message")
        try:
            expected = self._signature(body)
        except SecretError as exc:  # the key file went away under a running consumer: nothing can be checked
            raise RefusedMessage(str(exc)) from None
        if not hmac.compare_digest(signature, expected):
            raise RefusedMessage("signature does not match this installation's key")
        return body


def _task_fields(message: Message) -> dict[str, Any]:
    unsupported = [name for name, plain in PLAIN_TASK.items() if getattr(message, name) != plain]
    unsupported += [name for name in NO_RETRIES if getattr(message, name)]
    if unsupported or len(message.args) > 1:
        options = ", ".join(unsupported) or "args"
        raise TypeError(f"a queued task takes a job id and no options (got {options})")
    fields = {"kind": "task", "id": message.id, "task": message.name}
    if message.args:
        if not _is_job_id(message.args[0]):
            raise TypeError(f"a job id is a positive integer, not {type(message.args[0]).__name__}")
        fields[JOB_ID] = message.args[0]
    return fields


def _task_message(fields: dict[str, Any]) -> Message:
    task_id, name = fields["id"], fields["task"]
    args = (fields[JOB_ID],) if JOB_ID in fields else ()
    if not (_is_uuid(task_id) and isinstance(name, str) and all(_is_job_id(arg) for arg in args)):
        raise RefusedMessage("malformed task message")
    return Message(id=task_id, name=name, args=args, kwargs={})


def _revoke_fields(until: datetime.datetime | None, once: bool) -> dict[str, Any]:
    if not (until is None or isinstance(until, datetime.datetime)) or not isinstance(once, bool):
        raise TypeError("a revoke flag is (datetime or None, bool)")
    return {"kind": "revoke", "until": until.isoformat() if until else None, "once": once}


def _revoke_flag(fields: dict[str, Any]) -> RevokeFlag:
    until, once = fields["until"], fields["once"]
    if not (until is None or isinstance(until, str)) or not isinstance(once, bool):
        raise RefusedMessage("malformed revoke flag")
    try:
        return RevokeFlag(datetime.datetime.fromisoformat(until) if until else None, once)
    except ValueError:
        raise RefusedMessage("malformed revoke flag") from None


def _is_job_id(value: Any) -> bool:
    return type(value) is int and 0 < value <= MAX_JOB_ID


def _is_uuid(value: Any) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False
