"""Whoever can write to the queue (Redis, or the SQLite queue file) can at most name a job id.

Each test writes raw messages straight into the queue's storage, the way an attacker with access to
Redis or to the queue file would, and watches a real consumer: a pickle is never loaded (the file it
would create never appears), a message without this installation's signature runs nothing, each one
is a single warning line naming the queue and the reason, and the consumer carries on.
"""

from __future__ import annotations

import datetime
import os
import pickle
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from huey.registry import Message
from huey.storage import BaseStorage
from sqlalchemy import Engine, func, select

from poolimport.core.config import Settings, load_settings
from poolimport.core.db import session_scope
from poolimport.core.jobs.actions import JobActions
from poolimport.core.jobs.lifecycle import create_job
from poolimport.core.models import ImportJob, JobEvent, Router
from poolimport.queue.app import NAME, QueueClient, storage_for
from poolimport.queue.messages import SignedJsonSerializer
from poolimport.queue.process import spawn_worker, stop_worker
from poolimport.queue.tasks import TASK_NAME as REGISTERED_NAME
from poolimport.queue.tasks import import_pools
from poolimport.sim import SimServer
from tests.conftest import ADMIN, Consumer, run_cli, unavailable
from tests.faults.test_outages import WARNING_LINE
from tests.helpers import QUEUE_KEYS, enqueue, wait_for, wait_status

pytestmark = pytest.mark.xdist_group("consumers")

REDIS_URL = "redis://127.0.0.1:6379/11"  # only the keys of the queue named "poolimport" are touched
TASK_NAME = f"{import_pools.__module__}.{REGISTERED_NAME}"  # as huey names a registered task
REVOKE_ALL_KEY = f"rt:{TASK_NAME}"  # huey's "every task of this kind is revoked" flag
DROPPED = re.compile(r"^.* WARNING .*queue poolimport: dropped (.+)$", re.MULTILINE)


class FileOnLoad:
    """Unpickling it creates `path`: what a pickle written into the queue does in a consumer that loads it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def pickled_task(path: Path, job_id: int) -> bytes:
    """A message as huey's default serializer writes it, whose arguments create a file when loaded."""
    message = Message(str(uuid.uuid4()), TASK_NAME, None, 0, 0, None, (FileOnLoad(path), job_id), {})
    return pickle.dumps(message)


def task_message(job_id: int, name: str = TASK_NAME) -> Message:
    return Message(id=str(uuid.uuid4()), name=name, args=(job_id,), kwargs={})


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(
    request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The test once on the SQLite queue in the test's home and once on Redis."""
    if request.param == "sqlite":
        yield settings.queue_url
        return
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.delete(*QUEUE_KEYS)
    except redis.exceptions.ConnectionError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")
    monkeypatch.setenv("POOLIMPORT_QUEUE_URL", REDIS_URL)
    yield REDIS_URL
    client.delete(*QUEUE_KEYS)
    client.close()


def raw_storage(url: str) -> BaseStorage:
    """The queue's storage itself, below huey and its serializer: what an attacker with access writes to."""
    storage_class, options = storage_for(url, load_settings().home)
    return storage_class(NAME, **options)


def queued_job(engine: Engine, router_id: int) -> int:
    """A queued job that nothing was sent for: the one the forged messages name."""
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        return create_job(session, ADMIN, router, time_limit=60, heartbeat_interval=10).id


def job_row(engine: Engine, job_id: int) -> tuple[Any, ...]:
    with engine.connect() as conn:
        job = conn.execute(
            select(ImportJob.status, ImportJob.started_at, ImportJob.finished_at, ImportJob.worker).where(
                ImportJob.id == job_id
            )
        ).one()
        events = conn.scalar(select(func.count()).select_from(JobEvent).where(JobEvent.job_id == job_id))
    return (*job, events)


def dropped(consumer: Consumer) -> list[str]:
    return DROPPED.findall(consumer.output())


def test_forged_messages_run_nothing_and_the_consumer_carries_on(
    queue_url: str,
    engine: Engine,
    settings: Settings,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    tmp_path: Path,
) -> None:
    victim = queued_job(engine, add_router(sim, name="victim"))
    add_router(sim, name="core")
    before = job_row(engine, victim)
    other_key = tmp_path / "other.key"
    other_key.write_bytes(Fernet.generate_key())
    ours, theirs = SignedJsonSerializer(settings.key_file), SignedJsonSerializer(other_key)
    created = {where: tmp_path / f"created-by-{where}" for where in ("queue", "schedule", "revoke-flag")}

    storage = raw_storage(queue_url)
    forged = [
        pickled_task(created["queue"], victim),
        ours.serialize(task_message(victim)).rpartition(b".")[0],  # the job id, unsigned
        theirs.serialize(task_message(victim)),  # signed, with another installation's key
        bytes(range(256)),
        ours.serialize(task_message(victim, name="poolimport.queue.tasks.remove_everything")),
    ]
    for message in forged:
        storage.enqueue(message)
    storage.add_to_schedule(pickled_task(created["schedule"], victim), datetime.datetime(2000, 1, 1))
    storage.put_data(REVOKE_ALL_KEY, pickle.dumps(FileOnLoad(created["revoke-flag"])))

    consumer = start_consumer(workers=1)

    def taken() -> bool:
        if storage.queue_size() or storage.schedule_size():
            return False
        return len(dropped(consumer)) == len(forged) + 1 or any(path.exists() for path in created.values())

    wait_for(taken, 30, "the consumer to take every forged message")
    assert [path.name for path in created.values() if path.exists()] == []
    assert consumer.process.poll() is None, consumer.output()
    assert job_row(engine, victim) == before  # still queued, never started, no event

    # A real import still works, and passes the planted revoke flag without loading it.
    done = run_cli("import", "core", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not created["revoke-flag"].exists()
    assert job_row(engine, victim) == before
    assert consumer.process.poll() is None

    output = consumer.output()
    assert "Traceback" not in output, output
    assert sorted(dropped(consumer)) == sorted(
        [
            "a message: not a signed message",  # the pickle
            "a message: not a signed message",  # the unsigned job id
            "a message: signature does not match this installation's key",
            "a message: not a signed message",  # garbage
            "a message: names a task this consumer does not run",
            "a scheduled message: not a signed message",  # the pickle in the schedule
            "a revoke flag: not a signed message",  # the pickle as huey's revoke flag
        ]
    ), output
    assert len(WARNING_LINE.findall(output)) == len(forged) + 2, output  # nothing else went wrong
    assert "remove_everything" not in output and "FileOnLoad" not in output  # reasons, never payloads


def test_a_replayed_message_does_not_run_its_job_again(
    queue_url: str,
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
) -> None:
    add_router(sim, name="core")
    storage = raw_storage(queue_url)
    job_id = enqueue("core")
    (sent,) = storage.enqueued_items()  # copied by whoever can read the queue
    consumer = start_consumer(workers=1)
    assert wait_status(job_id, ("succeeded",)) == "succeeded"
    after = job_row(engine, job_id)

    storage.enqueue(sent)

    wait_for(lambda: consumer.output().count(" executed in ") == 2, 30, "the replayed message to be taken")
    assert job_row(engine, job_id) == after  # the database refused it: the job is not queued any more
    assert dropped(consumer) == [] and "Traceback" not in consumer.output()


def test_sending_without_the_key_file_is_one_error_and_no_job(
    engine: Engine,
    settings: Settings,
    sim: SimServer,
    add_router: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_router(sim, name="core")
    monkeypatch.setenv("POOLIMPORT_KEY_FILE", str(settings.home / "missing.key"))
    out = run_cli("import", "core")
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "error: router core not imported, no job created: queue messages cannot be signed or checked:"
        f" key file {settings.home / 'missing.key'} is missing: run `poolimport init`, or copy the"
        " installation's key file there (POOLIMPORT_KEY_FILE)"
    ]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ImportJob)) == 0


@pytest.mark.parametrize("command", ["poolimport worker", "huey_consumer"])
def test_a_consumer_without_the_key_file_stops_with_one_error(
    command: str, engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = settings.home / "missing.key"
    monkeypatch.setenv("POOLIMPORT_KEY_FILE", str(missing))
    log = tmp_path / "consumer.log"
    with log.open("wb") as output:
        process = spawn_worker(1, output, huey_consumer=command == "huey_consumer")
    try:
        assert process.wait(timeout=60) == 1
    finally:
        stop_worker(process)
    lines = log.read_text().splitlines()
    assert len(lines) == 1, lines
    assert f"queue messages cannot be signed or checked: key file {missing} is missing" in lines[0]
    assert "Traceback" not in lines[0]
    assert not os.path.exists(missing)


def test_a_job_kept_from_running_stays_queued_until_cancelled(
    engine: Engine,
    settings: Settings,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
) -> None:
    """What whoever can write to the queue can still do, without the key file: delete a job's message, or
    copy a revoke flag (which names no job) onto another job's message. The job stays queued, nothing else
    happens, and an operator cancels it and imports again."""
    routers = {name: add_router(sim, name=name) for name in ("deleted", "revoked", "cancelled", "core")}
    client = QueueClient.from_settings(settings)
    actions = JobActions(settings, client.send_import, client.revoke)  # what the CLI and the TUI do

    def queue(name: str) -> int:
        return actions.import_routers([routers[name]]).created[0]

    def status(job_id: int) -> str:
        return str(job_row(engine, job_id)[0])

    storage = raw_storage(settings.queue_url)
    deleted = queue("deleted")
    storage.flush_queue()
    cancelled, revoked = queue("cancelled"), queue("revoked")
    assert actions.cancel(cancelled) == "cancelled"  # an operator's cancel leaves a revoke flag
    flag = storage.peek_data(f"r:{task_id(engine, cancelled)}")
    storage.put_data(f"r:{task_id(engine, revoked)}", flag)

    consumer = start_consumer(workers=1)
    core = queue("core")  # queued after them: taken after them
    wait_for(lambda: status(core) == "succeeded", 30, "the import queued after them")
    assert storage.queue_size() == 0
    assert [status(deleted), status(revoked)] == ["queued", "queued"]
    assert dropped(consumer) == []

    for name, job in (("deleted", deleted), ("revoked", revoked)):
        assert actions.cancel(job) == "cancelled"
        again = queue(name)
        wait_for(lambda: status(again) == "succeeded", 30, f"{name} imported again")  # noqa: B023
    assert "Traceback" not in consumer.output()


def task_id(engine: Engine, job_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.scalar(select(ImportJob.task_id).where(ImportJob.id == job_id)))
