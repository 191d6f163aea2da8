"""A running job's progress where its row can't take it yet.

On SQLite a pool is written in one transaction, which holds the database's only write lock until the
pool is written: for a /12, seconds in which the job's row can't be updated. So the job's runner also keeps
its progress in a small file per job, in a folder beside the database file, and readers show whichever of
the row and the file is further along while the job runs. Other databases take progress in the row at
once, and have no such folder.

The file is also the job's sign of life while its row can't take a heartbeat (a pool longer than three
heartbeat intervals would otherwise read as stalled, and be retried while it runs): the runner rewrites it
every beat, and a job is last heard from at the newer of its row's heartbeat and its file's time (lifecycle
.last_heard_from, for one job). SQL can't read files, so what decides among many jobs in SQL (the lists'
running and stalled filters, the stalled sweep, `flush --stuck`) first reads which files were written since
the stall cutoff (`written_since`) and counts those jobs as heard from. A job that stopped running leaves its
file to the sweep (`remove_leftovers`): its runner removes it on finishing, but a killed one can't.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import URL
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

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


def session_folder(session: Session) -> Path | None:
    """The progress folder of the database `session` reads."""
    return progress_folder(session.get_bind().engine.url)


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


def _written_at(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


def last_written(folder: Path, job_id: int) -> datetime | None:
    """When the job's runner last wrote its file; None when there is none."""
    return _written_at(_file(folder, job_id))


def _job_id(name: str) -> int | None:
    """The job a file is about: `<id>`, or `.<id>.<thread>` for one being replaced."""
    word = name.split(".")[1] if name.startswith(".") and name.count(".") == 2 else name
    return int(word) if word.isascii() and word.isdigit() else None


def written_since(folder: Path | None, since: datetime) -> frozenset[int]:
    """The jobs whose file was written at `since` or later: heard from then, whatever their row says."""
    if folder is None:
        return frozenset()
    try:
        names = os.listdir(folder)
    except OSError:
        return frozenset()
    # Only the files themselves: a temporary one is a write that may never have completed.
    heard = set()
    for name in names:
        job_id = None if name.startswith(".") else _job_id(name)
        written = _written_at(folder / name) if job_id is not None else None
        if job_id is not None and written is not None and written >= since:
            heard.add(job_id)
    return frozenset(heard)


def files_of(folder: Path) -> frozenset[int]:
    """The jobs with a file (or a temporary one) in the folder."""
    try:
        names = os.listdir(folder)
    except OSError:
        return frozenset()
    return frozenset(job_id for job_id in map(_job_id, names) if job_id is not None)


def remove_leftovers(folder: Path, ended: Collection[int]) -> None:
    """Remove the files, temporary ones too, of the `ended` jobs (no longer running): a consumer killed
    mid-job (or mid-write) leaves them, and nothing else would."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if _job_id(name) in ended:
            with suppress(OSError):
                (folder / name).unlink()
