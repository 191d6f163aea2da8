"""Huey's consumer, adjusted for poolimport. `poolimport worker` and `huey_consumer poolimport.queue.huey`
both get it, since both ask the Huey instance for its consumer:

- a queue that stops answering is one warning, one line when it is back, and backoff in between (outage.py);
- a message that isn't one this installation signed (messages.py) is dropped with one warning; nothing runs;
- without the key file a consumer does not start: it could check no message;
- a stalled-job sweeper and the schedule's enqueuer run beside the workers (sweeper.py, scheduler.py);
- SIGHUP: Huey reads it as "restart", which a supervisor relies on; a worker started from a terminal stops
  instead when the terminal closes, rather than living on as an orphan.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

from huey import Huey
from huey.api import PeriodicTask, Task
from huey.constants import EmptyData
from huey.consumer import Consumer, Worker
from huey.exceptions import HueyException
from huey.registry import Message

from poolimport.core.config import load_settings
from poolimport.core.jobs.runner import WORKER_NAME
from poolimport.core.secrets.box import SecretError
from poolimport.queue.check_in import CheckIn
from poolimport.queue.messages import RefusedMessage, RevokeFlag, SignedJsonSerializer
from poolimport.queue.outage import Backoff, Outage
from poolimport.queue.periodic import Periodic
from poolimport.queue.polling import polling
from poolimport.queue.scheduler import ScheduleEnqueuer
from poolimport.queue.sweeper import StalledJobSweeper
from poolimport.queue.tasks import TASK_NAME, import_pools

logger = logging.getLogger("huey.consumer")

QUEUE_BACKOFF = (0.5, 5.0)


def attached_to_terminal() -> bool:
    """Whether this process has a controlling terminal: a shell started it. Supervisors give none."""
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY))
    except OSError:
        return False
    return True


class PoolimportHuey(Huey):
    """Reads from the queue report to one Outage instead of raising: the caller sees an empty queue.
    Messages are signed JSON (messages.py), whatever the caller asks: this queue never unpickles."""

    serializer: SignedJsonSerializer

    def __init__(self, *args: Any, key_file: Path, **kwargs: Any) -> None:
        super().__init__(*args, serializer=SignedJsonSerializer(key_file), **kwargs)
        self.queue_outage = Outage("queue", logger)
        self.import_pools = self.task(name=TASK_NAME)(import_pools)

    def send_import(self, job_id: int) -> str:
        """Queue the job; returns the task's id (with results off, calling the task returns nothing)."""
        task = self.import_pools.s(job_id)
        self.enqueue(task)
        return str(task.id)

    def create_consumer(self, **options: Any) -> Consumer:
        return PoolimportConsumer(self, **options)

    def check_key(self) -> None:
        """Raises SecretError, saying what to do, when messages can't be signed or checked here."""
        self.serializer.key()

    def drop(self, refused: RefusedMessage, what: str = "a message") -> None:
        # The reason only: the message itself is whatever someone wrote into the queue.
        logger.warning("queue %s: dropped %s: %s", self.name, what, refused)

    def deserialize_task(self, data: Any) -> Task:
        message = self.serializer.deserialize(data)
        if not isinstance(message, Message):
            raise RefusedMessage("not a task message")
        try:
            task_class = self._registry.string_to_task(message.name)
        except HueyException:
            raise RefusedMessage("names a task this consumer does not run") from None
        # Huey sends a periodic task with no arguments; every other task takes a job id.
        if issubclass(task_class, PeriodicTask) != (not message.args):
            raise RefusedMessage("arguments do not fit the task")
        return self._registry.create_task(message)

    def dequeue(self) -> Task | None:
        try:
            task = super().dequeue()
        except RefusedMessage as refused:  # taken off the queue already: dropping it is not running it
            self.queue_outage.answered()
            self.drop(refused)
            return None
        except Exception as exc:  # any storage error: the workers back off (BackoffWorker)
            self.queue_outage.failed(exc)
            return None
        self.queue_outage.answered()
        return task

    def _deserialize_all(self, messages: list[Any]) -> list[Task]:
        # Huey's own logs a traceback for each message it can't read (the scheduler reads through here).
        tasks = []
        for data in messages:
            try:
                tasks.append(self.deserialize_task(data))
            except RefusedMessage as refused:
                self.drop(refused, "a scheduled message")
        return tasks

    def _check_revoked(self, data: Any, timestamp: Any = None, peek: bool = True) -> tuple[bool, bool]:
        if data is not EmptyData:
            try:
                if not isinstance(self.serializer.deserialize(data), RevokeFlag):
                    raise RefusedMessage("not a revoke flag")
            except RefusedMessage as refused:
                # Not revoked (the database still decides whether the job runs), and the bad flag goes.
                self.drop(refused, "a revoke flag")
                return False, True
        return super()._check_revoked(data, timestamp, peek)

    def read_schedule(self, timestamp: Any = None) -> list[Task]:
        try:
            tasks = super().read_schedule(timestamp)
        except Exception as exc:  # the scheduler polls every second anyway
            self.queue_outage.failed(exc)
            return []
        self.queue_outage.answered()
        return tasks

    def execute(self, task: Task, timestamp: Any = None) -> Any:
        # A task's own errors are handled inside; what escapes is the queue failing around it
        # (the revoked check before, clearing the revoke flag after). The job's state is in the database.
        try:
            return super().execute(task, timestamp)
        except Exception as exc:
            self.queue_outage.failed(exc)
            return None


class BackoffWorker(Worker):
    """Huey's worker, waiting longer and longer between reads while the queue is away."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outage_backoff = Backoff(*QUEUE_BACKOFF)

    def loop(self, now: Any = None) -> None:
        if self.huey.queue_outage.ongoing:
            self.stop_flag.wait(self.outage_backoff.next())
        else:
            self.outage_backoff.reset()
        super().loop(now)


class PoolimportConsumer(Consumer):
    worker_class = BackoffWorker

    def __init__(self, huey: PoolimportHuey, **options: Any) -> None:
        # huey_consumer passes its own default (10 s), which would leave a job sent to an idle consumer
        # waiting that long, and `import --wait` suspecting a dropped message (polling.QUEUED_HINT_AFTER).
        longest = polling(huey.storage.blocking)["max_delay"]
        asked = options.get("max_delay", longest)
        if asked > longest:  # debug: huey_consumer's default is lowered on every start, not worth a line
            logger.debug("reading an idle queue every %g s at the most (not %g s)", longest, asked)
        options["max_delay"] = min(asked, longest)
        super().__init__(huey, **options)
        if hasattr(signal, "SIGHUP") and attached_to_terminal():
            # Closing the terminal stops the worker the way SIGTERM does.
            self._signal_actions[signal.SIGHUP] = self._signal_actions[self._interrupt_sig]
        self.helpers: list[Periodic] = []

    def start(self) -> None:
        try:
            self.huey.check_key()
        except SecretError as exc:  # huey_consumer's own command has no error presenter: one line, exit 1
            logger.error("%s", exc)
            raise SystemExit(1) from None
        super().start()
        settings, send, queue = load_settings(), self.huey.send_import, self.huey.queue_outage
        database = Outage("database", logger)
        self.helpers = [
            StalledJobSweeper(settings, send, queue, database),
            ScheduleEnqueuer(settings, send, queue, database, holder=WORKER_NAME),
            CheckIn(settings, database, WORKER_NAME, self.workers),
        ]
        for helper in self.helpers:
            helper.start()

    def stop(self, graceful: bool = False) -> None:
        for helper in self.helpers:
            helper.stop()
        super().stop(graceful)
