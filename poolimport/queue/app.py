"""Build the Huey instance from POOLIMPORT_QUEUE_URL: sqlite:///path (default) or redis://…"""

from __future__ import annotations

from typing import Any

from huey.storage import BaseStorage, RedisStorage, SqliteStorage

from poolimport.core.config import ConfigError, Settings, load_settings, masked_url, sqlite_queue_file
from poolimport.core.private_files import make_private, private_dir, private_file, sqlite_files
from poolimport.queue.consumer import PoolimportHuey

NAME = "poolimport"


def storage_for(url: str) -> tuple[type[BaseStorage], dict[str, Any]]:
    path = sqlite_queue_file(url)
    if path is not None:
        if not path.parent.is_dir():
            # Only POOLIMPORT_HOME is made on demand: a queue elsewhere that nobody consumes would
            # take every job and leave it queued forever.
            if path.parent != load_settings().home:
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
    storage_class, options = storage_for(settings.queue_url)
    # Job state lives in the database, not in Huey's result store (Result.get() pops it).
    instance = PoolimportHuey(
        NAME, key_file=settings.key_file, results=False, storage_class=storage_class, **options
    )
    instance.queue_url = settings.queue_url
    return instance


huey = make_huey(load_settings())


def _follow_settings() -> None:
    """A long-lived process (the TUI, a test) may change POOLIMPORT_QUEUE_URL or POOLIMPORT_HOME later."""
    settings = load_settings()
    huey.serializer.key_file = settings.key_file
    url = settings.queue_url
    if url != huey.queue_url:
        storage_class, options = storage_for(url)
        huey.storage = storage_class(NAME, **options)
        huey.queue_url = url


def send_import(job_id: int) -> str:
    _follow_settings()
    return huey.send_import(job_id)


def revoke_task(task_id: str) -> None:
    _follow_settings()
    huey.revoke_by_id(task_id)


def check_queue() -> int:
    """The number of waiting tasks; raises when the queue can't be reached."""
    _follow_settings()
    return int(huey.pending_count())
