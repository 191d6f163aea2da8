"""Marks on the jobs pane: space marks a job (a `*` before its number), `r` retries every marked job and
`x` dismisses them (or the selected job), each with one notice of what was done and what was refused."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from poolimport.core.access.identity import Identity
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.models import AuditEvent, ImportJob, Operator
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.jobs_table import JobsTable
from tests.integration.test_dismiss_and_retry_all import failed_ids, job
from tests.tui.conftest import notices, said, wait_until
from tests.tui.test_app import SIZE, job_ids, routers_loaded
from tests.tui.test_command_mode import command


async def mark(pilot: Any, app: PoolImportApp, *ids: int) -> None:
    table = app.query_one(JobsTable)
    table.focus()
    for job_id in ids:
        table.select_key(str(job_id))
        await pilot.press("space")


def id_cell(app: PoolImportApp, job_id: int) -> str:
    return str(app.query_one(JobsTable).get_cell(str(job_id), "id"))


def retry_of(engine: Engine) -> dict[int, int | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(ImportJob.id, ImportJob.retry_of_id).where(ImportJob.retry_of_id.isnot(None))
        )
        return {retried: new for new, retried in rows}


async def test_space_marks_and_r_retries_every_marked_job_in_one_notice(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    a, b, c = (add_router(name=name, port=1) for name in ("a", "b", "c"))
    failed_a, failed_b, done_c = (
        job(engine, a, "failed"),
        job(engine, b, "failed"),
        job(engine, c, "succeeded"),
    )
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 3)
        await wait_until(pilot, lambda: len(job_ids(app)) == 3, what="the jobs")
        await mark(pilot, app, failed_a, done_c, failed_b, done_c)  # the second space unmarks
        assert app.query_one(JobsTable).marked == {str(failed_a), str(failed_b)}
        assert id_cell(app, failed_a) == f"*{failed_a}" and id_cell(app, done_c) == str(done_c)

        await pilot.press("r")
        await wait_until(pilot, lambda: len(retry_of(engine)) == 2, what="two retries")

        new = retry_of(engine)
        await wait_until(pilot, lambda: notices(app), what="the notice")
        assert notices(app) == [f"queued #{new[failed_a]}, #{new[failed_b]}"]
        assert app.query_one(JobsTable).marked == set()
        await wait_until(pilot, lambda: id_cell(app, failed_a) == str(failed_a), what="the mark gone")


async def test_r_with_marks_says_what_was_queued_and_what_was_refused(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    a, c = add_router(name="a", port=1), add_router(name="c", port=1)
    failed_a, done_c = job(engine, a, "failed"), job(engine, c, "succeeded")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 2)
        await wait_until(pilot, lambda: len(job_ids(app)) == 2, what="the jobs")
        await mark(pilot, app, failed_a, done_c)
        await pilot.press("r")
        await wait_until(pilot, lambda: notices(app), what="the notice")
        new = retry_of(engine)[failed_a]
        refusal = (
            f"job #{done_c} is succeeded: only failed, partial, stalled or cancelled jobs can be retried"
        )
        assert notices(app) == [f"queued #{new}; refused: {refusal}"]


async def test_x_dismisses_the_marked_or_the_selected_job_and_failed_no_longer_shows_them(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    a, b, c = (add_router(name=name, port=1) for name in ("a", "b", "c"))
    first, second, third = job(engine, a, "failed"), job(engine, b, "failed"), job(engine, c, "failed")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 3)
        await command(pilot, "failed")
        await wait_until(pilot, lambda: job_ids(app) == [third, second, first], what="the failed jobs")
        await mark(pilot, app, first, second)

        await pilot.press("x")
        await wait_until(pilot, lambda: job_ids(app) == [third], what="the dismissed gone from :failed")
        await said(pilot, f"dismissed #{first}, #{second}")
        assert len(notices(app)) == 1
        assert failed_ids(engine) == [third]

        app.query_one(JobsTable).select_key(str(third))
        await pilot.press("x")  # no marks: the selected job
        await wait_until(pilot, lambda: job_ids(app) == [], what="the last failure dismissed")
        await command(pilot, "all")
        await wait_until(pilot, lambda: len(job_ids(app)) == 3, what="all three, still in the history")


async def test_a_viewer_is_refused_dismissing_and_the_refusal_is_audited(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    failed = job(engine, add_router(name="a", port=1), "failed")
    with session_scope(engine) as session:
        session.add(Operator(name="vic", tenant_id=None, role="viewer"))
    vic = dataclasses.replace(tui_settings, identity=Identity(tui_settings.identity.asker, "vic"))
    app = PoolImportApp(vic)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 1)
        await wait_until(pilot, lambda: job_ids(app) == [failed], what="the job")
        app.query_one(JobsTable).focus()
        await pilot.press("x")
        said = "vic is a viewer and may not dismiss jobs"
        await wait_until(pilot, lambda: said in notices(app), what="the refusal")
    assert failed_ids(engine) == [failed]
    with engine.connect() as conn:
        outcomes = (
            conn.execute(select(AuditEvent.outcome).where(AuditEvent.action == "dismiss")).scalars().all()
        )
    assert outcomes == ["refused"]
