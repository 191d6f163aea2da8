"""One poll of the main screen's data: what to read is decided on the event loop (PollRequest, plain
values), the reading happens in a worker thread (`poll`, which sees no widget), and what was read goes back
to the event loop as a PollResult.
"""

from __future__ import annotations

from dataclasses import dataclass

from poolimport.core.jobs.queries import EventRow, JobRow
from poolimport.core.metrics import QueueStats
from poolimport.tui.components.log_pane import TAIL_EVENTS
from poolimport.tui.data import Data, EventPage, RouterView
from poolimport.tui.presenter import DATABASE_ERRORS, first_line


@dataclass(frozen=True)
class Drill:
    """What the `:` commands narrowed the panes to; the default, nothing: every job in the scope."""

    router_id: int | None = None  # :router NAME
    router: str | None = None
    tenant_id: int | None = None  # :tenant NAME
    tenant: str | None = None
    failed: bool = False  # :failed: failed and stalled jobs, not those dismissed

    def words(self) -> list[str]:
        """For the jobs pane's title."""
        return (
            ([f"tenant {self.tenant}"] if self.tenant else [])
            + ([f"router {self.router}"] if self.router else [])
            + (["failed"] if self.failed else [])
        )


@dataclass(frozen=True)
class PollRequest:
    jobs_limit: int
    log_job: int | None = None  # the job whose log is shown, if it wants reading
    log_after: int | None = None  # the newest event it shows; None: read the job's tail
    routers: bool = False  # the routers too (every few seconds, and when a job started or ended)
    stats: bool = False  # the queue's figures too (every few seconds only: a sweep ends jobs all the time)
    drill: Drill = Drill()  # which jobs


@dataclass(frozen=True)
class PollResult:
    jobs: list[JobRow]
    routers: list[RouterView] | None = None
    stats: QueueStats | None = None
    log_job: int | None = None
    tail: EventPage | None = None  # the log job's newest events, when the request had no log_after
    events: list[EventRow] | None = None  # its events after log_after
    problem: str | None = None  # the database's trouble, for the banner; then nothing else was read


def poll(data: Data, request: PollRequest) -> PollResult:
    """Everything the request asks for, in one session. A database that doesn't answer is a result (the
    banner says so, and the next poll tries again), not a failure."""
    try:
        with data.reading() as (session, scope):
            drill = request.drill
            jobs = data.jobs_in(
                session,
                scope,
                request.jobs_limit,
                router_id=drill.router_id,
                tenant_id=drill.tenant_id,
                status="failed+stalled" if drill.failed else None,
            )
            tail = events = None
            if request.log_job is not None and request.log_after is None:
                tail = data.event_tail_in(session, scope, request.log_job, TAIL_EVENTS)
            elif request.log_job is not None and request.log_after is not None:
                events = data.events_in(session, scope, request.log_job, request.log_after)
            routers = data.routers_in(session, scope) if request.routers else None
            stats = data.queue_stats_in(session, scope) if request.stats else None
    except DATABASE_ERRORS as exc:
        return PollResult(jobs=[], problem=first_line(exc))
    return PollResult(jobs, routers, stats, request.log_job, tail, events)
