"""poolimport.core.jobs.progress: a running job's progress file beside a SQLite database, and how the job's
row shows it (core.jobs.queries.job_row), on a real SQLite file."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
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
from poolimport.core.jobs.queries import job_row
from poolimport.core.models import ImportJob
from tests.conftest import ADMIN


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
