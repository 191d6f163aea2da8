"""Runs one queued job in a consumer: claim, heartbeat, import, finish. Called by the queue task."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from sqlalchemy import Engine, select, update

from poolimport.core.config import Settings
from poolimport.core.importer import ImportResult, Importer
from poolimport.core.jobs import add_event, claim, finish
from poolimport.core.joblog import job_logger, log_event
from poolimport.core.models import ImportJob, Router, utcnow

WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"
PROGRESS_INTERVAL = 0.4
PROGRESS_FIELDS = ("pools_done", "pools_total", "addresses_done", "addresses_total")


def _progress_values(progress: tuple[int, int, int, int] | None) -> dict[str, int]:
    return dict(zip(PROGRESS_FIELDS, progress, strict=True)) if progress else {}


class _Heartbeat(threading.Thread):
    """Writes progress and the heartbeat from its own thread, so a long pool write never blocks them in the importer,
    and reads back a cancel request or the loss of the job (another consumer retried it)."""

    def __init__(self, engine: Engine, job_id: int, interval: float) -> None:
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.engine, self.job_id, self.interval = engine, job_id, interval
        self.progress: tuple[int, int, int, int] | None = None
        self.stop_reason: str | None = None
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(min(PROGRESS_INTERVAL, self.interval)):
            self.beat()

    def beat(self) -> None:
        values: dict[str, Any] = {"heartbeat_at": utcnow(), **_progress_values(self.progress)}
        try:
            with self.engine.begin() as conn:
                updated = conn.execute(
                    update(ImportJob).where(ImportJob.id == self.job_id, ImportJob.status == "running").values(**values)
                ).rowcount
                cancel = conn.scalar(select(ImportJob.cancel_requested).where(ImportJob.id == self.job_id))
        except Exception:  # the database may be briefly unavailable; the next beat tries again
            logging.getLogger(__name__).warning("heartbeat for job %s failed", self.job_id, exc_info=True)
            return
        if cancel:
            self.stop_reason = "cancelled by operator"
        elif not updated:
            self.stop_reason = "job was taken over (marked stalled and retried)"

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)


def _final_status(result: ImportResult, stop_reason: str | None) -> str:
    if stop_reason == "cancelled by operator":
        return "cancelled"
    return result.status


def run_job(engine: Engine, settings: Settings, job_id: int) -> str | None:
    """Returns the job's final status, or None when there was nothing to run (cancelled, or already claimed)."""
    logger = job_logger(settings.log_dir)
    with engine.begin() as conn:
        if not claim(conn, job_id, WORKER_NAME):
            return None
        job = conn.execute(select(ImportJob.router_id, ImportJob.tenant_id, ImportJob.requested_by, ImportJob.time_limit,
                                  ImportJob.dry_run).where(ImportJob.id == job_id)).one()
        router_name = conn.scalar(select(Router.name).where(Router.id == job.router_id))

    def emit(level: str, message: str, data: dict[str, Any]) -> None:
        with engine.begin() as conn:
            add_event(conn, job_id, level, message, data)
        log_event(logger, job_id, level, f"router={router_name} {message}", data)

    emit("info", "Starting IP pools import job",
         {"router_id": job.router_id, "tenant_id": job.tenant_id, "user": job.requested_by, "worker": WORKER_NAME})
    heartbeat = _Heartbeat(engine, job_id, settings.heartbeat_interval)
    started = time.monotonic()

    def should_stop() -> str | None:
        if heartbeat.stop_reason:
            return heartbeat.stop_reason
        if time.monotonic() - started > job.time_limit:
            return f"timed out after {job.time_limit:g} s"
        return None

    def on_progress(*progress: int) -> None:
        heartbeat.progress = progress  # type: ignore[assignment]

    heartbeat.start()
    try:
        result = Importer(engine, settings, dry_run=job.dry_run, on_event=emit, on_progress=on_progress,
                          should_stop=should_stop).run(job.router_id)
    except Exception as exc:
        heartbeat.stop()
        message = f"internal error: {exc.__class__.__name__}: {exc}"
        logger.exception("job=%s crashed", job_id)
        with engine.begin() as conn:
            finish(conn, job_id, "failed", error=message)
        emit("error", "IP pools import job failed", {"error": message})
        return "failed"
    heartbeat.stop()
    status = _final_status(result, heartbeat.stop_reason)
    error = "; ".join(str(e["message"]) for e in result.errors[:3]) or None
    with engine.begin() as conn:
        if heartbeat.progress is not None:
            conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(**_progress_values(heartbeat.progress)))
        finish(conn, job_id, status, error=error if status != "succeeded" else None, result=result.to_dict())
    if status in ("succeeded", "partial"):
        word = "successfully" if status == "succeeded" else "with errors"
        emit("info" if status == "succeeded" else "warning", f"IP pools import completed {word}",
             {"imported": result.pools["imported"], "failed": result.pools["failed"], **result.addresses})
    elif status == "cancelled":
        emit("warning", "IP pools import job cancelled", {"imported": result.pools["imported"]})
    else:
        emit("error", "IP pools import job failed", {"error": error})
    return status

