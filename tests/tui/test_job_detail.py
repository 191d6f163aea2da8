"""Job detail: enter on a job shows it in full (status, whole error, pools, retries, log); escape goes back.

Also the read under it, core's job_detail: scoped to the asker's tenants like every other read.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, update

from poolimport.core.access.identity import os_account
from poolimport.core.access.tenancy import NotFound, Scope
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.jobs.queries import job_detail
from poolimport.core.models import ImportJob
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.job_detail import JobDetailScreen
from poolimport.tui.components.main_screen import MainScreen
from tests.tui.conftest import wait_until
from tests.tui.sample_data import seed

NORTH = Scope(operator="nora", tenant_ids=frozenset({1}), role="operator")  # northnet: routers 1 and 2
LONG_ERROR = "login to 10.9.0.9:8729 failed: " + " ".join(f"reason-{n}" for n in range(60)) + " END-OF-ERROR"


@pytest.fixture
def seeded(engine: Engine, tui_settings: Settings) -> Settings:
    seed(engine, tui_settings)
    with engine.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == 2).values(error=LONG_ERROR))
    return tui_settings


def shown(screen: JobDetailScreen) -> str:
    """Every line the detail renders, scrolled into view or not, joined by spaces."""
    text = screen.query_one("#detail-text")
    strips = text.render_lines(text.region.reset_offset)
    return " ".join("".join(segment.text for segment in strip).strip() for strip in strips)


async def open_detail(pilot: Any, job_id: int, jobs: int = 5) -> JobDetailScreen:
    app: PoolImportApp = pilot.app
    await wait_until(pilot, lambda: app.main_screen.jobs_table.row_count == jobs, what="jobs")
    table = app.main_screen.jobs_table
    table.select_key(str(job_id))
    table.focus()
    await pilot.press("enter")
    screen = await wait_until(
        pilot,
        lambda: isinstance(app.screen, JobDetailScreen) and app.screen.detail is not None and app.screen,
        what=f"the detail of job #{job_id}",
    )
    await wait_until(pilot, lambda: screen.log_pane.loaded, what="its log")
    await pilot.pause()
    return screen


async def test_enter_shows_the_whole_error_of_a_failed_job_and_escape_goes_back(seeded: Settings) -> None:
    app = PoolImportApp(seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_detail(pilot, 2)
        assert screen.job_id == 2
        text = shown(screen)
        assert "failed" in text and "branch-locked" in text
        assert text.split("error ", 1)[1].split(" kind ")[0].split() == LONG_ERROR.split()  # whole, wrapped
        assert "queue" in text and "ops" in text  # where it came from, who asked
        assert (
            "#2 attempt 1 failed, by ops" in text and "#5 attempt 2 queued" in text
        )  # the retry that followed
        assert "Reading IP pools failed" in screen.log_pane.plain_text()
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")


async def test_pool_lines_and_the_retry_chain_back_to_the_first_attempt(seeded: Settings) -> None:
    app = PoolImportApp(seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        text = shown(await open_detail(pilot, 4))
        assert "[bold red]static: added, 267 addresses, 267 added, 0 updated, 0 stale" in text
        assert "#1 attempt 1 succeeded, by ops, queued 11-28 09:00:00" in text
        assert "* #4 attempt 2 stalled, by ops, queued 11-28 09:03:20" in text  # the one shown
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
        text = shown(await open_detail(pilot, 3))
        assert "p2p-v6: failed: bad address '2001:db8::zz'" in text
        assert "sync" in text and "retries" not in text  # a first attempt never retried: no chain


def test_job_detail_refuses_another_tenants_job(engine: Engine, seeded: Settings) -> None:
    with session_scope(engine) as session:
        assert job_detail(session, NORTH, 1, seeded.heartbeat_interval)["job"]["router"] == "core-pppoe"
        with pytest.raises(NotFound, match="no job #2"):
            job_detail(session, NORTH, 2, seeded.heartbeat_interval)  # southwave's


async def test_a_job_queued_here_says_it_came_from_the_tui(seeded: Settings) -> None:
    app = PoolImportApp(seeded)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.main_screen.jobs_table.row_count == 5, what="jobs")
        table = app.main_screen.routers_table
        table.select_key(next(key for key, r in app.main_screen.routers.items() if r["name"] == "edge-v6"))
        table.focus()
        await pilot.press("i")
        await wait_until(pilot, lambda: app.main_screen.jobs_table.row_count == 6, what="the new job")
        said = shown(await open_detail(pilot, 6, jobs=6))
        # The test's account acts as ops (an administrator acting is named).
        assert f"asked by  ops via TUI, by administrator {os_account()} acting as ops, attempt 1" in said
