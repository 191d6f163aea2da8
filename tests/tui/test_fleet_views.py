"""The fleet views: each router's schedule and data age, the queue's line and the no-consumer banner, and
the workers screen, all on data set through core."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update

from poolimport.core.config import Settings
from poolimport.core.consumers import check_in
from poolimport.core.db import session_scope
from poolimport.core.jobs.schedule import set_schedule
from poolimport.core.models import Consumer, ImportJob, Router, Schedule, utcnow
from poolimport.core.statuses import JobStatus
from poolimport.sim import SimServer
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.banner import Banner
from poolimport.tui.components.help_screen import HelpScreen
from poolimport.tui.components.main_screen import MainScreen
from poolimport.tui.components.queue_line import QueueLine
from poolimport.tui.components.workers_screen import WorkersScreen, WorkersTable
from tests.conftest import ADMIN
from tests.tui.conftest import wait_until

SIZE = (160, 48)
NARROW = (80, 24)


def schedule(engine: Engine, name: str, interval: float) -> None:
    with session_scope(engine) as session:
        router = session.scalars(select(Router).where(Router.name == name)).one()
        set_schedule(session, ADMIN, [router], interval)


def succeeded(engine: Engine, router_id: int, ago: float) -> None:
    finished = utcnow() - timedelta(seconds=ago)
    with engine.begin() as conn:
        tenant_id = conn.scalar(select(Router.tenant_id).where(Router.id == router_id))
        conn.execute(
            insert(ImportJob).values(
                router_id=router_id,
                tenant_id=tenant_id,
                requested_by="ops",
                status=JobStatus.SUCCEEDED,
                queued_at=finished,
                started_at=finished,
                finished_at=finished,
                time_limit=600,
            )
        )


def cell(app: PoolImportApp, router: str, column: str) -> Any:
    screen = app.main_screen
    key = next(key for key, row in screen.routers.items() if row["name"] == router)
    return screen.routers_table.get_cell(key, column)


def banner_text(app: PoolImportApp) -> str:
    return str(app.screen.query_one(Banner).render())


async def test_routers_show_schedule_next_run_and_data_age_at_80_columns(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    fresh = add_router(None, name="fresh", port=1)
    add_router(None, name="never", port=1)
    failing = add_router(None, name="failing", port=1)
    add_router(None, name="manual", port=1)
    for name in ("fresh", "never", "failing"):
        schedule(engine, name, 600)
    succeeded(engine, fresh, ago=30)
    with engine.begin() as conn:
        conn.execute(update(Schedule).values(set_at=utcnow() - timedelta(hours=1)))  # set long ago
        conn.execute(
            update(Schedule)
            .where(Schedule.router_id == failing)
            .values(failures=2, next_run_at=utcnow() + timedelta(seconds=250))
        )
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=NARROW) as pilot:
        await wait_until(pilot, lambda: app.main_screen.routers_table.row_count == 4, what="routers")
        assert str(cell(app, "fresh", "every")) == "10m"
        assert str(cell(app, "fresh", "next")).startswith("in ")
        assert not str(cell(app, "fresh", "age")).startswith("!")
        # Never imported: flagged by a sign, the style only adds to it (NO_COLOR keeps bold and reverse).
        never = cell(app, "never", "age")
        assert str(never) == "!never" and "reverse" in str(never.style)
        assert str(cell(app, "failing", "next")) == "in 4m x2"  # when, and how many failed in a row
        app.main_screen.routers_table.select_key(str(failing))
        await wait_until(
            pilot,
            lambda: "backing off: 2 failed in a row" in str(app.main_screen.routers_table.border_subtitle),
            what="the backoff said under the pane",
        )
        # Without a schedule: no interval to be overdue against, so never flagged.
        assert [str(cell(app, "manual", column)) for column in ("every", "next", "age")] == [
            "-",
            "-",
            "never",
        ]


async def test_a_router_without_a_schedule_shows_the_age_of_its_data(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    manual = add_router(None, name="manual", port=1)
    succeeded(engine, manual, ago=3 * 3600)  # older than any schedule would allow: still no `!`
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.main_screen.routers_table.row_count == 1, what="routers")
        assert str(cell(app, "manual", "every")) == "-"
        assert str(cell(app, "manual", "age")) == "3h"


async def test_no_consumer_banner_with_a_queued_job_goes_when_one_checks_in(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.main_screen.routers_table.row_count == 1, what="routers")
        assert "consumers" not in app.problems  # nothing waits: nothing to say
        await pilot.press("i")
        await wait_until(pilot, lambda: "consumers" in app.problems, what="the no-consumer banner")
        assert "poolimport worker" in banner_text(app)
        line = str(app.main_screen.query_one(QueueLine).render())
        assert "queued 1" in line and "consumers 0" in line
        check_in(engine, "probe:4242", "probe", 4242, 2, utcnow())
        await wait_until(pilot, lambda: "consumers" not in app.problems, what="the banner to go")
        assert not app.main_screen.query_one(Banner).display
        await wait_until(
            pilot,
            lambda: "consumers 1" in str(app.main_screen.query_one(QueueLine).render()),
            what="the queue line to count the consumer",
        )


async def test_w_lists_consumers_alive_and_gone_with_their_jobs(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    router_id = add_router(None, name="core", port=1)
    name = f"probe:{os.getpid()}"
    check_in(engine, name, "probe", os.getpid(), 4, utcnow())
    check_in(engine, "old:1", "old", 1, 1, utcnow())
    with engine.begin() as conn:
        long_ago = utcnow() - timedelta(hours=2)
        conn.execute(update(Consumer).where(Consumer.name == "old:1").values(seen_at=long_ago))
        tenant_id = conn.scalar(select(Router.tenant_id).where(Router.id == router_id))
        job_id = conn.execute(
            insert(ImportJob).values(
                router_id=router_id,
                tenant_id=tenant_id,
                requested_by="ops",
                status=JobStatus.RUNNING,
                queued_at=utcnow(),
                started_at=utcnow(),
                heartbeat_at=utcnow(),
                worker=name,
                time_limit=600,
            )
        ).inserted_primary_key[0]
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("W")
        await wait_until(pilot, lambda: isinstance(app.screen, WorkersScreen), what="workers screen")
        table = app.screen.query_one(WorkersTable)
        await wait_until(pilot, lambda: table.row_count == 2, what="two consumers")
        alive = [str(value) for value in table.get_row(name)]
        assert alive[1:3] == ["alive", "4"] and alive[5] == f"#{job_id}"
        gone = [str(value) for value in table.get_row("old:1")]
        assert gone[1] == "gone" and gone[5] == "-"
        await pilot.resize_terminal(*NARROW)
        await wait_until(
            pilot,
            lambda: (
                any(
                    f"#{job_id}" in strip.text and "alive" in strip.text
                    for strip in app.screen._compositor.render_strips()
                )
                and any("Running jobs" in strip.text for strip in app.screen._compositor.render_strips())
            ),
            what="the running jobs' column whole at 80 columns",
        )
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert any(key.binding.id == "workers" for key in app.screen.keys)
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, MainScreen)
