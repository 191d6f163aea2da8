"""What an operator does to jobs, end to end (record, then hand to the queue): for the CLI and the TUI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from poolimport.core.access import audit
from poolimport.core.access.gate import record_refusal_once
from poolimport.core.access.tenancy import NotFound, Scope, refused_scope, resolve_scope
from poolimport.core.config import Settings
from poolimport.core.db import get_engine, session_scope
from poolimport.core.errors import Refusal, refusals_about
from poolimport.core.jobs import lifecycle as jobs
from poolimport.core.jobs.queries import EVERY_JOB, FAILED_OR_STALLED, JobFilter, list_jobs
from poolimport.core.models import ImportJob, Router


@dataclass
class Outcome:
    created: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@dataclass
class Dismissed:
    dismissed: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


class JobActions:
    def __init__(
        self, settings: Settings, send: jobs.Sender, revoke: Callable[[str], None] | None = None
    ) -> None:
        self.settings = settings
        self.engine = get_engine(settings)
        self.send = send
        self.revoke = revoke

    def _each(
        self,
        action: str,
        ids: list[int],
        act: Callable[[Session, Scope, int], int],
        then: Callable[[int], object] = lambda _: None,
    ) -> tuple[list[int], list[str]]:
        """`act` on each id in a transaction of its own, then `then` on what it returned, once committed:
        the ids done, and each refusal's reason. A refusal about one item (refused, or not found) is that
        item's; any other (a viewer's) refuses the whole request. Each is audited once."""
        done: list[int] = []
        refused: list[str] = []
        for item in ids:
            scope: Scope | None = None
            try:
                with session_scope(self.engine) as session:
                    scope = resolve_scope(session, self.settings.identity)
                    result = act(session, scope, item)
                then(result)
                done.append(result)
            except Refusal as exc:
                # Recorded once the refused transaction has ended; an asker no longer let in (a removed
                # operator or SSH key) as who asked.
                record_refusal_once(self.engine, scope or refused_scope(self.settings.identity), action, exc)
                if not isinstance(exc, jobs.JobRefused | NotFound):
                    raise
                refused.append(str(exc))
        return done, refused

    def _dispatch(self, job_id: int) -> None:
        jobs.dispatch(self.engine, job_id, self.send)

    def import_routers(self, router_ids: list[int], dry_run: bool = False) -> Outcome:
        def create(session: Session, scope: Scope, router_id: int) -> int:
            router = session.scalar(scope.routers().where(Router.id == router_id))
            if router is None:
                raise jobs.JobRefused(f"router {router_id} is gone")
            return jobs.create_job(
                session,
                scope,
                router,
                time_limit=self.settings.job_time_limit,
                heartbeat_interval=self.settings.heartbeat_interval,
                dry_run=dry_run,
            ).id

        return Outcome(*self._each("import.queue", router_ids, create, self._dispatch))

    def import_all(self, tenant_id: int | None = None, dry_run: bool = False) -> Outcome:
        with session_scope(self.engine) as session:
            stmt = resolve_scope(session, self.settings.identity).routers().order_by(Router.name)
            if tenant_id is not None:
                stmt = stmt.where(Router.tenant_id == tenant_id)
            router_ids = [router.id for router in session.scalars(stmt)]
        return self.import_routers(router_ids, dry_run)

    def retry(self, job_ids: list[int]) -> Outcome:
        def create(session: Session, scope: Scope, job_id: int) -> int:
            job = jobs.get_job(session, scope, job_id)
            with refusals_about(audit.about_job(job)):
                return jobs.retry(
                    session,
                    scope,
                    job,
                    time_limit=self.settings.job_time_limit,
                    heartbeat_interval=self.settings.heartbeat_interval,
                ).id

        return Outcome(*self._each("retry", job_ids, create, self._dispatch))

    def retry_all_failed(self, where: JobFilter = EVERY_JOB) -> Outcome:
        """One new attempt per router and kind whose newest job failed or stalled (and isn't dismissed):
        a newer job of that router and kind, whatever it did or is doing, has superseded older failures.
        A dry run supersedes nothing: it stored nothing. `where` narrows it to a router or tenant."""
        with session_scope(self.engine) as session:
            scope = resolve_scope(session, self.settings.identity)
            failed = list_jobs(
                session,
                scope,
                self.settings.heartbeat_interval,
                status=FAILED_OR_STALLED,
                limit=None,
                where=where,
            )
            newest = select(func.max(ImportJob.id)).where(
                ImportJob.router_id.in_({row["router_id"] for row in failed}), ImportJob.dry_run.is_(False)
            )
            newest_ids = set(session.scalars(newest.group_by(ImportJob.router_id, ImportJob.kind)))
        return self.retry(sorted(row["id"] for row in failed if row["id"] in newest_ids))

    def dismiss(self, job_ids: list[int]) -> Dismissed:
        """Each failed job out of the failed views; the others are refused one by one, saying why. A viewer
        is refused the whole request."""

        def act(session: Session, scope: Scope, job_id: int) -> int:
            job = jobs.get_job(session, scope, job_id)
            with refusals_about(audit.about_job(job)):
                jobs.dismiss(session, scope, job, self.settings.heartbeat_interval)
            return job_id

        return Dismissed(*self._each("dismiss", job_ids, act))

    def cancel(self, job_id: int) -> str:
        scope: Scope | None = None
        try:
            with session_scope(self.engine) as session:
                scope = resolve_scope(session, self.settings.identity)
                job = jobs.get_job(session, scope, job_id)
                with refusals_about(audit.about_job(job)):
                    return jobs.cancel(session, scope, job, self.revoke)
        except Refusal as exc:
            if scope is not None:
                record_refusal_once(self.engine, scope, "cancel", exc)
            raise
