"""Every screen and modal with hostile router, pool, owner, tenant and error text: shown literally, no
escape byte reaches the terminal, and the app keeps running (tests/tui/hostile_data.py has the data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select
from textual.widgets import Input, Select, Static

from poolimport.core.config import Settings, load_settings
from poolimport.core.models import Router
from poolimport.sim import SimServer
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.addresses_screen import AddressesScreen
from poolimport.tui.components.filter_table import FilterTable
from poolimport.tui.components.help_screen import HelpScreen
from poolimport.tui.components.jobs_table import JobsTable
from poolimport.tui.components.log_pane import LogPane
from poolimport.tui.components.pools_screen import PoolsScreen
from poolimport.tui.components.router_form import RouterForm
from poolimport.tui.components.routers_table import RoutersTable
from tests.conftest import router_config
from tests.tui import hostile_data
from tests.tui.conftest import notices, wait_until
from tests.tui.hostile_data import (
    ESCAPES,
    POOL_OWNER,
    POOLS,
    QUEUED_ROUTER,
    REFUSED_ON_SAVE,
    ROUTERS,
    TENANTS,
    shown,
)

SIZE = (160, 48)
CONTROL_BYTES = ("\x1b", "\x07", "\x9b")
# What the filter box is given on every screen: markup that would raise, and markup that would style.
FILTERS = ("r[/x]", "[bold]")


@pytest.fixture
def app(engine: Engine, tui_settings: Settings) -> PoolImportApp:
    hostile_data.seed(engine, tui_settings)
    return PoolImportApp(tui_settings)


def screen_text(app: PoolImportApp) -> str:
    """The characters of the top screen as the terminal would get them."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_alive_and_clean(app: PoolImportApp) -> str:
    assert app.is_running, "the app ended"
    text = screen_text(app)
    for byte in CONTROL_BYTES:
        assert byte not in text, f"{byte!r} reached the screen"
    return text


def column_texts(table: FilterTable, column: str) -> set[str]:
    return {str(cell) for cell in table.get_column(column)}


async def main_loaded(pilot: Any, app: PoolImportApp) -> None:
    await wait_until(pilot, lambda: app.query_one(RoutersTable).row_count == len(ROUTERS), what="routers")
    await wait_until(pilot, lambda: app.query_one(JobsTable).row_count == len(ROUTERS), what="jobs")


async def select_router(pilot: Any, app: PoolImportApp, name: str) -> str:
    key = next(key for key, router in app.main_screen.routers.items() if router["name"] == name)
    table = app.query_one(RoutersTable)
    table.select_key(key)
    table.focus()
    await pilot.pause()
    assert table.selected_key == key
    return key


async def filter_with_hostile_text(pilot: Any, app: PoolImportApp) -> None:
    """`/` on the current screen, type each hostile filter, keep it: the subtitle shows it literally."""
    for text in FILTERS:
        await pilot.press("slash", *text, "enter")
        table = app.screen.focused
        assert isinstance(table, FilterTable)
        word = "search" if table.SEARCHES_DATABASE else "filter"
        assert f"{word}: {text}" in assert_alive_and_clean(app)
        await pilot.press("slash", "escape")
        assert app.is_running


async def test_main_screen_shows_routers_jobs_and_log_literally(app: PoolImportApp) -> None:
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await main_loaded(pilot, app)
        routers = app.query_one(RoutersTable)
        assert column_texts(routers, "name") == {shown(name) for name in ROUTERS}
        errors = column_texts(routers, "error")
        assert {shown(f"login as {name} failed: {ESCAPES}") for name in ROUTERS} <= errors
        assert set(TENANTS) == column_texts(routers, "tenant")
        jobs = app.query_one(JobsTable)
        assert column_texts(jobs, "router") == {shown(name) for name in ROUTERS}
        text = assert_alive_and_clean(app)
        for name in ("r[/x]", "[bold red]x", "Zürich-ñ-路由", "t[/x]", "[bold]tena", "007", "true"):
            assert name in text
        jobs.select_key(str(len(ROUTERS)))  # the newest job: the last router's failure
        log = app.query_one(LogPane)
        await wait_until(pilot, lambda: log.last_event_id >= 2 * len(ROUTERS), what="the job's events")
        last = ROUTERS[-1]
        log_text = log.plain_text()
        assert f"Pool {last}: added" in log_text
        assert shown(f"IP pools import job failed: {last} {ESCAPES}") in log_text
        assert_alive_and_clean(app)


async def test_main_screen_filter_takes_markup_literally(app: PoolImportApp) -> None:
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await main_loaded(pilot, app)
        app.query_one(RoutersTable).focus()
        await pilot.press("slash", *"r[/x]")
        assert column_texts(app.query_one(RoutersTable), "name") == {"r[/x]"}
        await pilot.press("enter")
        assert app.query_one(RoutersTable).border_subtitle is not None
        assert "filter: r[/x]" in assert_alive_and_clean(app)
        await pilot.press("slash", "escape")
        await filter_with_hostile_text(pilot, app)


@pytest.mark.parametrize("name", ROUTERS, ids=lambda value: ascii(value)[:24])
async def test_each_hostile_router_through_pools_form_test_and_filter(
    engine: Engine, app: PoolImportApp, name: str
) -> None:
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await main_loaded(pilot, app)
        await select_router(pilot, app, name)
        await pilot.press("p")
        pools = await wait_until(
            pilot, lambda: isinstance(app.screen, PoolsScreen) and app.screen, what="pools"
        )
        await wait_until(pilot, lambda: name != POOL_OWNER or pools.pools, what="pools loaded")
        assert f"Pools of {shown(name)}"[:100] in assert_alive_and_clean(app)
        await filter_with_hostile_text(pilot, app)
        await pilot.press("escape")
        key = await select_router(pilot, app, name)
        await pilot.press("e")
        form = await wait_until(pilot, lambda: isinstance(app.screen, RouterForm) and app.screen, what="form")
        assert form.query_one("#name", Input).value == shown(name), "the form opened another router"
        assert form.query_one("#username", Input).value == shown(f"api{name}")
        assert f"Edit router {shown(name)}"[:60] in assert_alive_and_clean(app)
        # Saved untouched: every router keeps its name, control characters too; one core now refuses is
        # refused in the form, and the stored one stays.
        await pilot.press("ctrl+s")
        if name in REFUSED_ON_SAVE:
            status = form.query_one("#form-status", Static)
            await wait_until(pilot, lambda: REFUSED_ON_SAVE[name] in str(status.render()), what="refusal")
            assert app.screen is form, "the form closed on a name core refuses"
            await pilot.press("escape")
        else:
            await wait_until(pilot, lambda: f"router {shown(name)} saved" in notices(app), what="saved")
        with engine.connect() as conn:
            assert conn.scalar(select(Router.name).where(Router.id == int(key))) == name
            assert set(conn.scalars(select(Router.name))) == set(ROUTERS)
        await select_router(pilot, app, name)
        await pilot.press("t")
        await wait_until(
            pilot, lambda: any(n.startswith(f"{shown(name)}: ") for n in notices(app)), what="test result"
        )
        assert_alive_and_clean(app)


@pytest.mark.parametrize("pool_name", POOLS, ids=lambda value: ascii(value)[:24])
async def test_each_hostile_pool_through_addresses_by_status(app: PoolImportApp, pool_name: str) -> None:
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await main_loaded(pilot, app)
        await select_router(pilot, app, POOL_OWNER)
        await pilot.press("p")
        pools = await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, PoolsScreen) and len(app.screen.pools) == len(POOLS) and app.screen
            ),
            what="pools",
        )
        table = pools.query_one(FilterTable)
        assert column_texts(table, "name") == {shown(pool) for pool in POOLS}
        assert {shown(f"comment {pool}") for pool in POOLS} <= column_texts(table, "comment")
        if pool_name in ("y[/oops]", "[bold red]x"):
            assert pool_name in assert_alive_and_clean(app)
        key = next(key for key, pool in pools.pools.items() if pool["name"] == pool_name)
        table.select_key(key)
        table.focus()
        await pilot.press("enter")
        addresses = await wait_until(
            pilot, lambda: isinstance(app.screen, AddressesScreen) and app.screen, what="addresses"
        )
        for status_key, status, count in (
            ("a", "all", 3),
            ("f", "free", 1),
            ("u", "used", 1),
            ("s", "stale", 1),
        ):
            await pilot.press(status_key)
            await wait_until(
                pilot,
                lambda status=status, count=count: (
                    (addresses.status or "all") == status and len(addresses.rows) == count
                ),
                what=f"{status} addresses",
            )
            await pilot.pause()
            title = f"{shown(pool_name)}: {status} addresses, {count} shown"
            assert title[:100] in assert_alive_and_clean(app)
        await pilot.press("a")
        await wait_until(pilot, lambda: len(addresses.rows) == 3, what="all addresses")
        shown_table = addresses.query_one(FilterTable)
        await wait_until(pilot, lambda: shown_table.row_count == 3, what="three rows")
        assert shown(f"owner {pool_name}") in column_texts(shown_table, "owner")
        assert shown(f"info {ESCAPES}") in column_texts(shown_table, "info")
        await filter_with_hostile_text(pilot, app)


async def test_add_form_lists_hostile_tenants_literally(app: PoolImportApp) -> None:
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await main_loaded(pilot, app)
        await pilot.press("a")
        form = await wait_until(pilot, lambda: isinstance(app.screen, RouterForm) and app.screen, what="form")
        tenant = form.query_one("#tenant", Select)
        tenant.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: tenant.expanded, what="tenant list open")
        text = assert_alive_and_clean(app)
        for name in TENANTS:
            assert name in text
        await pilot.press("down", "enter")
        await pilot.pause()
        assert tenant.value in TENANTS
        assert str(tenant.value) in assert_alive_and_clean(app)
        await pilot.press("ctrl+s")  # name and host are empty: refused inside the form
        status = form.query_one("#form-status", Static)
        assert "router name must not be empty" in str(status.render())
        assert_alive_and_clean(app)


async def test_help_and_refusal_notices_are_literal(app: PoolImportApp) -> None:
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await main_loaded(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "import the selected router; its new job is" in assert_alive_and_clean(app)
        await pilot.press("escape")
        await select_router(pilot, app, QUEUED_ROUTER)
        await pilot.press("i")
        refusal = f"router {QUEUED_ROUTER} already has job #2 (queued)"
        await wait_until(pilot, lambda: refusal in notices(app), what="refusal notice")
        await pilot.pause()
        assert refusal in assert_alive_and_clean(app)


async def test_router_identity_is_literal_in_the_notice_and_the_form(
    engine: Engine,
    tui_settings: Settings,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
) -> None:
    identity = f"id[/x] [bold red]{ESCAPES}"
    sim = sim_factory(router_config(identity=identity, version="7[/v] \x1b[2J"))
    add_router(sim, name="sim[/x]")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: app.query_one(RoutersTable).row_count == 1, what="router")
        await select_router(pilot, app, "sim[/x]")
        await pilot.press("t")
        expected = shown(f"sim[/x]: {identity}, RouterOS 7[/v] \x1b[2J")
        await wait_until(pilot, lambda: any(n.startswith(expected) for n in notices(app)), what="test notice")
        await pilot.pause()
        assert "sim[/x]: id[/x] [bold red]" in assert_alive_and_clean(app)
        await pilot.press("e")
        form = await wait_until(pilot, lambda: isinstance(app.screen, RouterForm) and app.screen, what="form")
        form.query_one("#password", Input).focus()
        await pilot.press(*"s3cret-pw", "ctrl+t")
        status = form.query_one("#form-status", Static)
        await wait_until(pilot, lambda: "connected" in str(status.render()), what="form test result")
        assert str(status.render()).startswith(shown(f"connected: {identity}, RouterOS 7[/v] \x1b[2J"))
        assert "connected: id[/x] [bold red]" in assert_alive_and_clean(app)


async def test_hostile_operator_name_in_the_header(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POOLIMPORT_OPERATOR", f"o[/x] {ESCAPES}")
    app = PoolImportApp(load_settings())
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "o[/x] t" in screen_text(app), what="the operator in the header")
        assert shown(f"o[/x] {ESCAPES} @ sqlite") in assert_alive_and_clean(app)
