"""core.jobs.lifecycle: a job record's life (queue, claim, finish, cancel, retry, flush) on real SQLite."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select, update
from sqlalchemy.orm import Session

from poolimport.core import events as job_events
from poolimport.core import schema
from poolimport.core.access.tenancy import AccessDenied, NotFound, Scope, find_router
from poolimport.core.config import Settings
from poolimport.core.db import get_engine, session_scope
from poolimport.core.events import EventKind
from poolimport.core.jobs import lifecycle as jobs
from poolimport.core.models import ImportJob, JobEvent, JobSource, utcnow
from tests.conftest import ADMIN, router_adder
from tests.helpers import words

INTERVAL = 10.0  # heartbeat interval: a running job is stalled after 30 s without a beat
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
VIEWER = Scope(operator="vic", tenant_ids=None, role="viewer")


@pytest.fixture
def routers(engine: Engine, add_router: Callable[..., int]) -> dict[str, int]:
    return {
        "r1": add_router(name="r1", tenant="north", port=1),
        "r2": add_router(name="r2", tenant="south", port=1),
    }


@pytest.fixture
def session(engine: Engine, routers: dict[str, int]) -> Iterator[Session]:
    with session_scope(engine) as session:
        yield session


def new_job(session: Session, router_name: str = "r1", scope: Scope = ADMIN, **kwargs: Any) -> ImportJob:
    router = find_router(session, ADMIN, router_name)
    return jobs.create_job(session, scope, router, time_limit=60, heartbeat_interval=INTERVAL, **kwargs)


def set_job(session: Session, job: ImportJob, **values: Any) -> None:
    session.execute(update(ImportJob).where(ImportJob.id == job.id).values(**values))
    session.expire(job)


def events(session: Session, job_id: int) -> list[tuple[str | None, Any]]:
    """(kind, data) of each of the job's events, oldest first."""
    rows = session.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))
    return [(e.kind, json.loads(e.data_json) if e.data_json else e.data_json) for e in rows]


def messages(session: Session, job_id: int) -> list[str]:
    return [e.message for e in session.scalars(select(JobEvent).where(JobEvent.job_id == job_id))]


def fresh(session: Session, job_id: int) -> ImportJob:
    session.expire_all()
    job = session.get(ImportJob, job_id)
    assert job is not None
    return job


# -- what a job's status reads as ----------------------------------------------------------------------------


def running_job(**beats: datetime | None) -> ImportJob:
    values: dict[str, Any] = {"queued_at": T0 - timedelta(hours=1), "started_at": None, "heartbeat_at": None}
    values.update(beats)
    return ImportJob(status="running", **values)


def test_a_running_job_is_stalled_only_after_three_silent_intervals() -> None:
    at_the_limit = running_job(heartbeat_at=T0 - timedelta(seconds=30))
    past_the_limit = running_job(heartbeat_at=T0 - timedelta(seconds=30, microseconds=1))
    assert jobs.effective_status(at_the_limit, INTERVAL, now=T0) == "running"
    assert jobs.effective_status(past_the_limit, INTERVAL, now=T0) == "stalled"
    assert jobs.stall_cutoff(T0, INTERVAL) == T0 - timedelta(seconds=30)


def test_the_last_sign_of_life_is_the_heartbeat_else_the_start_else_the_queueing() -> None:
    recent, long_ago = T0 - timedelta(seconds=1), T0 - timedelta(hours=1)

    def status(**beats: datetime) -> str:
        return jobs.effective_status(running_job(**beats), INTERVAL, T0)

    assert status(heartbeat_at=recent, started_at=long_ago) == "running"
    assert status(heartbeat_at=long_ago, started_at=recent) == "stalled"
    assert status(started_at=recent, queued_at=long_ago) == "running"
    assert status(started_at=long_ago, queued_at=recent) == "stalled"
    assert status(queued_at=recent) == "running"
    assert status(queued_at=long_ago) == "stalled"


def test_a_job_that_is_not_running_reads_as_its_status_whatever_its_age() -> None:
    for status in ("queued", "succeeded", "failed", "partial", "cancelled"):
        job = ImportJob(status=status, queued_at=T0 - timedelta(days=9), heartbeat_at=T0 - timedelta(days=9))
        assert jobs.effective_status(job, INTERVAL, now=T0) == status


def test_without_a_given_time_the_status_is_read_against_the_clock() -> None:
    assert jobs.effective_status(running_job(heartbeat_at=utcnow()), INTERVAL) == "running"
    assert (
        jobs.effective_status(running_job(heartbeat_at=utcnow() - timedelta(minutes=1)), INTERVAL)
        == "stalled"
    )


# -- create_job ----------------------------------------------------------------------------------------------


def test_a_new_job_is_queued_for_its_router_and_tenant_and_says_who_asked(
    session: Session, routers: dict[str, int]
) -> None:
    before = utcnow()
    job = fresh(session, new_job(session, "r2").id)
    assert (job.router_id, job.tenant_id, job.requested_by, job.status) == (
        routers["r2"],
        2,
        "tester",
        "queued",
    )
    assert (job.attempt, job.retry_of_id, job.dry_run, job.source, job.time_limit) == (
        1,
        None,
        False,
        JobSource.QUEUE,
        60,
    )
    assert job.queued_at >= before
    assert events(session, job.id) == [(EventKind.JOB_QUEUED, {"router_id": routers["r2"]})]
    assert messages(session, job.id) == ["Job queued by tester"]


def test_a_dry_run_from_the_command_line_is_recorded_as_such(session: Session) -> None:
    job = fresh(session, new_job(session, dry_run=True, source=JobSource.SYNC).id)
    assert (job.dry_run, job.source) == (True, JobSource.SYNC)


def test_a_viewer_may_not_start_an_import(session: Session) -> None:
    with pytest.raises(AccessDenied) as refused:
        new_job(session, scope=VIEWER)
    assert str(refused.value) == "vic is a viewer and may not start imports"


def test_a_router_with_a_live_job_refuses_another_naming_it(session: Session) -> None:
    held = new_job(session, "r1")
    new_job(session, "r2")  # another router's job is no obstacle
    with pytest.raises(jobs.JobRefused) as refused:
        new_job(session, "r1")
    assert str(refused.value) == f"router r1 already has job #{held.id} (queued)"


def test_a_stalled_holder_is_named_with_the_way_out(session: Session) -> None:
    held = new_job(session, "r1")
    set_job(session, held, status="running", heartbeat_at=utcnow() - timedelta(minutes=1))
    with pytest.raises(jobs.JobRefused) as refused:
        new_job(session, "r1")
    assert str(refused.value) == (
        f"router r1 already has job #{held.id} (stalled) (retry it or run `poolimport flush --stuck`)"
    )


def test_a_finished_job_does_not_hold_its_router(session: Session) -> None:
    done = new_job(session, "r1")
    set_job(session, done, status="succeeded")
    assert jobs.live_job(session, done.router_id) is None
    assert new_job(session, "r1").id != done.id


def test_the_live_job_of_a_router_is_its_own(session: Session, routers: dict[str, int]) -> None:
    assert jobs.live_job(session, routers["r1"]) is None
    other = new_job(session, "r2")
    assert jobs.live_job(session, routers["r1"]) is None
    mine = new_job(session, "r1")
    set_job(session, mine, status="running")
    assert jobs.live_job(session, routers["r1"]) is mine
    assert jobs.live_job(session, routers["r2"]) is other


def test_a_retry_is_the_next_attempt_linked_to_the_job_it_retries(session: Session) -> None:
    first = new_job(session, "r1")
    set_job(session, first, status="failed", attempt=4)
    retry = fresh(session, new_job(session, "r1", retry_of=first).id)
    assert (retry.attempt, retry.retry_of_id) == (5, first.id)
    assert messages(session, retry.id)[0] == f"Job queued by tester (attempt 5, retry of #{first.id})"


def test_an_insert_the_database_refuses_is_a_refusal_not_an_error(session: Session) -> None:
    """The partial unique index refuses the row after the check passed (a live row slipped in within the same
    transaction, so the rollback takes it too and no holder is left to name)."""
    router = find_router(session, ADMIN, "r1")
    row = {"router_id": router.id, "tenant_id": 1, "requested_by": "x", "status": "queued", "time_limit": 1}

    def get_in_first(flushing: Session, *_: Any) -> None:
        flushing.connection().execute(insert(ImportJob).values(**row))

    event.listen(session, "before_flush", get_in_first, once=True)
    with pytest.raises(jobs.JobRefused) as refused:
        jobs.create_job(session, ADMIN, router, time_limit=60, heartbeat_interval=INTERVAL)
    assert str(refused.value) == "router is busy"
    assert session.scalars(select(ImportJob)).all() == []


def test_a_job_that_won_the_race_to_the_router_is_named_in_the_refusal(pg_settings: Settings) -> None:
    """Another writer commits a job between the check and the insert. Only PostgreSQL lets that happen
    (SQLite's write lock is taken before the check); the partial unique index refuses the second row."""
    engine = get_engine(pg_settings)
    schema.upgrade(engine)
    router_id = router_adder(engine, pg_settings)(port=1)
    winner: list[int] = []

    def commit_a_job_first(*_: Any) -> None:
        with engine.begin() as other:
            row = {"router_id": router_id, "tenant_id": 1, "requested_by": "x", "time_limit": 1}
            running = {"status": "running", "started_at": utcnow(), "heartbeat_at": utcnow()}
            winner.append(other.execute(insert(ImportJob).values(**row, **running)).inserted_primary_key[0])

    with session_scope(engine) as session:
        event.listen(session, "before_flush", commit_a_job_first, once=True)
        with pytest.raises(jobs.JobRefused) as refused:
            new_job(session, "r1")
    assert str(refused.value) == f"router r1 already has job #{winner[0]} (running)"


# -- dispatch ------------------------------------------------------------------------------------------------


def committed_jobs(engine: Engine, *router_names: str) -> list[int]:
    with session_scope(engine) as session:
        return [
            jobs.create_job(
                session, ADMIN, find_router(session, ADMIN, name), time_limit=60, heartbeat_interval=INTERVAL
            ).id
            for name in router_names
        ]


def job_table(engine: Engine) -> dict[int, tuple[str, str | None]]:
    with engine.connect() as conn:
        return {row.id: (row.status, row.task_id) for row in conn.execute(select(ImportJob.__table__))}


def test_a_dispatched_job_records_its_queue_task(engine: Engine, routers: dict[str, int]) -> None:
    first, second = committed_jobs(engine, "r1", "r2")
    sent: list[int] = []
    jobs.dispatch(engine, second, lambda job_id: sent.append(job_id) or f"task-{job_id}")
    assert sent == [second]
    assert job_table(engine) == {first: ("queued", None), second: ("queued", f"task-{second}")}


def test_an_unreachable_queue_deletes_the_job_and_says_so(engine: Engine, routers: dict[str, int]) -> None:
    first, second = committed_jobs(engine, "r1", "r2")

    def down(job_id: int) -> str:
        raise ConnectionError("connection refused")

    with pytest.raises(jobs.JobRefused) as refused:
        jobs.dispatch(engine, second, down)
    assert str(refused.value) == (
        "router r2 not imported, no job created: queue unreachable: ConnectionError: connection refused"
    )
    assert job_table(engine) == {first: ("queued", None)}


def test_a_job_cancelled_while_the_queue_failed_stays_on_record(
    engine: Engine, routers: dict[str, int]
) -> None:
    [job_id] = committed_jobs(engine, "r1")

    def cancelled_then_down(job_id: int) -> str:
        with session_scope(engine) as session:
            jobs.cancel(session, ADMIN, fresh(session, job_id))
        raise ConnectionError("connection refused")

    with pytest.raises(jobs.JobRefused):
        jobs.dispatch(engine, job_id, cancelled_then_down)
    assert job_table(engine) == {job_id: ("cancelled", None)}


# -- claim and finish ----------------------------------------------------------------------------------------


def test_a_consumer_claims_a_queued_job_once(engine: Engine, routers: dict[str, int]) -> None:
    first, second = committed_jobs(engine, "r1", "r2")
    before = utcnow()
    with engine.begin() as conn:
        assert jobs.claim(conn, first, "host:1") is True
        assert jobs.claim(conn, first, "host:2") is False
    with session_scope(engine) as session:
        job = fresh(session, first)
        assert (job.status, job.worker) == ("running", "host:1")
        assert job.started_at is not None and job.started_at >= before
        assert job.heartbeat_at == job.started_at
        assert fresh(session, second).status == "queued"


def test_a_cancelled_job_is_never_claimed(engine: Engine, routers: dict[str, int]) -> None:
    [job_id] = committed_jobs(engine, "r1")
    with session_scope(engine) as session:
        jobs.cancel(session, ADMIN, fresh(session, job_id))
    with engine.begin() as conn:
        assert jobs.claim(conn, job_id, "host:1") is False
    assert job_table(engine)[job_id] == ("cancelled", None)


def test_finishing_records_status_error_result_and_time(engine: Engine, routers: dict[str, int]) -> None:
    first, second = committed_jobs(engine, "r1", "r2")
    with engine.begin() as conn:
        jobs.claim(conn, first, "w")
        jobs.claim(conn, second, "w")
        assert jobs.finish(conn, first, "partial", error="pool x failed", result={"pools": {"failed": 1}})
    with session_scope(engine) as session:
        job = fresh(session, first)
        assert (job.status, job.error) == ("partial", "pool x failed")
        assert json.loads(job.result_json or "") == {"pools": {"failed": 1}}
        assert job.finished_at is not None
        other = fresh(session, second)
        assert (other.status, other.finished_at, other.result_json) == ("running", None, None)


def test_finishing_without_a_result_leaves_none(engine: Engine, routers: dict[str, int]) -> None:
    [job_id] = committed_jobs(engine, "r1")
    with engine.begin() as conn:
        jobs.claim(conn, job_id, "w")
        assert jobs.finish(conn, job_id, "failed")
    with session_scope(engine) as session:
        assert (fresh(session, job_id).result_json, fresh(session, job_id).error) == (None, None)


def test_a_job_is_finished_only_from_the_expected_status(engine: Engine, routers: dict[str, int]) -> None:
    [job_id] = committed_jobs(engine, "r1")
    with engine.begin() as conn:
        assert jobs.finish(conn, job_id, "succeeded") is False  # queued, not running
        assert jobs.finish(conn, job_id, "cancelled", expect="queued") is True
    assert job_table(engine)[job_id] == ("cancelled", None)


# -- get_job -------------------------------------------------------------------------------------------------


def test_a_job_outside_the_scope_is_not_found(session: Session) -> None:
    job = new_job(session, "r2")
    assert jobs.get_job(session, ADMIN, job.id) is job
    north = Scope(operator="nora", tenant_ids=frozenset({1}))
    with pytest.raises(NotFound) as missing:
        jobs.get_job(session, north, job.id)
    assert str(missing.value) == f"no job #{job.id}"


# -- cancel --------------------------------------------------------------------------------------------------


def test_a_queued_job_is_cancelled_at_once_and_its_task_revoked(session: Session) -> None:
    job = new_job(session)
    set_job(session, job, task_id="task-1")
    revoked: list[str] = []
    assert jobs.cancel(session, ADMIN, job, revoked.append) == "cancelled"
    job = fresh(session, job.id)
    assert (job.status, job.error) == ("cancelled", "cancelled before it started")
    assert job.finished_at is not None
    assert revoked == ["task-1"]
    assert events(session, job.id)[-1] == (EventKind.JOB_CANCELLED_BEFORE_START, None)
    assert messages(session, job.id)[-1] == "Job cancelled by tester before it started"


def test_a_job_not_yet_handed_to_the_queue_has_no_task_to_revoke(session: Session) -> None:
    job = new_job(session)
    revoked: list[str] = []
    assert jobs.cancel(session, ADMIN, job, revoked.append) == "cancelled"
    assert revoked == []


def test_cancelling_without_a_queue_at_hand_still_cancels(session: Session) -> None:
    job = new_job(session)
    set_job(session, job, task_id="task-1")
    assert jobs.cancel(session, ADMIN, job) == "cancelled"
    assert fresh(session, job.id).status == "cancelled"


def test_a_running_job_is_asked_to_stop(session: Session) -> None:
    job, other = new_job(session, "r1"), new_job(session, "r2")
    set_job(session, job, status="running")
    set_job(session, other, status="running")
    assert jobs.cancel(session, ADMIN, job) == "cancelling"
    assert (fresh(session, job.id).status, fresh(session, job.id).cancel_requested) == ("running", True)
    assert fresh(session, other.id).cancel_requested is False
    assert events(session, job.id)[-1] == (EventKind.JOB_CANCEL_REQUESTED, None)
    assert messages(session, job.id)[-1] == "Cancel requested by tester"


def test_a_finished_job_has_nothing_to_cancel(session: Session) -> None:
    job = new_job(session)
    set_job(session, job, status="failed")
    with pytest.raises(jobs.JobRefused) as refused:
        jobs.cancel(session, ADMIN, job)
    assert str(refused.value) == f"job #{job.id} is failed: nothing to cancel"


def test_a_viewer_may_not_cancel(session: Session) -> None:
    job = new_job(session)
    with pytest.raises(AccessDenied) as refused:
        jobs.cancel(session, VIEWER, job)
    assert str(refused.value) == "vic is a viewer and may not cancel jobs"
    assert fresh(session, job.id).status == "queued"


# -- retry ---------------------------------------------------------------------------------------------------


def retry(session: Session, job: ImportJob, scope: Scope = ADMIN) -> ImportJob:
    return jobs.retry(session, scope, job, time_limit=90, heartbeat_interval=INTERVAL)


@pytest.mark.parametrize("status", ["failed", "partial", "cancelled"])
def test_a_finished_unsuccessful_job_is_retried_with_the_given_limit(session: Session, status: str) -> None:
    job = new_job(session)
    set_job(session, job, status=status)
    again = fresh(session, retry(session, job).id)
    assert (again.status, again.retry_of_id, again.attempt, again.time_limit) == ("queued", job.id, 2, 90)


@pytest.mark.parametrize("status", ["queued", "running", "succeeded"])
def test_a_live_or_succeeded_job_is_not_retried(session: Session, status: str) -> None:
    job = new_job(session)
    set_job(session, job, status=status, heartbeat_at=utcnow())
    with pytest.raises(jobs.JobRefused) as refused:
        retry(session, job)
    assert str(refused.value) == (
        f"job #{job.id} is {status}: only failed, partial, stalled or cancelled jobs can be retried"
    )


def test_a_stalled_job_is_failed_first_so_its_router_is_free(session: Session) -> None:
    job = new_job(session)
    set_job(session, job, status="running", heartbeat_at=T0)
    again = retry(session, job)
    old = fresh(session, job.id)
    assert (old.status, old.error) == (
        "failed",
        "stalled: no heartbeat since 2026-01-02 03:04:05 UTC; retried",
    )
    assert old.finished_at is not None
    assert events(session, job.id)[-1] == (EventKind.JOB_FAILED, {"error": old.error})
    assert fresh(session, again.id).status == "queued"


def test_a_retry_meets_the_routers_running_job(session: Session) -> None:
    failed = new_job(session)
    set_job(session, failed, status="failed")
    running = new_job(session)
    set_job(session, running, status="running", heartbeat_at=utcnow())
    with pytest.raises(jobs.JobRefused) as refused:
        retry(session, failed)
    assert str(refused.value) == f"router r1 already has job #{running.id} (running)"


def test_a_viewer_may_not_retry(session: Session) -> None:
    job = new_job(session)
    set_job(session, job, status="failed")
    with pytest.raises(AccessDenied) as refused:
        retry(session, job, VIEWER)
    assert str(refused.value) == "vic is a viewer and may not retry jobs"


# -- stalled jobs and flush ----------------------------------------------------------------------------------


def test_stalled_jobs_are_the_silent_running_ones_in_scope(session: Session) -> None:
    silent, fresh_job = new_job(session, "r1"), new_job(session, "r2")
    set_job(session, silent, status="running", heartbeat_at=T0)
    set_job(session, fresh_job, status="running", heartbeat_at=utcnow())
    assert [j.id for j in jobs.stalled_jobs(session, ADMIN, INTERVAL)] == [silent.id]
    set_job(session, fresh_job, status="failed", heartbeat_at=T0)  # silent, but finished
    assert [j.id for j in jobs.stalled_jobs(session, ADMIN, INTERVAL)] == [silent.id]
    south = Scope(operator="sam", tenant_ids=frozenset({2}))
    assert jobs.stalled_jobs(session, south, INTERVAL) == []


def test_flushing_fails_every_stalled_job_saying_who_flushed(session: Session) -> None:
    first, second = new_job(session, "r1"), new_job(session, "r2")
    for job in (first, second):
        set_job(session, job, status="running", heartbeat_at=T0)
    assert sorted(jobs.flush_stuck(session, ADMIN, INTERVAL)) == sorted([first.id, second.id])
    for job in (first, second):
        flushed = fresh(session, job.id)
        assert flushed.status == "failed"
        assert flushed.error == "stalled: no heartbeat since 2026-01-02 03:04:05 UTC; flushed by tester"
    assert jobs.flush_stuck(session, ADMIN, INTERVAL) == []


def test_a_viewer_may_not_flush(session: Session) -> None:
    job = new_job(session)
    set_job(session, job, status="running", heartbeat_at=T0)
    with pytest.raises(AccessDenied) as refused:
        jobs.flush_stuck(session, VIEWER, INTERVAL)
    assert str(refused.value) == "vic is a viewer and may not flush jobs"


# -- events --------------------------------------------------------------------------------------------------


def test_an_event_stores_its_data_as_json_and_none_without(session: Session) -> None:
    job = new_job(session)
    jobs.add_event(session, job.id, job_events.event(EventKind.JOB_STARTED, title="IP pools"))
    read = job_events.event(EventKind.ROUTER_READ, {"pools": 3}, pools=3, addresses=9)
    jobs.add_event(session, job.id, read)
    assert events(session, job.id)[1:] == [
        (EventKind.JOB_STARTED, None),
        (EventKind.ROUTER_READ, {"pools": 3}),
    ]
    assert messages(session, job.id)[1:] == [words(EventKind.JOB_STARTED), "Read 3 pools (9 addresses)"]
    stored = session.scalars(select(JobEvent.data_json).where(JobEvent.job_id == job.id)).all()
    assert stored[1] is None
