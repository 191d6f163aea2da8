"""poolimport.core.jobs.progress: a running job's progress file beside a SQLite database, how the job's row
shows it (core.jobs.queries.job_row), the file as the job's sign of life while its row can't be written, and
the sweep of files left behind, on a real SQLite file."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from poolimport.core.access.tenancy import find_router
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.jobs import lifecycle as jobs
from poolimport.core.jobs.progress import (
    further_along,
    progress_folder,
    read_progress,
    remove_progress,
    write_progress,
)
from poolimport.core.jobs.queries import FAILED_OR_STALLED, job_row, list_jobs
from poolimport.core.models import ImportJob, utcnow
from poolimport.queue.outage import Outage
from poolimport.queue.sweeper import StalledJobSweeper
from tests.conftest import ADMIN

LOGGER = logging.getLogger(__name__)


def test_the_folder_is_beside_a_sqlite_database_file_and_nowhere_else(tmp_path: Path) -> None:
    assert progress_folder(f"sqlite:///{tmp_path}/data/pi.db") == tmp_path / "data" / "pi.db-progress"
    for url in (
        "postgresql+psycopg://pi@db/pools",
        "sqlite://",
        "sqlite:///:memory:",
        f"sqlite:///file:{tmp_path}/pi.db?uri=true",  # named in SQLite's own syntax: left alone
        "not a url",
    ):
        assert progress_folder(url) is None, url


def test_progress_is_written_whole_read_back_and_removed(tmp_path: Path) -> None:
    folder = tmp_path / "pi.db-progress"
    assert read_progress(folder, 7) is None
    old_umask = os.umask(0)
    try:
        write_progress(folder, 7, (0, 3, 5000, 9000))
        write_progress(folder, 7, (1, 3, 6000, 9000))
    finally:
        os.umask(old_umask)
    assert read_progress(folder, 7) == (1, 3, 6000, 9000)
    assert read_progress(folder, 8) is None
    assert os.listdir(folder) == ["7"]  # no temporary file left behind
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "7").stat().st_mode) == 0o600
    remove_progress(folder, 7)
    remove_progress(folder, 7)  # gone already: nothing to do
    assert read_progress(folder, 7) is None


@pytest.mark.parametrize("text", ["", "1 2 3", "1 2 3 4 5", "a b c d"])
def test_a_file_that_is_not_four_numbers_is_no_progress(tmp_path: Path, text: str) -> None:
    (tmp_path / "7").write_text(text)
    assert read_progress(tmp_path, 7) is None


def test_the_reading_further_along_wins() -> None:
    row = (1, 3, 6000, 9000)
    assert further_along(row, None) == row
    assert further_along(row, (1, 3, 8000, 9000)) == (1, 3, 8000, 9000)
    assert further_along(row, (2, 3, 6000, 9000)) == (2, 3, 6000, 9000)
    assert further_along(row, (1, 3, 6000, 9000)) == row
    assert further_along(row, (1, 3, 5000, 9000)) == row  # a file written before the row's last update
    assert further_along(row, (0, 3, 9000, 9000)) == row  # pools done count first


@pytest.fixture
def running_job(engine: Engine, add_router: Callable[..., int]) -> int:
    add_router(name="r1", port=1)
    with session_scope(engine) as session:
        job = jobs.create_job(
            session, ADMIN, find_router(session, ADMIN, "r1"), time_limit=60, heartbeat_interval=10
        )
        assert jobs.claim(session.connection(), job.id, "here:1")
        values = {"pools_done": 0, "pools_total": 1, "addresses_done": 0, "addresses_total": 9000}
        session.execute(update(ImportJob).where(ImportJob.id == job.id).values(**values))
        return job.id


def shown(engine: Engine, job_id: int) -> tuple[str, int, int]:
    with session_scope(engine) as session:
        row = job_row(jobs.get_job(session, ADMIN, job_id), 10)
    return row["status"], row["pools_done"], row["addresses_done"]


def test_a_running_jobs_row_shows_its_progress_file(
    engine: Engine, settings: Settings, running_job: int
) -> None:
    folder = progress_folder(settings.database_url)
    assert folder is not None
    assert shown(engine, running_job) == ("running", 0, 0)
    write_progress(folder, running_job, (0, 1, 4000, 9000))
    assert shown(engine, running_job) == ("running", 0, 4000)
    with engine.begin() as conn:
        jobs.finish(conn, running_job, "succeeded")
    assert shown(engine, running_job) == ("succeeded", 0, 0)  # a file left behind is not its progress


# -- the progress file as the job's sign of life, and leftovers ----------------------------------------------


def silent_row(engine: Engine, job_id: int) -> None:
    """The row's heartbeat long past: as while one pool's transaction holds SQLite's only write lock."""
    long_ago = utcnow() - timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(heartbeat_at=long_ago))


def age_file(folder: Path, name: str) -> None:
    old = (utcnow() - timedelta(hours=1)).timestamp()
    os.utime(folder / name, (old, old))


def listed(engine: Engine, settings: Settings, status: str) -> list[int]:
    with session_scope(engine) as session:
        rows = list_jobs(session, ADMIN, settings.heartbeat_interval, status=status)
    return [row["id"] for row in rows]


def status_of(engine: Engine, settings: Settings, job_id: int) -> str:
    with session_scope(engine) as session:
        return job_row(jobs.get_job(session, ADMIN, job_id), settings.heartbeat_interval)["status"]


def never_sent(job_id: int) -> str:
    raise AssertionError(f"job #{job_id} must not be retried")


def test_a_freshly_written_progress_file_keeps_a_silent_job_running(
    engine: Engine, settings: Settings, running_job: int
) -> None:
    folder = progress_folder(settings.database_url)
    assert folder is not None
    silent_row(engine, running_job)
    write_progress(folder, running_job, (0, 1, 4000, 9000))

    assert status_of(engine, settings, running_job) == "running"
    assert running_job in listed(engine, settings, "running")
    assert running_job not in listed(engine, settings, "stalled")
    assert running_job not in listed(engine, settings, FAILED_OR_STALLED)
    assert jobs.auto_retry_stalled(settings, never_sent) == []
    with session_scope(engine) as session:
        assert jobs.flush_stuck(session, ADMIN, settings.heartbeat_interval) == []
    assert status_of(engine, settings, running_job) == "running"


def test_a_stale_progress_file_does_not_keep_a_silent_job_running(
    engine: Engine, settings: Settings, running_job: int
) -> None:
    folder = progress_folder(settings.database_url)
    assert folder is not None
    silent_row(engine, running_job)
    write_progress(folder, running_job, (0, 1, 4000, 9000))
    age_file(folder, str(running_job))

    assert status_of(engine, settings, running_job) == "stalled"
    assert running_job in listed(engine, settings, "stalled")
    assert running_job not in listed(engine, settings, "running")
    sent: list[int] = []
    [handled] = jobs.auto_retry_stalled(settings, lambda job: sent.append(job) or str(job))
    assert (handled.job_id, sent) == (running_job, [handled.retry_id])
    assert status_of(engine, settings, running_job) == "failed"


def test_one_sweep_removes_the_progress_files_of_jobs_no_longer_running(
    engine: Engine, settings: Settings, running_job: int, add_router: Callable[..., int]
) -> None:
    folder = progress_folder(settings.database_url)
    assert folder is not None
    ended = {}
    for status in ("succeeded", "failed"):
        add_router(name=f"r-{status}", port=1)
        with session_scope(engine) as session:
            router = find_router(session, ADMIN, f"r-{status}")
            job = jobs.create_job(session, ADMIN, router, time_limit=60, heartbeat_interval=10)
            assert jobs.claim(session.connection(), job.id, "gone:1")
            ended[status] = job.id
        write_progress(folder, job.id, (0, 1, 10, 9000))
        with engine.begin() as conn:
            jobs.finish(conn, job.id, status)
    write_progress(folder, running_job, (0, 1, 4000, 9000))
    # A consumer killed while it replaced a file leaves the temporary one too.
    (folder / f".{ended['failed']}.12345").write_text("0 1 20 9000")
    (folder / f".{running_job}.12345").write_text("0 1 20 9000")

    sweeper = StalledJobSweeper(settings, never_sent, Outage("queue", LOGGER), Outage("database", LOGGER))
    sweeper.tick()

    assert sorted(os.listdir(folder)) == sorted([str(running_job), f".{running_job}.12345"])
    assert read_progress(folder, running_job) == (0, 1, 4000, 9000)
