"""Runs one queued job in a consumer: claim, heartbeat, import, finish. Called by the queue task."""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from poolimport.core.config import Settings
from poolimport.core.db import get_engine, get_read_engine
from poolimport.core.errors import InvalidInput, describe
from poolimport.core.events import Event, EventKind, event
from poolimport.core.imports.kinds import kind_named
from poolimport.core.imports.run import Importer, ImportResult
from poolimport.core.jobs.lifecycle import add_event, claim, finish
from poolimport.core.jobs.log import job_logger, log_event
from poolimport.core.jobs.progress import progress_folder, remove_progress, write_progress
from poolimport.core.jobs.schedule import record_outcome
from poolimport.core.models import ImportJob, JobSource, Router, utcnow
from poolimport.core.statuses import JobStatus

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"
PROGRESS_INTERVAL = 0.4
CANCELLED = "cancelled by operator"
PROGRESS_FIELDS = ("pools_done", "pools_total", "addresses_done", "addresses_total")


def _progress_values(progress: tuple[int, int, int, int] | None) -> dict[str, int]:
    return dict(zip(PROGRESS_FIELDS, progress, strict=True)) if progress else {}


class _Heartbeat(threading.Thread):
    """Writes progress and the heartbeat from its own thread and reads back a cancel request or the loss of
    the job (stalled, then retried elsewhere). On SQLite a beat that finds the write lock held by a pool
    write is skipped rather than queued: the cancel check is a read and still happens every tick, and the
    progress goes to the job's progress file (see jobs.progress), which readers see at once."""

    def __init__(self, settings: Settings, job_id: int) -> None:
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.reader = get_read_engine(settings)
        self.writer = get_engine(settings, "heartbeat")
        self.job_id = job_id
        self.interval = min(PROGRESS_INTERVAL, settings.heartbeat_interval)
        self.progress: tuple[int, int, int, int] | None = None
        self.stop_reason: str | None = None
        self._done = threading.Event()
        self.live_folder = progress_folder(settings.database_url)
        self._live_lock = threading.Lock()  # the newest progress is the one written last

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.check()
            self.beat()

    def check(self) -> None:
        try:
            with self.reader.connect() as conn:
                row = conn.execute(
                    select(ImportJob.status, ImportJob.cancel_requested).where(ImportJob.id == self.job_id)
                ).first()
        except SQLAlchemyError:
            return  # the database may be briefly unavailable; the next tick tries again
        if row is not None and row.cancel_requested:
            self.stop_reason = CANCELLED
        elif row is None or row.status != JobStatus.RUNNING:
            self.stop_reason = "job was taken over (marked stalled and retried)"

    def beat(self) -> None:
        self._write_live()
        values: dict[str, Any] = {"heartbeat_at": utcnow(), **_progress_values(self.progress)}
        try:
            with self.writer.begin() as conn:
                conn.execute(
                    update(ImportJob)
                    .where(ImportJob.id == self.job_id, ImportJob.status == JobStatus.RUNNING)
                    .values(**values)
                )
        except OperationalError:
            return  # busy (a pool write holds SQLite's lock) or briefly unavailable: next tick

    def _write_live(self) -> None:
        if self.live_folder is None:
            return
        with self._live_lock:
            # Written every beat, progress or not: it is also the job's heartbeat while another job's pool
            # holds the write lock (nothing read yet: no progress, which readers then take from the row).
            try:
                write_progress(self.live_folder, self.job_id, self.progress or (0, 0, 0, 0))
            except OSError:
                return  # the job's row still gets its progress between pools

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)

    def forget(self) -> None:
        """Once the job's row holds its final progress and status."""
        if self.live_folder is not None:
            with suppress(OSError):
                remove_progress(self.live_folder, self.job_id)


def _final_status(result: ImportResult, stop_reason: str | None) -> JobStatus:
    if stop_reason == CANCELLED:
        return JobStatus.CANCELLED
    return result.status


@dataclass
class JobRun:
    status: JobStatus
    result: ImportResult


def _final_event(status: JobStatus, result: ImportResult, error: str | None, title: str) -> Event:
    if status in (JobStatus.SUCCEEDED, JobStatus.PARTIAL):
        kind = EventKind.JOB_SUCCEEDED if status == JobStatus.SUCCEEDED else EventKind.JOB_PARTIAL
        counts = {"imported": result.pools["imported"], "failed": result.pools["failed"], **result.addresses}
        return event(kind, counts, title=title)
    if status == JobStatus.CANCELLED:
        return event(EventKind.JOB_CANCELLED, {"imported": result.pools["imported"]}, title=title)
    return event(EventKind.JOB_FAILED, {"error": error}, title=title)


def execute_job(engine: Engine, settings: Settings, job_id: int) -> JobRun | None:
    """Claim the job and run it here: a consumer's task, or `import --sync` in the operator's process."""
    logger = job_logger(settings.log_dir)
    started = time.monotonic()  # the time limit covers the whole job: connect, login, read and writes
    with engine.begin() as conn:
        if not claim(conn, job_id, WORKER_NAME):
            return None
        job = conn.execute(
            select(
                ImportJob.router_id,
                ImportJob.tenant_id,
                ImportJob.requested_by,
                ImportJob.time_limit,
                ImportJob.dry_run,
                ImportJob.kind,
                ImportJob.source,
            ).where(ImportJob.id == job_id)
        ).one()
        router_name = conn.scalar(select(Router.name).where(Router.id == job.router_id))

    def emit(happened: Event) -> None:
        with engine.begin() as conn:
            add_event(conn, job_id, happened)
        log_event(logger, job_id, happened, f"router={router_name} ")

    started_by = {
        "router_id": job.router_id,
        "tenant_id": job.tenant_id,
        "user": job.requested_by,
        "worker": WORKER_NAME,
    }
    try:
        kind = kind_named(job.kind)
    except InvalidInput as exc:  # a job queued by a newer version, or by one with more kinds
        with engine.begin() as conn:
            finish(conn, job_id, JobStatus.FAILED, error=str(exc))
        emit(event(EventKind.JOB_FAILED, {"error": str(exc)}, title=job.kind))
        unknown = ImportResult(router=router_name or "", status=JobStatus.FAILED, dry_run=job.dry_run)
        unknown.fail(str(exc))
        return JobRun(JobStatus.FAILED, unknown)
    emit(event(EventKind.JOB_STARTED, started_by, title=kind.title))
    heartbeat = _Heartbeat(settings, job_id)

    def should_stop() -> str | None:
        if not heartbeat.stop_reason:
            # The database's word now, not the heartbeat thread's last look: a run frozen (a paused VM, a
            # stopped process) while its job was taken over wakes up here, and must see it before it writes.
            heartbeat.check()
        if heartbeat.stop_reason:
            return heartbeat.stop_reason
        if time.monotonic() - started > job.time_limit:
            return f"timed out after {job.time_limit:g} s (job time limit)"
        return None

    def on_progress(*progress: int) -> None:
        previous, heartbeat.progress = heartbeat.progress, progress  # type: ignore[assignment]
        # A new pools_done count only ever comes between pool transactions, when a write can't wait
        # on our own lock: record it at once rather than on the next beat.
        if previous is None or previous[0] != progress[0]:
            heartbeat.beat()

    heartbeat.start()
    try:
        result = Importer(
            engine,
            settings,
            kind,
            dry_run=job.dry_run,
            on_event=emit,
            on_progress=on_progress,
            should_stop=should_stop,
        ).run(job.router_id)
    except Exception as exc:
        heartbeat.stop()
        message = f"internal error: {describe(exc)}"
        logger.exception("job=%s crashed", job_id)
        with engine.begin() as conn:
            finished = finish(conn, job_id, JobStatus.FAILED, error=message)
            backing_off = _schedule_outcome(conn, job.source, job.router_id, finished, JobStatus.FAILED)
        heartbeat.forget()
        emit(event(EventKind.JOB_FAILED, {"error": message}, title=kind.title))
        if backing_off is not None:
            emit(backing_off)
        crashed = ImportResult(router=router_name or "", status=JobStatus.FAILED, dry_run=job.dry_run)
        crashed.fail(message)
        return JobRun(JobStatus.FAILED, crashed)
    heartbeat.stop()
    status = _final_status(result, heartbeat.stop_reason)
    error = "; ".join(str(e["message"]) for e in result.errors[:3]) or None
    with engine.begin() as conn:
        if heartbeat.progress is not None:
            conn.execute(
                update(ImportJob).where(ImportJob.id == job_id).values(**_progress_values(heartbeat.progress))
            )
        finished = finish(
            conn,
            job_id,
            status,
            error=error if status != JobStatus.SUCCEEDED else None,
            result=result.to_dict(),
        )
        backing_off = _schedule_outcome(conn, job.source, job.router_id, finished, status)
    heartbeat.forget()
    emit(_final_event(status, result, error, kind.title))
    if backing_off is not None:
        emit(backing_off)
    return JobRun(status, result)


def _schedule_outcome(
    conn: Connection, source: str, router_id: int, finished: bool, status: JobStatus
) -> Event | None:
    """A scheduled job that this run finished moves its router's schedule on (or backs it off)."""
    if not finished or source != JobSource.SCHEDULE:
        return None
    return record_outcome(conn, router_id, status)
