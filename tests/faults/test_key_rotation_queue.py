"""`key rotate` while consumers and senders run: each picks the new key up from the key file on its own.

Queue messages are signed with a key derived from the key file. A consumer started before the rotation
checks the next message against the key file as it is now, and a sender made before it (the TUI's, a
long-lived QueueClient) signs with it: nobody needs a restart. A message signed with the key the rotation
replaced is dropped (that key may be why it was rotated), and `import --wait` on a job nobody takes says
where to look.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from cryptography.fernet import Fernet
from huey.registry import Message
from sqlalchemy import Engine

from poolimport.core.config import Settings
from poolimport.core.consumers import alive_count
from poolimport.core.db import session_scope
from poolimport.core.jobs.actions import JobActions
from poolimport.core.secrets.box import old_key_file
from poolimport.queue.app import QueueClient
from poolimport.queue.messages import SignedJsonSerializer
from poolimport.sim import SimServer
from tests.conftest import Consumer, run_cli
from tests.faults.test_queue_payloads import TASK_NAME, dropped, job_row, queued_job, raw_storage
from tests.helpers import start_cli, wait_for, wait_status

pytestmark = pytest.mark.xdist_group("consumers")

OLD_KEY_DROP = "a message: signature does not match this installation's key"


def rotate() -> str:
    out = run_cli("key", "rotate")
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def imported(router: str) -> int:
    """`import ROUTER --wait` succeeded; returns its job id."""
    out = run_cli("import", router, "--wait", timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return int(out.stdout.split("#", 1)[1].split()[0])


def test_a_running_consumer_takes_imports_signed_with_the_rotated_key(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
) -> None:
    add_router(sim, name="core")
    consumer = start_consumer(workers=1)
    imported("core")  # the consumer has checked a message with the key before the rotation

    said = rotate()

    imported("core")  # no restart: the same consumer checked it against the new key
    assert consumer.process.poll() is None
    assert consumer.output().count(" executed in ") == 2, consumer.output()
    assert dropped(consumer) == []
    assert "pick the new key up on their own" in said and "other hosts" in said
    assert "their jobs stay queued until cancelled" in said  # what was signed with the replaced key


def test_a_message_signed_with_the_key_before_the_rotation_is_dropped(
    engine: Engine,
    settings: Settings,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
) -> None:
    victim = queued_job(engine, add_router(sim, name="victim"))
    add_router(sim, name="core")
    consumer = start_consumer(workers=1)
    imported("core")
    rotate()
    before = job_row(engine, victim)

    # Signed with the key the rotation replaced (kept beside the key file): what a leaked key still signs.
    replaced = SignedJsonSerializer(old_key_file(settings.key_file))
    message = Message(id=str(uuid.uuid4()), name=TASK_NAME, args=(victim,), kwargs={})
    raw_storage(settings.queue_url).enqueue(replaced.serialize(message))

    wait_for(lambda: dropped(consumer), 30, "the consumer to take the message")
    assert dropped(consumer) == [OLD_KEY_DROP]
    assert job_row(engine, victim) == before  # still queued, never started
    imported("core")  # and what is signed with the new key runs
    assert "Traceback" not in consumer.output()


def test_a_sender_made_before_the_rotation_signs_with_the_new_key(
    engine: Engine,
    settings: Settings,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
) -> None:
    before, after = add_router(sim, name="before"), add_router(sim, name="after")
    client = QueueClient.from_settings(settings)  # the TUI's, made when it opened
    actions = JobActions(settings, client.send_import, client.revoke)
    sent_before = actions.import_routers([before]).created[0]  # signed with the key of then

    rotate()
    consumer = start_consumer(workers=1)  # started after the rotation, with the new key

    sent_after = actions.import_routers([after]).created[0]
    assert wait_status(sent_after, ("succeeded", "failed")) == "succeeded", consumer.output()
    assert dropped(consumer) == [OLD_KEY_DROP]  # the message sent before: its key was replaced
    assert job_row(engine, sent_before)[0] == "queued"


def test_wait_on_a_job_no_running_consumer_takes_says_to_read_the_consumers_log(
    engine: Engine,
    settings: Settings,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_router(sim, name="core")
    consumer = start_consumer(workers=1)

    def consumers_alive() -> int:
        with session_scope(engine) as session:
            return alive_count(session, settings.heartbeat_interval)

    wait_for(consumers_alive, 30, "the consumer to check in")
    # A sender with another key file: its message is dropped by the consumer, its job stays queued.
    other = settings.home / "other.key"
    other.write_bytes(Fernet.generate_key())
    monkeypatch.setenv("POOLIMPORT_KEY_FILE", str(other))
    waiting = start_cli("import", "core", "--wait")
    try:
        assert waiting.stderr is not None
        hint = waiting.stderr.readline()  # the --wait hint, printed once the job has waited a while
    finally:
        waiting.kill()
        waiting.wait()
    assert dropped(consumer) == [OLD_KEY_DROP]
    assert hint.startswith("job #1 is still queued: 1 consumer is running, and none has taken it"), hint
    assert "check the consumers' log" in hint and "is a consumer" not in hint, hint


def test_wait_on_a_job_with_no_consumer_asks_whether_one_runs(
    engine: Engine, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    waiting = start_cli("import", "core", "--wait")
    try:
        assert waiting.stderr is not None
        hint = waiting.stderr.readline()
    finally:
        waiting.kill()
        waiting.wait()
    assert hint == "job #1 is still queued: is a consumer (`poolimport worker`) running?\n"
