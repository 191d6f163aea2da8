"""What the TUI's workers call: thin wrappers over core that return plain, typed data. Run in threads,
never on the event loop: every one of them may wait on the database, the queue or a router.

The operator's scope is resolved again for each read (one per poll, which reads in one session), so an
operator removed or narrowed meanwhile is refused at once, not at the next start.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from poolimport.core.access.audit import AuditRow, audit_rows
from poolimport.core.access.gate import record_refusal_once
from poolimport.core.access.tenancy import NotFound, Scope, find_tenant, resolve_scope
from poolimport.core.changes import ChangeMarks, change_marks
from poolimport.core.config import Settings, masked_url
from poolimport.core.consumers import ConsumerRow, consumer_rows
from poolimport.core.db import get_engine, get_read_engine, session_scope
from poolimport.core.errors import Refusal
from poolimport.core.jobs.actions import JobActions
from poolimport.core.jobs.lifecycle import effective_status, get_job
from poolimport.core.jobs.queries import (
    EVERY_JOB,
    EventRow,
    FeedRow,
    JobDetail,
    JobFilter,
    JobRow,
    event_matches,
    event_rows,
    feed_rows,
    job_detail,
    last_jobs_by_router,
    list_jobs,
    newest_event_id_before,
    notable_event_id,
)
from poolimport.core.jobs.schedule import ScheduleRow, last_successes, schedule_rows
from poolimport.core.metrics import QueueStats, queue_stats
from poolimport.core.models import Router, Tenant
from poolimport.core.queries import AddressRow, PoolRow, RouterRow, address_rows, pool_rows, router_rows
from poolimport.core.routers.fields import (
    MAX_NAME,
    RouterFields,
    apply_fields,
    check_password_stays,
    fields_of,
    form_values,
)
from poolimport.core.routers.records import (
    add_tenant,
    check_may_add_tenant,
    probe,
    refusal_recorded,
    save_router,
    save_test,
)
from poolimport.core.text import one_line
from poolimport.queue.app import QueueClient

JOBS_PAGE = 200
EVENTS_PAGE = 500
ROUTERS_LIMIT = 1000
AUDIT_PAGE = 1000


class RouterView(RouterRow):
    """A router as the routers pane shows it: with its newest job, its last successful import (the age of
    its data, whether scheduled or not), and its schedule if it has one."""

    last_job_status: str | None
    last_job_at: datetime | None
    last_success_at: datetime | None
    schedule: ScheduleRow | None


class EventPage(NamedTuple):
    """A job's events, oldest first, and whether older ones exist."""

    events: list[EventRow]
    has_older: bool


class DetailPage(NamedTuple):
    """One job in full, and its log: the newest events (`tail`), or those after an id."""

    detail: JobDetail
    events: EventPage


class ProbeResult(NamedTuple):
    """What testing a router's connection said, and whether it connected."""

    message: str
    ok: bool


def _router_by_id(session: Session, scope: Scope, router_id: int) -> Router:
    """The TUI knows routers by id; a lookup by name first would pick a router *named* "7" for router #7."""
    router = session.scalar(scope.routers().where(Router.id == router_id))
    if router is None:
        raise NotFound(f"router #{router_id} is gone")
    return router


class Data:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._queue: QueueClient | None = None
        self._actions: JobActions | None = None
        self._lock = threading.Lock()  # workers may ask for the queue at the same time

    @contextmanager
    def reading(self) -> Iterator[tuple[Session, Scope]]:
        """A session that never waits for the write lock (SQLite), and the operator's scope."""
        with session_scope(get_read_engine(self.settings)) as session:
            yield session, resolve_scope(session, self.settings.identity)

    # -- reads within an open session (the poll makes several in one) ---------------------------

    def routers_in(self, session: Session, scope: Scope) -> list[RouterView]:
        rows = router_rows(session, scope, limit=ROUTERS_LIMIT)
        ids = [row["id"] for row in rows]
        last = last_jobs_by_router(session, scope, ids)
        schedules = {schedule.router_id: schedule for schedule in schedule_rows(session, scope, ids)}
        successes = last_successes(session, scope, ids)
        views = []
        for row in rows:
            job = last.get(row["id"])
            views.append(
                RouterView(
                    **row,
                    last_job_status=effective_status(job, self.settings.heartbeat_interval) if job else None,
                    last_job_at=(job.finished_at or job.queued_at) if job else None,
                    last_success_at=successes.get(row["id"]),
                    schedule=schedules.get(row["id"]),
                )
            )
        return views

    def change_marks_in(self, session: Session, scope: Scope) -> ChangeMarks:
        return change_marks(session, scope, self.settings.heartbeat_interval)

    def queue_stats_in(self, session: Session, scope: Scope) -> QueueStats:
        """The header line's figures: without the failing routers, which it doesn't show."""
        return queue_stats(session, scope, self.settings.heartbeat_interval, failing_routers=False)

    def jobs_in(
        self,
        session: Session,
        scope: Scope,
        limit: int = JOBS_PAGE,
        where: JobFilter = EVERY_JOB,
        ids: Sequence[int] | None = None,
    ) -> list[JobRow]:
        heartbeat = self.settings.heartbeat_interval
        return list_jobs(session, scope, heartbeat, limit=limit, where=where, ids=ids)

    def events_in(self, session: Session, scope: Scope, job_id: int, after_id: int) -> list[EventRow]:
        return event_rows(session, scope, job_id, after_id, limit=EVENTS_PAGE)

    def event_tail_in(
        self, session: Session, scope: Scope, job_id: int, count: int, before_id: int | None = None
    ) -> EventPage:
        """The newest `count` events (older than `before_id`).

        core's event_rows reads forwards from an id; this finds the id to start from, so a job with
        100,000 lines opens at its end in one indexed read.
        """
        start = newest_event_id_before(session, scope, job_id, count, before_id)
        rows = event_rows(session, scope, job_id, start or 0, limit=count)
        if before_id is not None:
            rows = [row for row in rows if row["id"] < before_id]
        return EventPage(rows, start is not None)

    # -- one read each ----------------------------------------------------------------------------

    def routers(self) -> list[RouterView]:
        with self.reading() as (session, scope):
            return self.routers_in(session, scope)

    def jobs(self, limit: int = JOBS_PAGE) -> list[JobRow]:
        with self.reading() as (session, scope):
            return self.jobs_in(session, scope, limit)

    def events(self, job_id: int, after_id: int) -> list[EventRow]:
        with self.reading() as (session, scope):
            return self.events_in(session, scope, job_id, after_id)

    def event_tail(self, job_id: int, count: int, before_id: int | None = None) -> EventPage:
        with self.reading() as (session, scope):
            return self.event_tail_in(session, scope, job_id, count, before_id)

    def job_detail(self, job_id: int, tail: int, after_id: int | None) -> DetailPage:
        """The job in full; its newest `tail` events when `after_id` is None, else those after it."""
        with self.reading() as (session, scope):
            detail = job_detail(session, scope, job_id, self.settings.heartbeat_interval)
            if after_id is None:
                return DetailPage(detail, self.event_tail_in(session, scope, job_id, tail))
            return DetailPage(detail, EventPage(self.events_in(session, scope, job_id, after_id), False))

    def pools(self, router_id: int) -> list[PoolRow]:
        with self.reading() as (session, scope):
            return pool_rows(session, scope, router_id)

    def addresses(
        self,
        pool_id: int,
        status: str | None,
        offset: int,
        limit: int,
        *,
        search: str = "",
        order: str = "address",
        descending: bool = False,
    ) -> list[AddressRow]:
        with self.reading() as (session, scope):
            return address_rows(
                session,
                scope,
                pool_id,
                status,
                limit=limit,
                offset=offset,
                search=search,
                order=order,
                descending=descending,
            )

    def consumers(self) -> list[ConsumerRow]:
        with self.reading() as (session, scope):
            return consumer_rows(session, scope, self.settings.heartbeat_interval)

    def queue_stats(self, now: datetime | None = None) -> QueueStats:
        """The metrics screen's figures: `poolimport stats`'s, for the same operator."""
        with self.reading() as (session, scope):
            return queue_stats(session, scope, self.settings.heartbeat_interval, now)

    def audit(self) -> list[AuditRow]:
        with self.reading() as (session, scope):
            return audit_rows(session, scope, limit=AUDIT_PAGE)

    def tenants(self) -> list[str]:
        with self.reading() as (session, scope):
            return [tenant.name for tenant in session.scalars(scope.tenants().order_by(Tenant.name))]

    def tenant_id(self, name: str) -> int:
        """The tenant's id (`:tenant`); NotFound for a name outside the operator's tenants, as for one
        that isn't, and recorded."""
        with self.recorded(":tenant") as (session, scope):
            return find_tenant(session, scope, name).id

    def check_job(self, job_id: int) -> None:
        """`:job`: NotFound for a job outside the operator's tenants, as for one that isn't, and recorded."""
        with self.recorded(":job") as (session, scope):
            get_job(session, scope, job_id)

    def refuse(self, action: str, refusal: Refusal) -> None:
        """Record a refusal decided without a read (`:router` looks among the routers loaded)."""
        with self.recorded(action):
            raise refusal

    @contextmanager
    def recorded(self, action: str) -> Iterator[tuple[Session, Scope]]:
        """A read for something the operator named: a refusal is recorded as `action`, as the CLI's are,
        once the read has ended; then raised."""
        refused: Refusal | None = None
        with self.reading() as (session, scope):
            try:
                yield session, scope
            except Refusal as exc:
                refused = exc
        if refused is not None:
            record_refusal_once(get_engine(self.settings), scope, action, refused)
            raise refused

    def router_form_values(self, router_id: int) -> dict[str, Any]:
        with self.reading() as (session, scope):
            return form_values(_router_by_id(session, scope, router_id))

    # -- changes ------------------------------------------------------------------------------------

    def save_router(
        self, router_id: int | None, tenant: str, fields: RouterFields, password: str | None
    ) -> int:
        engine = get_engine(self.settings)
        action = "router.edit" if router_id else "router.add"
        with refusal_recorded(engine, action) as attempt, session_scope(engine) as session:
            scope = attempt.scope = resolve_scope(session, self.settings.identity)
            attempt.about = {"subject": fields.name}
            existing = _router_by_id(session, scope, router_id) if router_id else None
            if existing is not None:
                attempt.concerns(existing)
            return save_router(session, scope, self.settings, tenant, fields, password, existing).id

    def test_router(self, router_id: int) -> ProbeResult:
        """The probe runs with no transaction open, the result is recorded after."""
        engine = get_engine(self.settings)
        with refusal_recorded(engine, "router.test") as attempt, self.reading() as (session, scope):
            attempt.scope = scope
            router = _router_by_id(session, scope, router_id)
            attempt.concerns(router)
            scope.require_write("test routers (the result is recorded)")
            name = router.name
            test = probe(router, self.settings)
        with session_scope(engine) as session:
            save_test(session, resolve_scope(session, self.settings.identity), router_id, test)
        if test.ok:
            return ProbeResult(f"{name}: {test.identity}, RouterOS {test.version}, {test.rtt_ms} ms", True)
        return ProbeResult(f"{name}: {test.error}", False)

    def test_unsaved(
        self, fields: RouterFields, password: str | None, router_id: int | None = None
    ) -> ProbeResult:
        """The form's "test connection": nothing is stored. Editing with the password left blank tests
        the stored one, at the stored endpoint only."""
        fields.validate()
        stored, needed = b"", False
        with self.reading() as (session, scope):
            scope.require_write("test routers (the result is recorded)")
            if password is None:
                if router_id is None:
                    return ProbeResult("type the password to test the connection", False)
                router = _router_by_id(session, scope, router_id)
                check_password_stays(fields_of(router), fields, password)
                stored, needed = router.password_encrypted, router.password_needed
        router = apply_fields(Router(password_encrypted=stored, password_needed=needed), fields)
        test = probe(router, self.settings, password)
        if test.ok:
            return ProbeResult(f"connected: {test.identity}, RouterOS {test.version}, {test.rtt_ms} ms", True)
        return ProbeResult(str(test.error), False)

    # -- the queue ----------------------------------------------------------------------------------

    def queue(self) -> QueueClient:
        """The app's one queue client, built from the settings on first use (it opens the queue)."""
        with self._lock:
            if self._queue is None:
                self._queue = QueueClient.from_settings(self.settings)
            return self._queue

    def actions(self) -> JobActions:
        """The app's one JobActions: what the keys do to jobs, through the app's queue client."""
        queue = self.queue()
        with self._lock:
            if self._actions is None:
                self._actions = JobActions(self.settings, queue.send_import, queue.revoke)
            return self._actions

    def queue_problem(self) -> str | None:
        """None when the queue answers, else why not."""
        try:
            self.queue().pending()
        except Exception as exc:  # whatever it is, it is the queue's trouble: the banner says it
            return masked_url(f"{exc.__class__.__name__}: {exc}")
        return None

    # -- a job's log searched, and every job's events at once ----------------------------------------

    def log_matches(self, job_id: int, text: str) -> list[int]:
        """The ids of the job's lines that contain `text` (any case), in the whole log."""
        with self.reading() as (session, scope):
            return event_matches(session, scope, job_id, text)

    def notable_event(self, job_id: int, from_id: int, forward: bool) -> int | None:
        """The job's next (or previous) warning or error from the line `from_id`."""
        with self.reading() as (session, scope):
            return notable_event_id(session, scope, job_id, from_id, forward)

    def event_region(self, job_id: int, around_id: int, count: int) -> EventRegion:
        """`count` events of the job with `around_id` in their middle: where a search lands in a long log."""
        with self.reading() as (session, scope):
            start = newest_event_id_before(session, scope, job_id, count // 2, around_id)
            rows = event_rows(session, scope, job_id, start or 0, limit=count + 1)
        return EventRegion(rows[:count], start is not None, len(rows) > count)

    def event_feed(self, after_id: int | None, limit: int) -> list[FeedRow]:
        """Every job's events in the operator's scope: the newest `limit`, or the first after `after_id`."""
        with self.reading() as (session, scope):
            return feed_rows(session, scope, after_id, limit)

    # -- tenants ------------------------------------------------------------------------------------

    def check_may_add_tenant(self) -> None:
        """Before the tenant form opens: anyone but an administrator is refused (and recorded) at once."""
        engine = get_engine(self.settings)
        with refusal_recorded(engine, "tenant.add") as attempt, self.reading() as (_, scope):
            attempt.scope = scope
            check_may_add_tenant(scope)

    def add_tenant(self, name: str) -> str:
        """The tenant's name as stored; a refusal (a taken name, a non-administrator) is recorded."""
        engine = get_engine(self.settings)
        with refusal_recorded(engine, "tenant.add") as attempt, session_scope(engine) as session:
            scope = attempt.scope = resolve_scope(session, self.settings.identity)
            attempt.about = {"subject": one_line(name)[:MAX_NAME]}
            return add_tenant(session, scope, name).name

    def check_registered(self) -> None:
        """Raises NotRegistered while the operator isn't (or AccessDenied, if let in no more)."""
        with self.reading():
            return


class EventRegion(NamedTuple):
    """A stretch of a job's log, oldest first, and whether events exist before and after it."""

    events: list[EventRow]
    has_older: bool
    has_newer: bool
