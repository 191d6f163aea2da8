"""Snapshots of the main screens at 80x24 and 160x48, on pinned data (tests/tui/sample_data.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from textual.widgets import Input

from poolimport.core.config import Settings
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.addresses_screen import AddressesScreen
from poolimport.tui.components.job_detail import JobDetailScreen
from poolimport.tui.components.metrics_screen import FailingTable, Figures, MetricsScreen
from poolimport.tui.components.pools_screen import PoolsScreen
from poolimport.tui.components.router_form import RouterForm
from tests.tui.conftest import wait_until
from tests.tui.sample_data import at, seed

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


@pytest.fixture
def app(engine: Engine, tui_settings: Settings) -> PoolImportApp:
    seed(engine, tui_settings)
    return PoolImportApp(tui_settings)


async def settled(pilot: Any) -> None:
    """DataTable sizes its columns when idle: let that happen before the picture is taken."""
    for _ in range(3):
        await pilot.pause()
    await pilot.wait_for_scheduled_animations()


async def loaded(pilot: Any) -> None:
    """The main screen as it opens: routers, jobs, and the newest job's log, all read once."""
    app = pilot.app
    await wait_until(pilot, lambda: app.main_screen.routers_table.row_count == 3, what="routers")
    await wait_until(pilot, lambda: app.main_screen.jobs_table.row_count == 5, what="jobs")
    await wait_until(pilot, lambda: app.main_screen.log_pane.loaded, what="job #5 events")
    await settled(pilot)


async def main_screen(pilot: Any) -> None:
    """Routers and jobs as they open: the newest job (queued) selected, a stalled one standing out."""
    await loaded(pilot)


async def log_of_first_job(pilot: Any) -> None:
    await loaded(pilot)
    app = pilot.app
    app.main_screen.jobs_table.select_key("1")
    await wait_until(pilot, lambda: app.main_screen.log_pane.last_event_id == 9, what="job #1 events")
    app.main_screen.jobs_table.focus()
    await settled(pilot)


async def pools(pilot: Any) -> None:
    await loaded(pilot)
    await pilot.press("p")
    await wait_until(
        pilot, lambda: isinstance(pilot.app.screen, PoolsScreen) and pilot.app.screen.pools, what="pools"
    )
    await settled(pilot)


async def addresses(pilot: Any) -> None:
    await pools(pilot)
    screen = pilot.app.screen
    table = screen.query_one("#pools")
    table.select_key(next(key for key, pool in screen.pools.items() if pool["name"] == "pppoe"))
    table.focus()
    await pilot.press("enter")
    await wait_until(
        pilot,
        lambda: isinstance(pilot.app.screen, AddressesScreen) and pilot.app.screen.rows,
        what="addresses",
    )
    await pilot.press("u")
    await wait_until(pilot, lambda: pilot.app.screen.status == "used" and len(pilot.app.screen.rows) == 20)
    await settled(pilot)


async def form(pilot: Any) -> None:
    await loaded(pilot)
    await pilot.press("a")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, RouterForm), what="form")
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False  # a blinking cursor would make every picture different
    await settled(pilot)


async def help_screen(pilot: Any) -> None:
    await loaded(pilot)
    await pilot.press("question_mark")
    await settled(pilot)


async def job_detail(pilot: Any) -> None:
    """Job #1 in full: its two pools, its retry (#4), its log."""
    await loaded(pilot)
    table = pilot.app.main_screen.jobs_table
    table.select_key("1")
    table.focus()
    await pilot.press("enter")
    await wait_until(
        pilot,
        lambda: isinstance(pilot.app.screen, JobDetailScreen) and pilot.app.screen.log_pane.loaded,
        what="job #1 in full",
    )
    await settled(pilot)


async def metrics(pilot: Any) -> None:
    """`M` as of ten minutes after the sample's first job (the figures count back from now)."""
    await loaded(pilot)
    screen = MetricsScreen(clock=lambda: at(600))
    await pilot.app.push_screen(screen)
    await wait_until(pilot, lambda: screen.query_one(Figures).shown, what="the figures")
    await wait_until(pilot, lambda: screen.query_one(FailingTable).row_count == 1, what="failing routers")
    await settled(pilot)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    "screen",
    [main_screen, log_of_first_job, pools, addresses, form, help_screen, job_detail, metrics],
    ids=lambda f: f.__name__,
)
def test_screens(snap_compare: Any, app: PoolImportApp, size: tuple[int, int], screen: Any) -> None:
    assert snap_compare(app, terminal_size=size, run_before=screen)
