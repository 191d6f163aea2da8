"""`/` on the addresses screen and the jobs pane searches the database (not only the rows shown), the jobs
pane's status keys, and `o`/`O` sorting every table by a column."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from textual.content import Content

from poolimport.core.config import Settings
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.addresses_screen import PAGE, AddressesScreen, AddressesTable
from poolimport.tui.components.filter_table import FilterTable, sort_key
from poolimport.tui.components.help_screen import HelpScreen
from poolimport.tui.components.jobs_table import JobsTable
from poolimport.tui.components.pools_screen import PoolsScreen
from poolimport.tui.components.routers_table import RoutersTable
from tests.search_data import seed_jobs, seed_pool
from tests.tui.conftest import wait_until

SIZE = (160, 48)


def title(table: FilterTable) -> str:
    return Content.from_markup(table.border_title or "").plain


def headers(table: FilterTable) -> list[str]:
    return [column.label.plain for column in table.columns.values()]


def column(table: FilterTable, key: str) -> list[str]:
    return [str(table.get_cell(row, key)) for row in table.rows]


def test_text_with_digit_like_characters_sorts_instead_of_crashing() -> None:
    """A router or pool named by anyone with write access may hold "²" or "①": digits to str.isdigit,
    not to int()."""
    names = ["core-1²", "core-①", "core-10", "core-2", "x²³", "core-" + "9" * 5000, "core-３"]
    ordered = sorted(names, key=sort_key)
    assert ordered.index("core-1²") < ordered.index("core-2") < ordered.index("core-10")
    assert ordered.index("core-10") < ordered.index("core-" + "9" * 5000)  # more digits than int() takes


def test_cells_sort_by_value_numbers_as_numbers_and_empty_last() -> None:
    assert sort_key("12.5%") < sort_key("999") < sort_key("1,234")
    assert sorted(["10", "9", "1,000", "-", "", "100"], key=sort_key) == ["9", "10", "100", "1,000", "-", ""]
    assert sorted(["r10", "r2", "R1"], key=sort_key) == ["R1", "r2", "r10"]
    assert sort_key(3) < sort_key("apple") < sort_key(None)


@pytest.fixture
def big_pool(engine: Engine, add_router: Callable[..., int]) -> int:
    return seed_pool(engine, add_router(name="core-1"))  # a /16: 65,536 addresses


async def open_addresses(pilot: Any, app: PoolImportApp) -> AddressesScreen:
    await wait_until(pilot, lambda: app.query_one(RoutersTable).row_count == 1, what="the router")
    await pilot.press("p")
    pools = await wait_until(pilot, lambda: isinstance(app.screen, PoolsScreen) and app.screen, what="pools")
    await wait_until(pilot, lambda: len(pools.pools) == 1, what="the pool")
    pools.query_one("#pools").focus()
    await pilot.press("enter")
    screen = await wait_until(
        pilot, lambda: isinstance(app.screen, AddressesScreen) and app.screen, what="addresses"
    )
    await wait_until(pilot, lambda: len(screen.rows) == PAGE, what="the first page")
    return screen


async def test_slash_on_addresses_searches_the_whole_pool_with_the_status(
    engine: Engine, tui_settings: Settings, big_pool: int
) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_addresses(pilot, app)
        table = screen.query_one(AddressesTable)
        assert "Needle-Owner" not in {row["owner"] for row in screen.rows}
        await pilot.press("slash", *"nEEDLE")
        await wait_until(pilot, lambda: [r["owner"] for r in screen.rows] == ["Needle-Owner"], what="needle")
        assert column(table, "address") == ["10.20.234.97"]
        assert "all addresses, matching 'nEEDLE', 1 shown" in title(table)
        await pilot.press("enter")
        assert app.focused is table and "search: nEEDLE" in str(table.border_subtitle)
        await pilot.press("f")
        await wait_until(pilot, lambda: "free addresses, matching" in title(table), what="free")
        assert screen.rows == []
        await pilot.press("u")
        await wait_until(pilot, lambda: len(screen.rows) == 1, what="used and needle")
        # Wildcards are text: "100%_" is not "100" then anything.
        await pilot.press("slash", *["backspace"] * 6, *"100%_", "enter")
        await wait_until(pilot, lambda: [r["owner"] for r in screen.rows] == ["100%_off"], what="100%_off")
        await pilot.press("slash", "escape")
        await wait_until(
            pilot, lambda: len(screen.rows) == PAGE and screen.query_now.search == "", what="all"
        )
        assert isinstance(app.screen, AddressesScreen)


async def test_o_orders_the_addresses_in_the_database_and_m_pages_in_that_order(
    engine: Engine, tui_settings: Settings, big_pool: int
) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_addresses(pilot, app)
        table = screen.query_one(AddressesTable)
        await pilot.press("o", "o")  # status, then owner
        await wait_until(pilot, lambda: screen.query_now.order == "owner" and len(screen.rows) == PAGE)
        assert headers(table)[:3] == ["Address", "Status", "Owner ▲"]
        # The owners of the whole pool first, past the first page in address order.
        assert [row["owner"] for row in screen.rows[:3]] == ["100%_off", "100xyoff", "Needle-Owner"]
        await pilot.press("O")
        await wait_until(pilot, lambda: screen.query_now.descending and len(screen.rows) == PAGE)
        assert headers(table)[2] == "Owner ▼"
        assert screen.rows[0]["owner"] == "user9996"
        await pilot.press("m")
        await wait_until(pilot, lambda: len(screen.rows) == 2 * PAGE, what="the next page")
        owners = [row["owner"] for row in screen.rows]
        assert all(owners) and len(set(owners)) == 2 * PAGE  # no row twice: the same order paged on
        await pilot.press("o", "o")  # info, then the address order again
        await wait_until(pilot, lambda: screen.query_now.order == "address" and len(screen.rows) == PAGE)
        assert headers(table)[0] == "Address ▼"  # still reversed: the last address first
        assert screen.rows[0]["address"] == "10.20.255.255"


@pytest.fixture
def many_jobs(engine: Engine, add_router: Callable[..., int]) -> dict[str, list[int]]:
    for name in ("alpha", "beta", "gamma", "delta"):
        add_router(name=name)
    return seed_jobs(engine, filler=210)  # the newest 200 are alpha's: the others lie beyond them


def routers_of(app: PoolImportApp) -> list[str]:
    return column(app.query_one(JobsTable), "router")


async def test_slash_and_the_status_keys_search_every_job_not_only_the_newest_page(
    engine: Engine, tui_settings: Settings, many_jobs: dict[str, list[int]]
) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        jobs = app.query_one(JobsTable)
        await wait_until(pilot, lambda: jobs.row_count == 200, what="the newest 200 jobs")
        assert set(routers_of(app)) == {"alpha"}
        jobs.focus()
        await pilot.press("slash", *"timed out")
        await wait_until(pilot, lambda: routers_of(app) == ["beta"], what="beta's failed job")
        await pilot.press("enter", "1")
        await wait_until(pilot, lambda: title(jobs).startswith("Jobs (failed, newest 1"), what="failed view")
        assert routers_of(app) == ["beta"]
        await pilot.press("slash", "escape")  # the search goes, the failed view stays: stalled too
        await wait_until(pilot, lambda: jobs.row_count == 3, what="failed and stalled")
        assert column(jobs, "status") == ["stalled", "failed", "failed"]
        assert title(jobs) == "Jobs (failed, newest 3)"
        await pilot.press("2")
        await wait_until(pilot, lambda: routers_of(app) == ["gamma"], what="running")
        await pilot.press("3")
        await wait_until(pilot, lambda: routers_of(app) == ["delta"], what="queued")
        await pilot.press("slash", *"gam")  # queued and gamma: none
        await wait_until(pilot, lambda: jobs.row_count == 0 and "newest 0" in title(jobs), what="none")
        await pilot.press("escape", "0")
        await wait_until(pilot, lambda: jobs.row_count == 200, what="every job again")


async def test_o_sorts_the_jobs_read_by_number_and_the_title_says_so(
    engine: Engine, tui_settings: Settings, many_jobs: dict[str, list[int]]
) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        jobs = app.query_one(JobsTable)
        await wait_until(pilot, lambda: jobs.row_count == 200, what="the newest 200 jobs")
        jobs.focus()
        newest_first = [int(key) for key in column(jobs, "id")]
        await pilot.press("o")
        await wait_until(pilot, lambda: "by #" in title(jobs), what="sorted title")
        assert headers(jobs)[0] == "# ▲"
        assert [int(key) for key in column(jobs, "id")] == sorted(newest_first)  # 18 before 100
        assert title(jobs) == "Jobs (newest 200 by #, m: older)"
        await pilot.press("O")
        assert [int(key) for key in column(jobs, "id")] == newest_first
        assert headers(jobs)[0] == "# ▼"


async def test_o_sorts_a_local_table_and_cycles_back_to_the_order_read(
    engine: Engine, tui_settings: Settings, many_jobs: dict[str, list[int]]
) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        routers = app.query_one(RoutersTable)
        await wait_until(pilot, lambda: routers.row_count == 4, what="four routers")
        assert app.focused is routers
        read = column(routers, "name")
        await pilot.press("o", "O")
        assert column(routers, "name") == ["gamma", "delta", "beta", "alpha"]
        assert headers(routers)[0] == "Router ▼"
        for _ in routers.COLUMNS:
            await pilot.press("o")
        assert column(routers, "name") == read[::-1]  # as read, reversed
        assert all(not label.endswith(("▲", "▼")) for label in headers(routers))
        await pilot.press("question_mark")
        help_screen = await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen)
        shown = {key.binding.id: key.keys for key in help_screen.keys}
        assert shown["table.sort"] == "o" and shown["table.reverse"] == "O"
        assert [shown[f"jobs.{view}"] for view in ("all", "failed", "running", "queued")] == [
            "0",
            "1",
            "2",
            "3",
        ]
