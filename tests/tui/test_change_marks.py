"""An idle console reads the change marks, not the fleet: the jobs list is read whole only when a job was
queued, a live one ended or someone changed something; a live job's progress is its own row read again;
the routers are read again when the marks move."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, update

from poolimport.core.access.audit import record
from poolimport.core.access.tenancy import Scope
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.models import ImportJob, utcnow
from poolimport.core.statuses import JobStatus
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.jobs_table import JobsTable
from poolimport.tui.components.routers_table import RoutersTable
from poolimport.tui.data import Data
from poolimport.tui.poll import PollRequest, PollResult, poll
from tests.tui.conftest import wait_until
from tests.tui.test_app import SIZE, add_job, job_ids, routers_loaded

ADMIN = Scope(operator="ops", tenant_ids=None, role="admin")


def move(engine: Engine, job_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))


def running_job(engine: Engine, router_id: int) -> int:
    job_id = add_job(engine, router_id, status=JobStatus.RUNNING)
    move(engine, job_id, started_at=utcnow(), heartbeat_at=utcnow(), pools_total=1, addresses_total=1000)
    return job_id


def again(data: Data, before: PollResult, live: tuple[int, ...]) -> PollResult:
    """The next poll of a screen that showed `before` whole."""
    request = PollRequest(jobs_limit=10, marks=before.marks, routers_marks=before.marks, live_shown=live)
    return poll(data, request)


def test_equal_marks_read_the_live_jobs_only_and_moved_marks_read_everything(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    router_id = add_router(None, name="core", port=1)
    done = add_job(engine, router_id)
    live = running_job(engine, router_id)
    data = Data(tui_settings)
    first = poll(data, PollRequest(jobs_limit=10))
    assert not first.settled and first.routers is not None
    assert [job["id"] for job in first.jobs] == [live, done]

    move(engine, live, addresses_done=500, heartbeat_at=utcnow())
    quiet = again(data, first, (live,))
    assert quiet.settled and quiet.routers is None
    assert [(job["id"], job["addresses_done"]) for job in quiet.jobs] == [(live, 500)]

    waiting = add_job(engine, add_router(None, name="edge", port=1), status=JobStatus.QUEUED)
    listed = poll(data, PollRequest(jobs_limit=10))
    move(engine, waiting, status=JobStatus.RUNNING, started_at=utcnow(), heartbeat_at=utcnow())
    started = again(data, listed, (live, waiting))
    assert not started.settled, "a job that started reads differently in a view of running or queued jobs"
    move(
        engine, waiting, heartbeat_at=utcnow() - timedelta(hours=1), started_at=utcnow() - timedelta(hours=1)
    )
    stalled = again(data, started, (live, waiting))
    assert not stalled.settled, "a job that stalled belongs to the failed view"
    move(engine, waiting, status=JobStatus.FAILED, finished_at=utcnow())

    move(engine, live, status=JobStatus.SUCCEEDED, finished_at=utcnow())
    ended = again(data, stalled, (live,))
    assert not ended.settled and ended.routers is not None, "a job that ended changes its router's row"
    assert [job["status"] for job in ended.jobs] == [
        JobStatus.FAILED,
        JobStatus.SUCCEEDED,
        JobStatus.SUCCEEDED,
    ]

    newer = add_job(engine, router_id)
    queued = again(data, ended, ())
    assert not queued.settled and [job["id"] for job in queued.jobs][0] == newer

    with session_scope(engine) as session:  # any change someone makes is audited: a router edited, say
        record(session, ADMIN, "router.edit", router_id=router_id, subject="core")
    edited = again(data, queued, ())
    assert not edited.settled and edited.routers is not None


@pytest.fixture
def full_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often the poll read the whole jobs list, the routers and the marks."""
    seen: Counter[str] = Counter()

    def counted(name: str, original: Callable[..., Any], whole: Callable[..., bool]) -> Callable[..., Any]:
        def counting(*args: Any, **kwargs: Any) -> Any:
            if whole(*args, **kwargs):
                seen[name] += 1
            return original(*args, **kwargs)

        return counting

    monkeypatch.setattr(Data, "jobs_in", counted("jobs", Data.jobs_in, lambda *a, **k: k.get("ids") is None))
    monkeypatch.setattr(Data, "routers_in", counted("routers", Data.routers_in, lambda *a, **k: True))
    monkeypatch.setattr(Data, "change_marks_in", counted("polls", Data.change_marks_in, lambda *a, **k: True))
    return seen


async def test_an_idle_console_reads_nothing_but_the_marks_and_a_live_job_its_row(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int], full_reads: Counter[str]
) -> None:
    router_id = add_router(None, name="core", port=1)
    add_job(engine, router_id)
    live = running_job(engine, router_id)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await wait_until(pilot, lambda: len(job_ids(app)) == 2, what="both jobs")
        jobs, routers, polls = full_reads["jobs"], full_reads["routers"], full_reads["polls"]
        await wait_until(pilot, lambda: full_reads["polls"] >= polls + 5, what="five more polls")
        assert (full_reads["jobs"], full_reads["routers"]) == (jobs, routers)

        move(engine, live, addresses_done=700, heartbeat_at=utcnow())
        table = app.query_one(JobsTable)
        await wait_until(
            pilot, lambda: "700/1,000" in str(table.get_cell(str(live), "addresses")), what="the progress"
        )
        assert full_reads["jobs"] == jobs, "progress is read from the live job's row alone"

        move(engine, live, status=JobStatus.FAILED, finished_at=utcnow(), error="boom")
        routers_table = app.query_one(RoutersTable)
        key = str(router_id)
        await wait_until(
            pilot,
            lambda: str(routers_table.get_cell(key, "last")) == JobStatus.FAILED,
            what="the router's last import, read again when its job ended",
        )
        assert full_reads["jobs"] > jobs
