"""Build the Huey instance from POOLIMPORT_QUEUE_URL: sqlite:///path (default) or redis://…"""

from __future__ import annotations

from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey

from poolimport.core.config import ConfigError, Settings, load_settings


def make_huey(settings: Settings) -> Huey:
    url = settings.queue_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # Job state lives in the database, not in Huey's result store (Result.get() pops it).
        return SqliteHuey("poolimport", filename=str(path), results=False, timeout=30)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("poolimport", url=url, results=False, blocking=True, read_timeout=1)
    raise ConfigError(f"unsupported queue URL {url!r}: use sqlite:///PATH or redis://HOST:PORT/DB")


huey = make_huey(load_settings())


def send_import(job_id: int) -> str:
    from poolimport.queue.tasks import import_pools

    return str(import_pools(job_id).id)


def revoke_task(task_id: str) -> None:
    huey.revoke_by_id(task_id)
