"""Read side of jobs: lists, one job in full, events after an id. Shared by the CLI and the TUI."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session, object_session

from poolimport.core.access.tenancy import Scope
from poolimport.core.events import WORDING, EventKind
from poolimport.core.jobs.lifecycle import effective_status, get_job, stall_cutoff
from poolimport.core.jobs.progress import (
    Progress,
    further_along,
    read_progress,
    session_folder,
    written_since,
)
from poolimport.core.models import ImportJob, JobEvent, Router, utcnow
from poolimport.core.queries import contains
from poolimport.core.statuses import JobStatus

# A retry chain longer than this is cut (each attempt is one read): far beyond any real chain.
MAX_ATTEMPTS = 100


class JobRow(TypedDict):
    """A job as the CLI (`jobs --json`, `job show`) and the TUI read it; `status` is the effective one."""

    id: int
    router: str
    router_id: int
    tenant_id: int
    status: str
    attempt: int
    retry_of: int | None
    requested_by: str
    asked_via: str | None  # how: CLI, TUI, over SSH with which key, schedule, auto-retry
    kind: str
    dry_run: bool
    source: str
    queued_at: str | None
    started_at: str | None
    finished_at: str | None
    heartbeat_at: str | None
    worker: str | None
    time_limit: float
    cancel_requested: bool
    pools_done: int
    pools_total: int
    addresses_done: int
    addresses_total: int
    elapsed: float | None
    error: str | None
    result: dict[str, Any] | None
    dismissed_at: str | None  # a failed job set aside: out of the failed views, still in the history


class EventRow(TypedDict):
    id: int
    time: str | None
    kind: str | None
    level: str
    message: str
    data: dict[str, Any]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _progress(job: ImportJob) -> Progress:
    """The job's row, or while it runs on SQLite its progress file where that is further along."""
    stored = (job.pools_done, job.pools_total, job.addresses_done, job.addresses_total)
    session = object_session(job)
    if job.status != JobStatus.RUNNING or session is None:
        return stored
    folder = session_folder(session)
    return stored if folder is None else further_along(stored, read_progress(folder, job.id))


def job_row(job: ImportJob, heartbeat_interval: float, now: datetime | None = None) -> JobRow:
    now = now or utcnow()
    status = effective_status(job, heartbeat_interval, now)
    # A stalled job's clock stops at its last sign of life.
    end = job.finished_at or (job.heartbeat_at if status == JobStatus.STALLED else None) or now
    elapsed = (end - job.started_at).total_seconds() if job.started_at else None
    pools_done, pools_total, addresses_done, addresses_total = _progress(job)
    return {
        "id": job.id,
        "router": job.router.name,
        "router_id": job.router_id,
        "tenant_id": job.tenant_id,
        "status": status,
        "attempt": job.attempt,
        "retry_of": job.retry_of_id,
        "requested_by": job.requested_by,
        "asked_via": job.asked_via,
        "kind": job.kind,
        "dry_run": job.dry_run,
        "source": job.source,
        "queued_at": _iso(job.queued_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "heartbeat_at": _iso(job.heartbeat_at),
        "worker": job.worker,
        "time_limit": job.time_limit,
        "cancel_requested": job.cancel_requested,
        "pools_done": pools_done,
        "pools_total": pools_total,
        "addresses_done": addresses_done,
        "addresses_total": addresses_total,
        "elapsed": round(elapsed, 1) if elapsed is not None else None,
        "error": job.error,
        "result": json.loads(job.result_json) if job.result_json else None,
        "dismissed_at": _iso(job.dismissed_at),
    }


@dataclass(frozen=True)
class JobFilter:
    """Which jobs a list holds: those of any of `statuses` (the words as shown: `stalled` is a running job
    whose worker went quiet), with `search` in the router's name, the status or the error, in any case; of
    one router or tenant; without those dismissed, for the views of what needs someone."""

    search: str = ""
    statuses: tuple[str, ...] = ()
    router_id: int | None = None
    tenant_id: int | None = None
    dismissed: bool = True


EVERY_JOB = JobFilter()

# `failed` (the CLI's) and `retry --all-failed`: the jobs that need someone.
FAILED_OR_STALLED = "failed+stalled"


@dataclass(frozen=True)
class Liveness:
    """What tells running from stalled in SQL, as effective_status does for one job: the row's last beat
    against `cutoff`, and the jobs heard from through their progress file since (SQLite; see
    jobs.progress), read from the folder before the query."""

    cutoff: datetime
    heard: frozenset[int]


def liveness(session: Session, now: datetime, heartbeat_interval: float) -> Liveness:
    cutoff = stall_cutoff(now, heartbeat_interval)
    return Liveness(cutoff, written_since(session_folder(session), cutoff))


def status_is(status: str, live: Liveness) -> ColumnElement[bool]:
    """Jobs whose status reads `status`: stalled and running are told apart as effective_status does."""
    if status not in (JobStatus.RUNNING, JobStatus.STALLED):
        return ImportJob.status == status
    beat = func.coalesce(ImportJob.heartbeat_at, ImportJob.started_at, ImportJob.queued_at)
    heard = ImportJob.id.in_(live.heard) if live.heard else false()
    alive = or_(beat >= live.cutoff, heard)
    return and_(ImportJob.status == JobStatus.RUNNING, alive if status == JobStatus.RUNNING else ~alive)


def _any_status(statuses: Sequence[str], live: Liveness) -> ColumnElement[bool]:
    return or_(false(), *(status_is(status, live) for status in statuses))


def _search(text: str, live: Liveness) -> ColumnElement[bool]:
    words = [status for status in JobStatus if text.lower() in status]
    router = select(Router.id).where(contains(Router.name, text))
    return or_(
        ImportJob.router_id.in_(router.scalar_subquery()),
        contains(ImportJob.error, text),
        _any_status(words, live),
    )


def list_jobs(
    session: Session,
    scope: Scope,
    heartbeat_interval: float,
    *,
    status: str | None = None,
    router_id: int | None = None,
    limit: int | None = 200,
    before_id: int | None = None,
    where: JobFilter = EVERY_JOB,
    ids: Sequence[int] | None = None,
) -> list[JobRow]:
    """Newest first; `before_id` pages back through older jobs. `status` is one word or FAILED_OR_STALLED
    (the jobs that need someone, so not those dismissed); `where` and `ids` narrow further."""
    now = utcnow()
    live = liveness(session, now, heartbeat_interval)
    stmt = scope.jobs().order_by(ImportJob.id.desc()).limit(limit)
    if status:
        words = (JobStatus.FAILED, JobStatus.STALLED) if status == FAILED_OR_STALLED else (status,)
        stmt = stmt.where(_any_status(words, live))
    if status == FAILED_OR_STALLED or not where.dismissed:
        stmt = stmt.where(ImportJob.dismissed_at.is_(None))
    if where.statuses:
        stmt = stmt.where(_any_status(where.statuses, live))
    if where.search:
        stmt = stmt.where(_search(where.search, live))
    for column, wanted in (
        (ImportJob.router_id, router_id or where.router_id),
        (ImportJob.tenant_id, where.tenant_id),
    ):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    if before_id is not None:
        stmt = stmt.where(ImportJob.id < before_id)
    if ids is not None:
        stmt = stmt.where(ImportJob.id.in_(ids))
    return [job_row(job, heartbeat_interval, now) for job in session.scalars(stmt)]


def _events(scope: Scope, job_id: int) -> Select[JobEvent]:
    stmt = select(JobEvent).join(ImportJob, ImportJob.id == JobEvent.job_id).where(JobEvent.job_id == job_id)
    return scope.restrict(stmt, ImportJob.tenant_id)


def event_rows(
    session: Session, scope: Scope, job_id: int, after_id: int = 0, limit: int | None = None
) -> list[EventRow]:
    """The job's events after `after_id`, oldest first; none when the job is outside the scope."""
    stmt = _events(scope, job_id).where(JobEvent.id > after_id).order_by(JobEvent.id).limit(limit)
    return [event_row(event) for event in session.scalars(stmt)]


def event_row(event: JobEvent) -> EventRow:
    return {
        "id": event.id,
        "time": _iso(event.created_at),
        "kind": event.kind,
        "level": event.level,
        "message": event.message,
        "data": json.loads(event.data_json) if event.data_json else {},
    }


def newest_event_id_before(
    session: Session, scope: Scope, job_id: int, count: int, before_id: int | None = None
) -> int | None:
    """The id `count` events back from the newest (before `before_id`): where a tail of the log starts."""
    stmt = _events(scope, job_id).with_only_columns(JobEvent.id)
    if before_id is not None:
        stmt = stmt.where(JobEvent.id < before_id)
    return session.scalar(stmt.order_by(JobEvent.id.desc()).offset(count).limit(1))


def last_jobs_by_router(session: Session, scope: Scope, router_ids: list[int]) -> dict[int, ImportJob]:
    if not router_ids:
        return {}
    newest = (
        select(func.max(ImportJob.id))
        .where(ImportJob.router_id.in_(router_ids))
        .group_by(ImportJob.router_id)
    )
    jobs = session.scalars(scope.jobs().where(ImportJob.id.in_(newest.scalar_subquery())))
    return {job.router_id: job for job in jobs}


def event_text(event: Mapping[str, Any]) -> str:
    """The event as one line for people: the message, and its error where the message doesn't carry it."""
    error = event["data"].get("error")
    if error and str(error) not in event["message"]:
        return f"{event['message']}: {error}"
    return str(event["message"])


class PoolLine(TypedDict):
    """What a job did to one pool, from its log: every job logs its pools, only dry runs store them."""

    pool: str
    outcome: str
    addresses: int | None
    added: int
    updated: int
    stale: int
    error: str | None


class Attempt(TypedDict):
    """One job of a retry chain."""

    id: int
    attempt: int
    status: str
    requested_by: str
    queued_at: str | None
    error: str | None


class JobDetail(TypedDict):
    """One job in full (`job show`, the TUI's job detail): its row, its timings, its pools, its attempts."""

    job: JobRow
    waited: float | None  # started - queued
    ran: float | None  # finished - started
    pools: list[PoolLine]
    attempts: list[Attempt]  # the whole retry chain, first attempt first; the job itself included


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 1) if start and end else None


def pool_lines(session: Session, scope: Scope, job_id: int) -> list[PoolLine]:
    kinds = (EventKind.POOL_IMPORTED.value, EventKind.POOL_FAILED.value)
    stmt = _events(scope, job_id).where(JobEvent.kind.in_(kinds)).order_by(JobEvent.id)
    lines: list[PoolLine] = []
    for event in session.scalars(stmt):
        data = json.loads(event.data_json) if event.data_json else {}
        failed = event.kind == EventKind.POOL_FAILED
        lines.append(
            {
                "pool": str(data.get("pool", "")),
                "outcome": str(data.get("outcome", "failed" if failed else "")),
                "addresses": data.get("addresses"),
                "added": int(data.get("added", 0)),
                "updated": int(data.get("updated", 0)),
                "stale": int(data.get("stale", 0)),
                # Events logged before the error was stored beside the message carry it only in the words.
                "error": str(data.get("error") or event.message.split(": failed: ", 1)[-1])
                if failed
                else None,
            }
        )
    return lines


def retry_chain(session: Session, scope: Scope, job: ImportJob) -> list[ImportJob]:
    """Back through retry_of to the first attempt, then every later attempt of any of them."""
    chain = [job]
    first = job
    while first.retry_of_id is not None and len(chain) < MAX_ATTEMPTS:
        earlier = session.scalar(scope.jobs().where(ImportJob.id == first.retry_of_id))
        if earlier is None:  # removed, or (never) another tenant's
            break
        chain.append(earlier)
        first = earlier
    seen = {member.id for member in chain}
    frontier = list(seen)
    while frontier and len(chain) < MAX_ATTEMPTS:
        later = session.scalars(
            scope.jobs().where(ImportJob.retry_of_id.in_(frontier)).limit(MAX_ATTEMPTS)
        ).all()
        frontier = [member.id for member in later if member.id not in seen]
        seen.update(frontier)
        chain.extend(member for member in later if member.id in frontier)
    return sorted(chain, key=lambda member: member.id)


def job_detail(session: Session, scope: Scope, job_id: int, heartbeat_interval: float) -> JobDetail:
    """Everything about one job in the asker's tenants; NotFound for any other job id."""
    job = get_job(session, scope, job_id)
    now = utcnow()
    return {
        "job": job_row(job, heartbeat_interval, now),
        "waited": _seconds(job.queued_at, job.started_at),
        "ran": _seconds(job.started_at, job.finished_at),
        "pools": pool_lines(session, scope, job_id),
        "attempts": [
            {
                "id": member.id,
                "attempt": member.attempt,
                "status": effective_status(member, heartbeat_interval, now),
                "requested_by": member.requested_by,
                "queued_at": _iso(member.queued_at),
                "error": member.error,
            }
            for member in retry_chain(session, scope, job)
        ],
    }


def pool_line_text(line: Mapping[str, Any]) -> str:
    """One pool's line for people (the CLI and the TUI say it alike)."""
    if line["error"] is not None:
        return f"{line['pool']}: failed: {line['error']}"
    counts = f"{line['added']:,} added, {line['updated']:,} updated, {line['stale']:,} stale"
    total = "" if line["addresses"] is None else f"{line['addresses']:,} addresses, "
    return f"{line['pool']}: {line['outcome']}, {total}{counts}"


def attempt_text(attempt: Mapping[str, Any]) -> str:
    """One attempt of a retry chain for people; each front end adds when it was queued, in its own clock."""
    return f"#{attempt['id']} attempt {attempt['attempt']} {attempt['status']}, by {attempt['requested_by']}"


# -- searching a job's log, and every job's events at once (the TUI's log search and event feed) ----------

# The levels worth jumping to: every level an event kind has but "info".
NOTABLE_LEVELS = tuple(sorted({level for level, _ in WORDING.values()} - {"info"}))
MAX_MATCHES = 100_000


def event_matches(
    session: Session, scope: Scope, job_id: int, text: str, limit: int = MAX_MATCHES
) -> list[int]:
    """The ids of the job's events whose line (event_text: the message, and its error) contains `text`,
    case-insensitively, oldest first; none when the job is outside the scope."""
    if not text:
        return []
    in_message = contains(JobEvent.message, text)
    # Where only the stored data matches, the data may hold the words in a key or in a value the line
    # doesn't show: those few are checked against the line itself below.
    stmt = (
        _events(scope, job_id)
        .with_only_columns(JobEvent.id, in_message, JobEvent.message, JobEvent.data_json)
        .where(in_message | contains(JobEvent.data_json, text))
        .order_by(JobEvent.id)
        .limit(limit)
    )
    needle = text.casefold()
    return [
        event_id
        for event_id, in_words, message, data_json in session.execute(stmt)
        if in_words
        or needle in event_text({"message": message, "data": json.loads(data_json or "{}")}).casefold()
    ]


def notable_event_id(session: Session, scope: Scope, job_id: int, from_id: int, forward: bool) -> int | None:
    """The job's first warning or error after `from_id` (forward), or last before it; None if none."""
    stmt = _events(scope, job_id).with_only_columns(JobEvent.id).where(JobEvent.level.in_(NOTABLE_LEVELS))
    if forward:
        stmt = stmt.where(JobEvent.id > from_id).order_by(JobEvent.id)
    else:
        stmt = stmt.where(JobEvent.id < from_id).order_by(JobEvent.id.desc())
    return session.scalar(stmt.limit(1))


class FeedRow(EventRow):
    """An event of any job, with the job's id and router: a line of every job's log at once."""

    job_id: int
    router: str


def feed_rows(session: Session, scope: Scope, after_id: int | None, limit: int) -> list[FeedRow]:
    """Every job's events in the scope, oldest first: the newest `limit` when `after_id` is None, else
    the first `limit` after it."""
    stmt = (
        select(JobEvent, Router.name)
        .join(ImportJob, ImportJob.id == JobEvent.job_id)
        .join(Router, Router.id == ImportJob.router_id)
    )
    stmt = scope.restrict(stmt, ImportJob.tenant_id)
    if after_id is None:
        stmt = stmt.order_by(JobEvent.id.desc()).limit(limit)
    else:
        stmt = stmt.where(JobEvent.id > after_id).order_by(JobEvent.id).limit(limit)
    rows: list[FeedRow] = [
        {**event_row(event), "job_id": event.job_id, "router": router}
        for event, router in session.execute(stmt)
    ]
    return sorted(rows, key=lambda row: row["id"])
