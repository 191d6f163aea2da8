"""One poll of the main screen's data: what to read is decided on the event loop (PollRequest, plain
values), the reading happens in a worker thread (`poll`, which sees no widget), and what was read goes back
to the event loop as a PollResult.

Each poll first reads the change marks (core/changes.py). When they equal those of the screen's last
complete read, only the live jobs it shows are read again: an idle console on a fleet's database reads
three indexed values a poll, and a running import costs one row.
"""

from __future__ import annotations

from dataclasses import dataclass

from poolimport.core.changes import ChangeMarks
from poolimport.core.jobs.queries import EVERY_JOB, EventRow, JobFilter, JobRow
from poolimport.core.metrics import QueueStats
from poolimport.tui.components.log_pane import TAIL_EVENTS
from poolimport.tui.data import Data, EventPage, RouterView
from poolimport.tui.presenter import DATABASE_ERRORS, first_line


@dataclass(frozen=True)
class PollRequest:
    jobs_limit: int
    jobs_where: JobFilter = EVERY_JOB  # the jobs pane's search and status keys: the database's to apply
    marks: ChangeMarks | None = None  # those of the last complete read of this list; None: read it whole
    live_shown: tuple[int, ...] = ()  # the live jobs the pane shows: what moves while the marks stand still
    log_job: int | None = None  # the job whose log is shown, if it wants reading
    log_after: int | None = None  # the newest event it shows; None: read the job's tail
    routers_marks: ChangeMarks | None = None  # those of the last read of the routers
    routers_if_changed: bool = True  # read them again if the marks moved since (not every poll of a sweep)
    routers: bool = False  # read them whatever the marks say (now and then: a safety net)
    stats: bool = False  # the queue's figures too (every few seconds only: a sweep ends jobs all the time)


@dataclass(frozen=True)
class PollResult:
    jobs: list[JobRow]  # the whole list; or, when `settled`, only the live jobs shown, read again
    settled: bool = False
    marks: ChangeMarks | None = None
    routers: list[RouterView] | None = None
    stats: QueueStats | None = None
    log_job: int | None = None
    tail: EventPage | None = None  # the log job's newest events, when the request had no log_after
    events: list[EventRow] | None = None  # its events after log_after
    problem: str | None = None  # the database's trouble, for the banner; then nothing else was read
    jobs_where: JobFilter = EVERY_JOB  # what the jobs were read with: a pane filtered since drops them
    jobs_limit: int = 0  # and how many at most: with jobs_where, what the marks are of


def poll(data: Data, request: PollRequest) -> PollResult:
    """Everything the request asks for, in one session. A database that doesn't answer is a result (the
    banner says so, and the next poll tries again), not a failure."""
    try:
        with data.reading() as (session, scope):
            marks = data.change_marks_in(session, scope)
            settled = marks == request.marks
            if not settled:
                jobs = data.jobs_in(session, scope, request.jobs_limit, request.jobs_where)
            else:
                jobs = data.jobs_in(session, scope, ids=request.live_shown) if request.live_shown else []
            tail = events = None
            if request.log_job is not None and request.log_after is None:
                tail = data.event_tail_in(session, scope, request.log_job, TAIL_EVENTS)
            elif request.log_job is not None and request.log_after is not None:
                events = data.events_in(session, scope, request.log_job, request.log_after)
            moved = request.routers_if_changed and marks != request.routers_marks
            stale = request.routers or moved
            routers = data.routers_in(session, scope) if stale else None
            stats = data.queue_stats_in(session, scope) if request.stats else None
    except DATABASE_ERRORS as exc:
        return PollResult(jobs=[], problem=first_line(exc))
    return PollResult(
        jobs,
        settled,
        marks,
        routers,
        stats,
        request.log_job,
        tail,
        events,
        jobs_where=request.jobs_where,
        jobs_limit=request.jobs_limit,
    )
