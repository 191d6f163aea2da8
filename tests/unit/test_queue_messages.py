"""Queue messages: signed JSON naming a task and a job id; everything else refused, never unpickled."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from huey import Huey
from huey.registry import Message

from poolimport.core.config import Settings
from poolimport.core.secrets.box import SecretError, ensure_key_file
from poolimport.core.secrets.signing import queue_signing_key
from poolimport.queue.app import make_huey
from poolimport.queue.messages import RefusedMessage, RevokeFlag, SignedJsonSerializer

TASK = "poolimport.queue.tasks.poolimport.import_pools"


class FileOnLoad:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def key_file(tmp_path: Path, name: str = "secret.key") -> Path:
    path = tmp_path / name
    ensure_key_file(path)
    return path


@pytest.fixture
def serializer(tmp_path: Path) -> SignedJsonSerializer:
    return SignedJsonSerializer(key_file(tmp_path))


def task(job_id: Any = 7, **fields: Any) -> Message:
    return Message(**{"id": str(uuid.uuid4()), "name": TASK, "args": (job_id,), "kwargs": {}, **fields})


def signed(serializer: SignedJsonSerializer, fields: dict[str, Any]) -> bytes:
    """A body of our choosing, signed with the right key: what only a holder of the key file can make."""
    body = json.dumps(fields).encode()
    return body + b"." + serializer._signature(body)


def test_a_task_goes_through_as_signed_json_holding_the_job_id_only(serializer: SignedJsonSerializer) -> None:
    sent = task(42)
    data = serializer.serialize(sent)
    body, _, signature = data.rpartition(b".")
    assert json.loads(body) == {"v": 1, "kind": "task", "id": sent.id, "task": TASK, "job_id": 42}
    assert len(signature) == 64
    received = serializer.deserialize(data)
    assert isinstance(received, Message)
    assert (received.id, received.name, received.args, received.kwargs) == (sent.id, TASK, (42,), {})


def test_a_periodic_task_goes_through_without_a_job_id(serializer: SignedJsonSerializer) -> None:
    sent = Message(id=str(uuid.uuid4()), name=TASK, args=(), kwargs={}, retries=0, retry_delay=0)
    received = serializer.deserialize(serializer.serialize(sent))
    assert isinstance(received, Message) and received.args == ()


@pytest.mark.parametrize(
    "flag", [(None, False), (datetime.datetime(2030, 1, 2, 3, 4, 5), False), (None, True)]
)
def test_revoke_flags_go_through(serializer: SignedJsonSerializer, flag: tuple[Any, bool]) -> None:
    assert serializer.deserialize(serializer.serialize(flag)) == RevokeFlag(*flag)


def test_a_pickle_is_refused_without_being_loaded(serializer: SignedJsonSerializer, tmp_path: Path) -> None:
    target = tmp_path / "created"
    with pytest.raises(RefusedMessage, match="^not a signed message$"):
        serializer.deserialize(pickle.dumps(FileOnLoad(target)))
    assert not target.exists()


def test_a_valid_message_changed_in_transit_is_refused(serializer: SignedJsonSerializer) -> None:
    data = serializer.serialize(task(7))
    with pytest.raises(RefusedMessage, match="signature does not match"):
        serializer.deserialize(data.replace(b'"job_id":7', b'"job_id":8'))


def test_a_message_signed_with_another_installations_key_is_refused(
    serializer: SignedJsonSerializer, tmp_path: Path
) -> None:
    other = tmp_path / "other.key"
    other.write_bytes(Fernet.generate_key())
    with pytest.raises(RefusedMessage, match="signature does not match this installation's key"):
        serializer.deserialize(SignedJsonSerializer(other).serialize(task()))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        bytes(range(256)),
        b'{"v":1,"kind":"task","job_id":7}',  # unsigned
        b'{"v":1,"kind":"task","job_id":7}.' + b"0" * 64,  # a signature of the right shape, made up
        b"x" * 5000,
        "a str, not bytes",
        None,
    ],
)
def test_what_is_not_a_signed_message_is_refused(serializer: SignedJsonSerializer, data: Any) -> None:
    with pytest.raises(RefusedMessage):
        serializer.deserialize(data)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"v": 2, "kind": "task", "id": str(uuid.uuid4()), "task": TASK, "job_id": 7},
            "unsupported message version",
        ),
        ([1, 2], "not a message object"),
        ({"v": 1, "kind": "shell", "id": str(uuid.uuid4()), "task": TASK}, "unknown kind"),
        (
            {"v": 1, "kind": "task", "id": str(uuid.uuid4()), "task": TASK, "job_id": 7, "kwargs": {}},
            "unknown kind",
        ),
        ({"v": 1, "kind": "task", "id": str(uuid.uuid4()), "task": TASK, "job_id": "7"}, "malformed task"),
        ({"v": 1, "kind": "task", "id": str(uuid.uuid4()), "task": TASK, "job_id": True}, "malformed task"),
        ({"v": 1, "kind": "task", "id": str(uuid.uuid4()), "task": TASK, "job_id": -1}, "malformed task"),
        ({"v": 1, "kind": "task", "id": str(uuid.uuid4()), "task": TASK, "job_id": 2**64}, "malformed task"),
        ({"v": 1, "kind": "task", "id": "../../etc", "task": TASK, "job_id": 7}, "malformed task"),
        ({"v": 1, "kind": "task", "id": str(uuid.uuid4()), "task": ["x"], "job_id": 7}, "malformed task"),
        ({"v": 1, "kind": "revoke", "until": "yesterday", "once": False}, "malformed revoke flag"),
        ({"v": 1, "kind": "revoke", "until": None, "once": 1}, "malformed revoke flag"),
    ],
)
def test_a_signed_message_of_the_wrong_shape_is_refused(
    serializer: SignedJsonSerializer, fields: Any, reason: str
) -> None:
    with pytest.raises(RefusedMessage, match=reason):
        serializer.deserialize(signed(serializer, fields))


@pytest.mark.parametrize(
    "message",
    [
        task(7, eta=datetime.datetime(2030, 1, 1)),
        task(7, retries=3),
        task(7, kwargs={"password": "x"}),
        task(7, on_complete=task(8)),
        Message(id=str(uuid.uuid4()), name=TASK, args=(7, 8), kwargs={}),
        task("7"),
        task(FileOnLoad(Path("x"))),
    ],
)
def test_what_the_queue_does_not_carry_is_refused_when_sending(
    serializer: SignedJsonSerializer, message: Message
) -> None:
    with pytest.raises(TypeError):
        serializer.serialize(message)


def test_results_are_not_carried_either(serializer: SignedJsonSerializer) -> None:
    with pytest.raises(TypeError, match="job ids only"):
        serializer.serialize({"password": "x"})


def test_without_the_key_file_sending_and_reading_say_what_to_do(tmp_path: Path) -> None:
    serializer = SignedJsonSerializer(tmp_path / "missing.key")
    message = f"key file {tmp_path / 'missing.key'} is missing: run `poolimport init`"
    with pytest.raises(SecretError, match="queue messages cannot be signed or checked") as sending:
        serializer.serialize(task())
    assert message in str(sending.value)
    with pytest.raises(RefusedMessage) as reading:  # a consumer drops it, saying why
        serializer.deserialize(b"{}." + b"0" * 64)
    assert message in str(reading.value)


def test_a_key_file_that_holds_no_key_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    with pytest.raises(SecretError, match="does not hold a valid key"):
        queue_signing_key(bad)


def test_the_signing_key_is_derived_from_the_key_file_not_the_key_itself(tmp_path: Path) -> None:
    first, second = key_file(tmp_path, "a.key"), key_file(tmp_path, "b.key")
    copy = tmp_path / "copy.key"
    copy.write_bytes(first.read_bytes())
    assert queue_signing_key(first) == queue_signing_key(copy)  # a consumer elsewhere with a copy agrees
    assert queue_signing_key(first) != queue_signing_key(second)
    assert len(queue_signing_key(first)) == 32
    assert queue_signing_key(first) != base64.urlsafe_b64decode(first.read_bytes())  # never used twice


@pytest.fixture
def queue(settings: Settings) -> Huey:
    """A Huey instance as a consumer builds it, on the test's SQLite queue (its task registered)."""
    return make_huey(settings)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_signed_revoke_flag_in_the_queue_is_not_a_task(
    queue: Huey, caplog: pytest.LogCaptureFixture
) -> None:
    queue.storage.enqueue(queue.serializer.serialize((None, False)))
    assert queue.dequeue() is None
    assert warnings(caplog) == ["queue poolimport: dropped a message: not a task message"]


def test_a_task_without_its_job_id_is_refused(queue: Huey, caplog: pytest.LogCaptureFixture) -> None:
    bare = Message(id=str(uuid.uuid4()), name=TASK, args=(), kwargs={}, retries=0, retry_delay=0)
    queue.storage.enqueue(queue.serializer.serialize(bare))
    assert queue.dequeue() is None
    assert warnings(caplog) == ["queue poolimport: dropped a message: arguments do not fit the task"]


def test_a_task_where_a_revoke_flag_belongs_revokes_nothing_and_goes(
    queue: Huey, caplog: pytest.LogCaptureFixture
) -> None:
    victim = task(7)
    queue.storage.put_data(f"r:{victim.id}", queue.serializer.serialize(task(8)))
    assert queue.is_revoked(queue.deserialize_task(queue.serializer.serialize(victim))) is False
    assert warnings(caplog) == ["queue poolimport: dropped a revoke flag: not a revoke flag"]
    assert not queue.storage.has_data_for_key(f"r:{victim.id}")


def test_a_real_revoke_still_revokes(queue: Huey, caplog: pytest.LogCaptureFixture) -> None:
    sent = queue.deserialize_task(queue.serializer.serialize(task(7)))
    queue.revoke_by_id(sent.id)
    assert queue.is_revoked(sent) is True
    assert warnings(caplog) == []
