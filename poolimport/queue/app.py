"""Huey instances built from settings (POOLIMPORT_QUEUE_URL: sqlite:///path, the default, or redis://…),
and the queue as senders use it.

Each process builds its Huey once, from the settings it runs with: a consumer the one `poolimport.queue.huey`
names, the CLI and the TUI a QueueClient of their own. Nothing re-reads the settings per message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huey.storage import BaseStorage, RedisStorage, SqliteStorage

from poolimport.core.config import ConfigError, Settings, masked_url, sqlite_queue_file
from poolimport.core.private_files import make_private, private_dir, private_file, sqlite_files
from poolimport.queue.consumer import PoolimportHuey

NAME = "poolimport"


def storage_for(url: str, home: Path) -> tuple[type[BaseStorage], dict[str, Any]]:
    path = sqlite_queue_file(url)
    if path is not None:
        if not path.parent.is_dir():
            # Only POOLIMPORT_HOME is made on demand: a queue elsewhere that nobody consumes would
            # take every job and leave it queued forever.
            if path.parent != home:
                raise ConfigError(f"the queue folder {path.parent} does not exist: create it or fix the URL")
            private_dir(path.parent)
        # SQLite would make it 0644, and its WAL and SHM files take its mode.
        if not private_file(path):
            make_private(sqlite_files(path))
        return SqliteStorage, {"filename": str(path), "timeout": 30}
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStorage, {"url": url, "blocking": True, "read_timeout": 1}
    raise ConfigError(
        f"unsupported queue URL {masked_url(url)!r}: use sqlite:///PATH or redis://HOST:PORT/DB"
    )


def make_huey(settings: Settings) -> PoolimportHuey:
    """A Huey on the settings' queue, signing with their key file, its task registered."""
    storage_class, options = storage_for(settings.queue_url, settings.home)
    # Job state lives in the database, not in Huey's result store (Result.get() pops it).
    instance = PoolimportHuey(
        NAME, key_file=settings.key_file, results=False, storage_class=storage_class, **options
    )
    return instance


class QueueClient:
    """What the CLI and the TUI send through: job ids, on one Huey built once from their settings."""

    def __init__(self, huey: PoolimportHuey) -> None:
        self.huey = huey
        self.send_import = huey.send_import  # the Huey's own: no step between a job and its message

    @classmethod
    def from_settings(cls, settings: Settings) -> QueueClient:
        return cls(make_huey(settings))

    def revoke(self, task_id: str) -> None:
        self.huey.revoke_by_id(task_id)

    def pending(self) -> int:
        """The number of waiting tasks; raises when the queue can't be reached."""
        return int(self.huey.pending_count())
