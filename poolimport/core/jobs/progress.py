"""A running job's progress where its row can't take it yet.

On SQLite a pool is written in one transaction, which holds the database's only write lock until the
pool is written: for a /12, seconds in which the job's row can't be updated. So the job's runner also keeps
its progress in a small file per job, in a folder beside the database file, and readers show whichever of
the row and the file is further along while the job runs. Other databases take progress in the row at
once, and have no such folder.
"""

from __future__ import annotations

import os
import threading
from contextlib import suppress
from pathlib import Path

from sqlalchemy import URL
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from poolimport.core.private_files import PRIVATE_FILE, private_dir

# (pools_done, pools_total, addresses_done, addresses_total), as the job's row holds them.
Progress = tuple[int, int, int, int]


def progress_folder(database_url: str | URL) -> Path | None:
    """`<database file>-progress` for a SQLite database file; None for any other database."""
    try:
        parsed = make_url(database_url)
    except (ArgumentError, ValueError):
        return None
    if parsed.get_backend_name() != "sqlite" or "uri" in parsed.query:
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return folder_beside(Path(parsed.database))


def folder_beside(database: Path) -> Path:
    return database.with_name(database.name + "-progress")


def _file(folder: Path, job_id: int) -> Path:
    return folder / str(job_id)


def write_progress(folder: Path, job_id: int, progress: Progress) -> None:
    """Replaced whole (a reader sees the old progress or the new one, never half of one)."""
    private_dir(folder)
    # One temporary name per thread: the heartbeat and the job's own thread may both write.
    temporary = folder / f".{job_id}.{threading.get_ident()}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(" ".join(str(value) for value in progress))
    os.replace(temporary, _file(folder, job_id))


def read_progress(folder: Path, job_id: int) -> Progress | None:
    """None when there is no file (the job never wrote one, or it ended) or it can't be read."""
    try:
        values = tuple(int(word) for word in _file(folder, job_id).read_text(encoding="ascii").split())
    except (OSError, ValueError):
        return None
    if len(values) != 4:
        return None
    return values


def remove_progress(folder: Path, job_id: int) -> None:
    with suppress(FileNotFoundError):
        _file(folder, job_id).unlink()


def further_along(stored: Progress, live: Progress | None) -> Progress:
    """Progress only moves forward within a job: the newer of two readings is the one further along."""
    if live is None:
        return stored
    return live if (live[0], live[2]) > (stored[0], stored[2]) else stored
