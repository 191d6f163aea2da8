"""Job records: enqueue, claim, finish, cancel, retry, flush. The database is the source of truth for jobs.

The import kinds, and with them the whole import (router client, pool writer, the key file's cryptography),
are imported where a job is created or named, not at the top: everything that reads jobs imports this
module, the CLI's lists and the schedule among them, and must not pay for an import it doesn't run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from poolimport.core.access import audit
from poolimport.core.access.tenancy import NotFound, Scope
from poolimport.core.config import Settings
from poolimport.core.db import get_engine, get_read_engine, session_scope
from poolimport.core.errors import InvalidInput, Refusal, refusals_about
from poolimport.core.events import Event, EventKind, event
from poolimport.core.jobs.progress import last_written, session_folder, written_since
from poolimport.core.models import ImportJob, JobEvent, JobSource, Router, utcnow
from poolimport.core.statuses import LIVE_JOB_STATUSES, RETRYABLE_JOB_STATUSES, JobStatus

STALL_FACTOR = 3
# Sends job_id to the queue and returns the queue's task id. Injected: core never imports the queue.
Sender = Callable[[int], str]
# The system retrying stalled jobs: every tenant, recorded as the requester of the attempts it makes.
AUTO_RETRY = Scope(operator="auto-retry", tenant_ids=None, role="admin", via="auto-retry of a stalled job")


class JobRefused(Refusal):
    """The request can't be honoured (router busy, job not retryable, …); the message says why."""


def stall_cutoff(now: datetime, heartbeat_interval: float) -> datetime:
    return now - timedelta(seconds=STALL_FACTOR * heartbeat_interval)


def last_heard_from(job: ImportJob) -> datetime:
    """The job's last sign of life: its heartbeat (else its start, else its queueing), or on SQLite its
    progress file where that was written later (see jobs.progress)."""
    beat = job.heartbeat_at or job.started_at or job.queued_at
    session = object_session(job)
    folder = session_folder(session) if session is not None else None
    written = last_written(folder, job.id) if folder is not None else None
    return max(beat, written) if written is not None else beat


def effective_status(job: ImportJob, heartbeat_interval: float, now: datetime | None = None) -> str:
    """`running` not heard from for three intervals reads as `stalled`, whoever reads it."""
    if job.status != JobStatus.RUNNING:
        return job.status
    cutoff = stall_cutoff(now or utcnow(), heartbeat_interval)
    return JobStatus.STALLED if last_heard_from(job) < cutoff else JobStatus.RUNNING


def add_event(conn: Connection | Session, job_id: int, happened: Event) -> None:
    conn.execute(
        insert(JobEvent).values(
            job_id=job_id,
            kind=happened.kind,
            level=happened.level,
            message=happened.message,
            data_json=json.dumps(happened.data) if happened.data else None,
            created_at=utcnow(),
        )
    )


def live_job(session: Session, router_id: int, kind: str | None = None) -> ImportJob | None:
    """The router's queued or running job of `kind` (default: the default kind, IP pools)."""
    if kind is None:
        from poolimport.core.imports.kinds import DEFAULT_KIND

        kind = DEFAULT_KIND
    live = ImportJob.status.in_(LIVE_JOB_STATUSES)
    return session.scalar(
        select(ImportJob).where(ImportJob.router_id == router_id, ImportJob.kind == kind, live)
    )


def _title(kind: str) -> str:
    from poolimport.core.imports.kinds import kind_named

    try:
        return kind_named(kind).title
    except InvalidInput:
        return kind


def _busy_message(router: Router, job: ImportJob, heartbeat_interval: float) -> str:
    status = effective_status(job, heartbeat_interval)
    hint = " (retry it or run `poolimport flush --stuck`)" if status == JobStatus.STALLED else ""
    return f"router {router.name} already has job #{job.id} ({status}){hint}"


def create_job(
    session: Session,
    scope: Scope,
    router: Router,
    *,
    time_limit: float,
    heartbeat_interval: float,
    dry_run: bool = False,
    retry_of: ImportJob | None = None,
    source: JobSource = JobSource.QUEUE,
    kind: str | None = None,
) -> ImportJob:
    """Insert a queued job of `kind` (the retried job's, or pools); the partial unique index makes a
    second live job per router and kind impossible. A refusal (a viewer, a router that needs its password
    again, a busy router) is about the router: it is recorded against it, where its tenant's operators
    read it."""
    from poolimport.core.imports.kinds import DEFAULT_KIND, kind_named
    from poolimport.core.secrets.keys import password_needed_message

    with refusals_about(audit.about_router(router)):
        scope.require_write("start imports")
        kind = kind or (retry_of.kind if retry_of else DEFAULT_KIND)
        kind_named(kind)  # refuses a kind this installation doesn't know
        needed = password_needed_message(router)
        if needed:
            raise JobRefused(needed)
        held = live_job(session, router.id, kind)
        if held is not None:
            raise JobRefused(_busy_message(router, held, heartbeat_interval))
        job = ImportJob(
            router_id=router.id,
            tenant_id=router.tenant_id,
            requested_by=scope.operator,
            asked_via=scope.via or None,
            status=JobStatus.QUEUED,
            attempt=retry_of.attempt + 1 if retry_of else 1,
            retry_of_id=retry_of.id if retry_of else None,
            dry_run=dry_run,
            kind=kind,
            source=source,
            time_limit=time_limit,
            queued_at=utcnow(),
        )
        session.add(job)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            held = live_job(session, router.id, kind)
            raise JobRefused(
                _busy_message(router, held, heartbeat_interval) if held else "router is busy"
            ) from None
        note = f" (attempt {job.attempt}, retry of #{retry_of.id})" if retry_of else ""
        add_event(
            session,
            job.id,
            event(EventKind.JOB_QUEUED, {"router_id": router.id}, operator=scope.operator, note=note),
        )
        if source == JobSource.SCHEDULE:
            return job  # the audited `schedule set` made it; the job's row says so
        notes = (["dry run"] if dry_run else []) + ([f"retry of #{retry_of.id}"] if retry_of else [])
        audit.record(
            session,
            scope,
            "retry" if retry_of else f"import.{source}",
            tenant_id=router.tenant_id,
            router_id=router.id,
            job_id=job.id,
            subject=router.name,
            detail="; ".join(notes) or None,
        )
        return job


def dispatch(engine: Engine, job_id: int, send: Sender) -> None:
    """Hand a committed job to the queue. When the queue is unreachable the job is deleted again (with its
    events): nothing was imported, nothing is left to retry, and its router is free."""
    try:
        task_id = send(job_id)
    except Exception as exc:
        from poolimport.core.secrets.box import SecretError

        message = f"queue unreachable: {exc.__class__.__name__}: {exc}"
        if isinstance(exc, SecretError):  # no key file to sign with: not the queue's fault, and it says why
            message = str(exc)
        with engine.begin() as conn:
            job = select(ImportJob.router_id).where(ImportJob.id == job_id).scalar_subquery()
            router = conn.scalar(select(Router.name).where(Router.id == job))
            # Only while still queued: a job an operator already cancelled stays on record.
            conn.execute(
                delete(ImportJob).where(ImportJob.id == job_id, ImportJob.status == JobStatus.QUEUED)
            )
        raise JobRefused(f"router {router} not imported, no job created: {message}") from None
    with engine.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(task_id=task_id))


def claim(conn: Connection, job_id: int, worker: str) -> bool:
    """queued -> running, atomically; False when it was cancelled or another consumer got there first."""
    now = utcnow()
    result = conn.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == JobStatus.QUEUED)
        .values(status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, worker=worker)
    )
    return result.rowcount == 1


def finish(
    conn: Connection,
    job_id: int,
    status: str,
    *,
    error: str | None = None,
    result: dict[str, Any] | None = None,
    expect: str = JobStatus.RUNNING,
) -> bool:
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "error": error}
    if result is not None:
        values["result_json"] = json.dumps(result)
    done = conn.execute(
        update(ImportJob).where(ImportJob.id == job_id, ImportJob.status == expect).values(**values)
    )
    return done.rowcount == 1


def get_job(session: Session, scope: Scope, job_id: int) -> ImportJob:
    job = session.scalar(scope.jobs().where(ImportJob.id == job_id))
    if job is None:
        raise NotFound(f"no job #{job_id}")
    return job


def cancel(
    session: Session, scope: Scope, job: ImportJob, revoke: Callable[[str], None] | None = None
) -> str:
    """A queued job is cancelled at once; a running one is asked to stop at its next batch."""
    scope.require_write("cancel jobs")
    if job.status == JobStatus.QUEUED:
        finish(
            session.connection(),
            job.id,
            JobStatus.CANCELLED,
            error="cancelled before it started",
            expect=JobStatus.QUEUED,
        )
        add_event(session, job.id, event(EventKind.JOB_CANCELLED_BEFORE_START, operator=scope.operator))
        _audit_job(session, scope, "cancel", job)
        if revoke and job.task_id:
            revoke(job.task_id)
        return JobStatus.CANCELLED
    if job.status == JobStatus.RUNNING:
        session.execute(update(ImportJob).where(ImportJob.id == job.id).values(cancel_requested=True))
        add_event(session, job.id, event(EventKind.JOB_CANCEL_REQUESTED, operator=scope.operator))
        _audit_job(session, scope, "cancel", job, "asked to stop at its next check")
        return "cancelling"
    raise JobRefused(f"job #{job.id} is {job.status}: nothing to cancel")


def dismiss(session: Session, scope: Scope, job: ImportJob, heartbeat_interval: float) -> None:
    """A failed job an operator has dealt with leaves the failed views and retry-all; it stays in the
    history with its log, which says who dismissed it."""
    scope.require_write("dismiss jobs")
    status = effective_status(job, heartbeat_interval)
    if status != JobStatus.FAILED:
        raise JobRefused(f"job #{job.id} is {status}: only failed jobs can be dismissed")
    if job.dismissed_at is not None:
        raise JobRefused(f"job #{job.id} is already dismissed")
    session.execute(update(ImportJob).where(ImportJob.id == job.id).values(dismissed_at=utcnow()))
    add_event(session, job.id, event(EventKind.JOB_DISMISSED, operator=scope.operator))
    _audit_job(session, scope, "dismiss", job)


def retire_stalled(
    session: Session, job: ImportJob, reason: str, *, stalled_before: datetime | None = None
) -> bool:
    """running -> failed, saying why. False when someone got there first (another consumer's sweep, an
    operator) or, given `stalled_before`, when the job has beaten since: only the caller that matched acts."""
    message = f"stalled: no heartbeat since {job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC; {reason}"
    stmt = update(ImportJob).where(ImportJob.id == job.id, ImportJob.status == JobStatus.RUNNING)
    if stalled_before is not None:
        stmt = stmt.where(ImportJob.heartbeat_at < stalled_before)
    done = session.connection().execute(
        stmt.values(status=JobStatus.FAILED, finished_at=utcnow(), error=message)
    )
    if done.rowcount != 1:
        return False
    add_event(session, job.id, event(EventKind.JOB_FAILED, {"error": message}, title=_title(job.kind)))
    session.expire(job)
    return True


def retry(
    session: Session, scope: Scope, job: ImportJob, *, time_limit: float, heartbeat_interval: float
) -> ImportJob:
    """A new attempt linked to `job`; a stalled job is first marked failed so its router is free. A job is
    retried once: after that its retry is the attempt to retry (a chain, not siblings)."""
    status = effective_status(job, heartbeat_interval)
    if status not in RETRYABLE_JOB_STATUSES:
        raise JobRefused(
            f"job #{job.id} is {status}: only failed, partial, stalled or cancelled jobs can be retried"
        )
    scope.require_write("retry jobs")
    retried_as = session.scalar(select(func.min(ImportJob.id)).where(ImportJob.retry_of_id == job.id))
    if retried_as is not None:
        raise JobRefused(f"job #{job.id} was retried already as #{retried_as}: retry that")
    router = session.get(Router, job.router_id)
    assert router is not None
    if status == JobStatus.STALLED:
        retire_stalled(session, job, "retried")
    return create_job(
        session,
        scope,
        router,
        time_limit=time_limit,
        heartbeat_interval=heartbeat_interval,
        dry_run=job.dry_run,
        retry_of=job,
    )


def stalled_jobs(session: Session, scope: Scope, heartbeat_interval: float) -> list[ImportJob]:
    """Running jobs not heard from since the cutoff: neither in their row nor in a progress file."""
    cutoff = stall_cutoff(utcnow(), heartbeat_interval)
    stmt = scope.jobs().where(ImportJob.status == JobStatus.RUNNING, ImportJob.heartbeat_at < cutoff)
    heard = written_since(session_folder(session), cutoff)
    if heard:
        stmt = stmt.where(ImportJob.id.not_in(heard))
    return list(session.scalars(stmt))


def flush_stuck(session: Session, scope: Scope, heartbeat_interval: float) -> list[int]:
    scope.require_write("flush jobs")
    flushed = []
    for job in stalled_jobs(session, scope, heartbeat_interval):
        if retire_stalled(session, job, f"flushed by {scope.operator}"):
            _audit_job(session, scope, "flush", job, "stalled job marked failed")
            flushed.append(job.id)
    return flushed


def _audit_job(
    session: Session, scope: Scope, action: str, job: ImportJob, detail: str | None = None
) -> None:
    audit.record(session, scope, action, detail=detail, **audit.about_job(job))


@dataclass(frozen=True)
class StalledJobHandled:
    """What a sweep did with one stalled job: retried it as `retry_id`, or (None) only marked it failed."""

    job_id: int
    retry_id: int | None
    note: str


def automatic_retries_used(session: Session, job: ImportJob) -> int:
    """The automatic retries that led to `job`: the run of auto-retry attempts back along retry_of."""
    used = 0
    current: ImportJob | None = job
    while current is not None and current.requested_by == AUTO_RETRY.operator:
        used += 1
        current = session.get(ImportJob, current.retry_of_id) if current.retry_of_id else None
    return used


def _not_retried_reason(allowed: int, source: str) -> str:
    if source == JobSource.SYNC:
        return "not retried automatically: it ran in a terminal (`import --sync`), which is gone"
    if allowed == 0:
        return "not retried automatically: POOLIMPORT_STALLED_RETRIES is 0"
    retries = "1 automatic retry is" if allowed == 1 else f"{allowed} automatic retries are"
    return f"not retried automatically: its {retries} used"


def _handle_stalled(engine: Engine, settings: Settings, job_id: int) -> StalledJobHandled | None:
    cutoff = stall_cutoff(utcnow(), settings.heartbeat_interval)
    with session_scope(engine) as session:
        job = session.get(ImportJob, job_id)
        if job is None or effective_status(job, settings.heartbeat_interval) != JobStatus.STALLED:
            return None  # gone, or heard from since the sweep read it (its row, or its progress file)
        since = f"no heartbeat since {job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
        used = automatic_retries_used(session, job)
        if job.source == JobSource.SYNC or used >= settings.stalled_retries:
            reason = _not_retried_reason(settings.stalled_retries, job.source)
            if not retire_stalled(session, job, reason, stalled_before=cutoff):
                return None
            return StalledJobHandled(job_id, None, f"{since}; {reason}")
        if not retire_stalled(session, job, "retried automatically", stalled_before=cutoff):
            return None
        router = session.get(Router, job.router_id)
        assert router is not None  # a job's router can't go while the job is live (foreign key)
        attempt = create_job(
            session,
            AUTO_RETRY,
            router,
            time_limit=settings.job_time_limit,
            heartbeat_interval=settings.heartbeat_interval,
            dry_run=job.dry_run,
            retry_of=job,
        )
        count = f"automatic retry {used + 1} of {settings.stalled_retries}"
        retried = {"retry_id": attempt.id}
        add_event(
            session,
            job_id,
            event(EventKind.JOB_AUTO_RETRIED, retried, retry_id=attempt.id, count=count, since=since),
        )
        queued = event(
            EventKind.JOB_QUEUED_AS_AUTO_RETRY, {"retry_of": job_id}, job_id=job_id, since=since, count=count
        )
        add_event(session, attempt.id, queued)
        return StalledJobHandled(job_id, attempt.id, f"{since}; retried automatically as job #{attempt.id}")


def auto_retry_stalled(settings: Settings, send: Sender) -> list[StalledJobHandled]:
    """Every consumer sweeps: each stalled job, across all tenants, is retried automatically (up to
    `stalled_retries` automatic retries in a row) or marked failed saying why. The retire is one
    conditional UPDATE, so when several consumers sweep at once exactly one of them acts on a job."""
    with session_scope(get_read_engine(settings)) as session:
        # Read first with the reader: on SQLite a sweep that finds nothing never takes the write lock.
        stalled = [job.id for job in stalled_jobs(session, AUTO_RETRY, settings.heartbeat_interval)]
    engine = get_engine(settings)
    handled = []
    for job_id in stalled:
        try:
            outcome = _handle_stalled(engine, settings, job_id)
        except JobRefused:  # the router got another job meanwhile; all rolled back, look again next sweep
            continue
        if outcome is None:
            continue  # another consumer got there first, or the job beat again
        if outcome.retry_id is not None:
            try:
                dispatch(engine, outcome.retry_id, send)
            except JobRefused as exc:  # the queue is away: dispatch removed the retry again
                outcome = replace(outcome, note=f"{outcome.note}, which could not be queued: {exc}")
        handled.append(outcome)
    return handled
