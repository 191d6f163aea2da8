"""The schedule's rules, against a real database: what is due, what is skipped, backoff, the lease."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from poolimport.core.access.audit import audit_rows
from poolimport.core.access.tenancy import AccessDenied, Scope, find_router
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.errors import InvalidInput
from poolimport.core.jobs import schedule as sched
from poolimport.core.jobs.lifecycle import create_job
from poolimport.core.models import ImportJob, Schedule, utcnow
from poolimport.core.statuses import JobStatus
from tests.conftest import ADMIN

VIEWER = Scope(operator="vic", tenant_ids=None, role="viewer")


class Queue:
    """Takes jobs the way the real sender does (an id back), or refuses them like an unreachable queue."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.reachable = True

    def __call__(self, job_id: int) -> str:
        if not self.reachable:
            raise ConnectionError("queue unreachable")
        self.sent.append(job_id)
        return f"task-{job_id}"


@pytest.fixture
def routers(add_router: Callable[..., int]) -> dict[str, int]:
    return {name: add_router(name=name, port=1) for name in ("r1", "r2", "r3")}


@pytest.fixture
def session(engine: Engine, routers: dict[str, int]) -> Iterator[Session]:
    with session_scope(engine) as session:
        yield session


def schedule(engine: Engine, *names: str, interval: float = 60.0, scope: Scope = ADMIN) -> None:
    with session_scope(engine) as session:
        sched.set_schedule(session, scope, [find_router(session, ADMIN, n) for n in names], interval)


def make_due(engine: Engine, router_id: int, ago: float = 1.0) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(Schedule)
            .where(Schedule.router_id == router_id)
            .values(next_run_at=utcnow() - timedelta(seconds=ago))
        )


def stored(engine: Engine, router_id: int) -> Schedule:
    with session_scope(engine) as session:
        found = session.get(Schedule, router_id)
        assert found is not None
        return found


def jobs_of(engine: Engine, router_id: int) -> list[ImportJob]:
    with session_scope(engine) as session:
        return list(session.scalars(select(ImportJob).where(ImportJob.router_id == router_id)))


def test_intervals_under_ten_seconds_and_viewers_are_refused(engine: Engine, routers: dict[str, int]) -> None:
    with pytest.raises(InvalidInput, match="shortest interval is 10s"):
        schedule(engine, "r1", interval=5)
    with pytest.raises(AccessDenied):
        schedule(engine, "r1", scope=VIEWER)


def test_the_first_runs_are_spread_over_the_interval(engine: Engine, routers: dict[str, int]) -> None:
    before = utcnow()
    schedule(engine, "r1", "r2", "r3", interval=600)
    firsts = [stored(engine, router_id).next_run_at for router_id in routers.values()]
    assert all(before <= first <= before + timedelta(seconds=601) for first in firsts)
    assert len(set(firsts)) == 3  # not all in the same instant


def test_a_due_router_gets_one_scheduled_job_and_its_next_run_an_interval_on(
    engine: Engine, settings: Settings, routers: dict[str, int]
) -> None:
    schedule(engine, "r1", "r2", interval=60)
    make_due(engine, routers["r1"])
    queue = Queue()
    sent = sched.enqueue_due(engine, settings, queue)
    assert sent == queue.sent and len(sent) == 1
    (job,) = jobs_of(engine, routers["r1"])
    assert (job.source, job.requested_by, job.status, job.task_id) == (
        "schedule",
        "scheduler",
        "queued",
        f"task-{job.id}",
    )
    assert jobs_of(engine, routers["r2"]) == []  # not due
    after = stored(engine, routers["r1"]).next_run_at
    assert utcnow() + timedelta(seconds=55) < after < utcnow() + timedelta(seconds=67)  # interval + jitter
    assert sched.enqueue_due(engine, settings, queue) == []  # no longer due


def test_a_scheduled_job_is_not_audited_the_schedule_that_made_it_is(
    engine: Engine, settings: Settings, routers: dict[str, int]
) -> None:
    """The job's row names its source; an audit row per run would be millions a day on a fleet."""
    schedule(engine, "r1", interval=60)
    make_due(engine, routers["r1"])
    assert len(sched.enqueue_due(engine, settings, Queue())) == 1
    with session_scope(engine) as session:
        actions = [row["action"] for row in audit_rows(session, ADMIN)]
    assert actions.count("schedule.set") == 1 and not [a for a in actions if a.startswith("import")]


def test_a_router_with_a_live_job_is_skipped_to_its_next_interval(
    engine: Engine, settings: Settings, routers: dict[str, int]
) -> None:
    schedule(engine, "r1", interval=60)
    with session_scope(engine) as session:  # a manual import, still queued
        create_job(session, ADMIN, find_router(session, ADMIN, "r1"), time_limit=60, heartbeat_interval=5)
    make_due(engine, routers["r1"])
    assert sched.enqueue_due(engine, settings, Queue()) == []
    assert [job.source for job in jobs_of(engine, routers["r1"])] == ["queue"]
    assert stored(engine, routers["r1"]).next_run_at > utcnow() + timedelta(seconds=55)


def test_a_manual_import_leaves_the_schedule_alone(engine: Engine, routers: dict[str, int]) -> None:
    schedule(engine, "r1", interval=60)
    before = stored(engine, routers["r1"])
    with session_scope(engine) as session:
        create_job(session, ADMIN, find_router(session, ADMIN, "r1"), time_limit=60, heartbeat_interval=5)
    after = stored(engine, routers["r1"])
    assert (after.next_run_at, after.failures) == (before.next_run_at, before.failures)


def test_when_the_queue_is_away_the_job_is_gone_and_the_router_due_again_soon(
    engine: Engine, settings: Settings, routers: dict[str, int]
) -> None:
    schedule(engine, "r1", interval=3600)
    make_due(engine, routers["r1"])
    queue = Queue()
    queue.reachable = False
    assert sched.enqueue_due(engine, settings, queue) == []
    assert jobs_of(engine, routers["r1"]) == []
    assert stored(engine, routers["r1"]).next_run_at < utcnow() + timedelta(seconds=sched.RETRY_SOON + 1)


def test_failures_in_a_row_double_the_wait_up_to_the_cap_and_a_success_resets(
    engine: Engine, routers: dict[str, int]
) -> None:
    schedule(engine, "r1", interval=60)
    waits = []
    for _ in range(6):
        with engine.begin() as conn:
            said = sched.record_outcome(conn, routers["r1"], JobStatus.FAILED)
        assert said is not None and said.level == "warning"
        waits.append(said.data["wait"])
    assert waits == [120, 240, 480, 900, 900, 900]
    assert stored(engine, routers["r1"]).failures == 6
    assert stored(engine, routers["r1"]).next_run_at > utcnow() + timedelta(seconds=890)
    with engine.begin() as conn:
        assert sched.record_outcome(conn, routers["r1"], JobStatus.SUCCEEDED) is None
    assert stored(engine, routers["r1"]).failures == 0
    with engine.begin() as conn:
        assert sched.record_outcome(conn, routers["r1"], JobStatus.CANCELLED) is None
    assert stored(engine, routers["r1"]).failures == 0


def test_an_interval_longer_than_the_cap_never_backs_off_below_itself() -> None:
    assert sched.backoff_seconds(3600, 3) == 3600
    assert sched.backoff_seconds(10, 0) == 10


def test_one_holder_of_the_lease_at_a_time_until_it_expires(engine: Engine, routers: dict[str, int]) -> None:
    now = utcnow()
    assert sched.hold_lease(engine, "a", ttl=10, now=now)
    assert not sched.hold_lease(engine, "b", ttl=10, now=now + timedelta(seconds=1))
    assert sched.hold_lease(engine, "a", ttl=10, now=now + timedelta(seconds=6))  # renewed
    assert not sched.hold_lease(engine, "b", ttl=10, now=now + timedelta(seconds=12))  # renewal holds
    assert sched.hold_lease(engine, "b", ttl=10, now=now + timedelta(seconds=17))  # a's lapsed
    assert not sched.hold_lease(engine, "a", ttl=10, now=now + timedelta(seconds=18))


def test_schedule_changes_are_audited_and_off_removes(engine: Engine, routers: dict[str, int]) -> None:
    schedule(engine, "r1", interval=300)
    with session_scope(engine) as session:
        assert sched.schedule_off(session, ADMIN, [find_router(session, ADMIN, "r1")]) == 1
        assert session.get(Schedule, routers["r1"]) is None
        actions = [(row["action"], row["detail"]) for row in audit_rows(session, ADMIN)]
    assert ("schedule.set", "every 5m") in actions and ("schedule.off", None) in actions


def test_setting_the_same_interval_again_keeps_the_schedule_as_it_stands(
    engine: Engine, routers: dict[str, int]
) -> None:
    """`schedule set --tenant T 1h` again, to add a router, must not hide a failing router's back-off or
    its overdue flag; a new interval starts afresh."""
    schedule(engine, "r1", interval=60)
    long_ago = utcnow() - timedelta(hours=5)
    with engine.begin() as conn:
        conn.execute(update(Schedule).values(failures=3, set_at=long_ago))
    before = stored(engine, routers["r1"])
    schedule(engine, "r1", interval=60)
    again = stored(engine, routers["r1"])
    assert (again.failures, again.set_at, again.next_run_at) == (3, before.set_at, before.next_run_at)
    schedule(engine, "r1", interval=120)
    changed = stored(engine, routers["r1"])
    assert changed.failures == 0 and changed.set_at > long_ago


def test_a_router_not_imported_within_three_intervals_is_overdue(
    engine: Engine, routers: dict[str, int]
) -> None:
    schedule(engine, "r1", interval=60)
    with session_scope(engine) as session:
        (row,) = sched.schedule_rows(session, ADMIN)
        assert row.age(utcnow()) is None  # never imported, but only just scheduled: not yet overdue
        assert not row.overdue(utcnow()) and row.overdue(utcnow() + timedelta(seconds=181))
        job = create_job(
            session, ADMIN, find_router(session, ADMIN, "r1"), time_limit=60, heartbeat_interval=5
        )
        job.status, job.finished_at = JobStatus.SUCCEEDED, utcnow() - timedelta(seconds=100)
        session.get(Schedule, routers["r1"]).set_at = utcnow() - timedelta(hours=1)  # scheduled long ago
    with session_scope(engine) as session:
        (row,) = sched.schedule_rows(session, ADMIN)
        assert not row.overdue(utcnow())
        assert row.overdue(utcnow() + timedelta(seconds=100))
