"""How the queue is doing, within the asker's tenants: depth, waits, throughput, failures per router."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from poolimport.core.access.tenancy import Scope
from poolimport.core.consumers import alive_count
from poolimport.core.jobs.queries import liveness, status_is
from poolimport.core.models import ImportJob, Router, Tenant, utcnow
from poolimport.core.statuses import FINISHED_JOB_STATUSES, JobStatus

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
WAIT_SAMPLE = 1000  # waits read for the percentiles: the newest starts of the hour
# What the CLI and the TUI say when QueueStats.stuck: what is wrong and what to do.
NO_CONSUMER = "jobs are waiting and no consumer is alive: start one with `poolimport worker`"


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (share in 0..1); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil, at least the first
    return ordered[int(rank) - 1]


@dataclass(frozen=True)
class RouterFailures:
    router: str
    failed_hour: int
    jobs_hour: int
    failed_day: int
    jobs_day: int
    tenant: str = ""
    router_id: int = 0
    newest_error: str | None = None  # of its newest failed job in the day

    @property
    def failure_rate_hour(self) -> float | None:
        return share(self.failed_hour, self.jobs_hour)

    @property
    def failure_rate_day(self) -> float | None:
        return share(self.failed_day, self.jobs_day)

    def as_dict(self) -> dict[str, Any]:
        rates = {"failure_rate_hour": self.failure_rate_hour, "failure_rate_day": self.failure_rate_day}
        return {**asdict(self), **rates}


def share(failed: int, finished: int) -> float | None:
    """The share of the finished jobs that failed, to three places; None when none finished."""
    return round(failed / finished, 3) if finished else None


@dataclass(frozen=True)
class QueueStats:
    queued: int
    running: int  # running and heard from; one gone quiet is stalled, as `jobs --status` reads them
    stalled: int
    oldest_queued_seconds: float | None
    consumers_alive: int
    wait_p50: float | None  # queued -> started, seconds: the last hour's starts (the newest WAIT_SAMPLE)
    wait_p95: float | None
    jobs_per_minute: float  # finished in the last hour
    failed_hour: int
    finished_hour: int
    failing_routers: list[RouterFailures] = field(default_factory=list)

    @property
    def stuck(self) -> bool:
        """Jobs wait and no consumer is alive to run them."""
        return self.queued > 0 and self.consumers_alive == 0

    @property
    def failure_rate(self) -> float | None:
        """Of the jobs finished in the last hour, the share that failed; None when none finished."""
        return share(self.failed_hour, self.finished_hour)

    def as_dict(self) -> dict[str, Any]:
        routers = [router.as_dict() for router in self.failing_routers]
        return {
            **asdict(self),
            "failing_routers": routers,
            "failure_rate": self.failure_rate,
            "stuck": self.stuck,
        }


def queue_stats(
    session: Session,
    scope: Scope,
    heartbeat_interval: float,
    now: datetime | None = None,
    failing_routers: bool = True,
) -> QueueStats:
    """The figures; the routers that failed in the last day only with `failing_routers` (a day of jobs is
    read for it: a header line that shows none of them goes without)."""
    now = now or utcnow()
    jobs = scope.jobs().subquery()
    # Each as the job lists read it (jobs.queries.status_is): a running job gone quiet is stalled.
    alive = liveness(session, now, heartbeat_interval)
    queued, running, stalled = session.execute(
        scope.jobs()
        .with_only_columns(
            func.count().filter(status_is(JobStatus.QUEUED, alive)),
            func.count().filter(status_is(JobStatus.RUNNING, alive)),
            func.count().filter(status_is(JobStatus.STALLED, alive)),
        )
        .where(ImportJob.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
    ).one()
    oldest = session.scalar(select(func.min(jobs.c.queued_at)).where(jobs.c.status == JobStatus.QUEUED))
    # The newest starts of the hour at most: a percentile of a thousand waits says what a million would,
    # and a poll every few seconds doesn't read a busy hour's every row.
    started = session.execute(
        select(jobs.c.queued_at, jobs.c.started_at)
        .where(jobs.c.started_at >= now - HOUR)
        .order_by(jobs.c.started_at.desc())
        .limit(WAIT_SAMPLE)
    ).all()
    waits = [(s - q).total_seconds() for q, s in started]
    failed = jobs.c.status == JobStatus.FAILED
    finished_hour, failed_hour = session.execute(
        select(func.count(), func.count().filter(failed)).where(
            jobs.c.finished_at >= now - HOUR, jobs.c.status.in_(FINISHED_JOB_STATUSES)
        )
    ).one()
    return QueueStats(
        queued=queued,
        running=running,
        stalled=stalled,
        oldest_queued_seconds=round((now - oldest).total_seconds(), 1) if oldest else None,
        consumers_alive=alive_count(session, heartbeat_interval),
        wait_p50=percentile(waits, 0.5),
        wait_p95=percentile(waits, 0.95),
        jobs_per_minute=round(finished_hour / 60, 2),
        failed_hour=failed_hour,
        finished_hour=finished_hour,
        failing_routers=_failing_routers(session, scope, now) if failing_routers else [],
    )


def _failing_routers(session: Session, scope: Scope, now: datetime) -> list[RouterFailures]:
    """Routers with a failed job in the last day, most failures first; routers of the same name in two
    tenants apart."""
    jobs = scope.jobs().where(ImportJob.finished_at >= now - DAY).subquery()
    in_hour = jobs.c.finished_at >= now - HOUR
    failed = jobs.c.status == JobStatus.FAILED
    newest_error = (
        select(ImportJob.error)
        .where(
            ImportJob.router_id == Router.id,
            ImportJob.status == JobStatus.FAILED,
            ImportJob.finished_at >= now - DAY,
        )
        .order_by(ImportJob.finished_at.desc(), ImportJob.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Router.name,
            func.count().filter(failed & in_hour),
            func.count().filter(in_hour),
            func.count().filter(failed),
            func.count(),
            Tenant.name,
            Router.id,
            newest_error,
        )
        .join(Router, Router.id == jobs.c.router_id)
        .join(Tenant, Tenant.id == Router.tenant_id)
        .group_by(Router.id, Router.name, Tenant.name)
        .having(func.count().filter(failed) > 0)
    ).all()
    failures = [RouterFailures(*row) for row in rows]
    return sorted(failures, key=lambda r: (-r.failed_hour, -r.failed_day, r.router, r.tenant))
